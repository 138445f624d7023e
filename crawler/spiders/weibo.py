"""Weibo-style keyword search API (m.weibo.cn JSON): every keyword, page by page."""
from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote, urlsplit

import scrapy
from scrapy.http import Response
from w3lib.url import add_or_replace_parameters

from index.schema import post_id

from ..config import Source

from ..extract.weibo import WeiboFormatError, parse_search_page, refusal_kind
from .base import SourceSpider

logger = logging.getLogger(__name__)

_API_HEADERS = {"Accept": "application/json, text/plain, */*", "X-Requested-With": "XMLHttpRequest",
                "MWeibo-Pwa": "1"}


def search_url(template: str, keyword: str, page: int) -> str:
    """A start URL with {keyword}/{page} placeholders is filled in; otherwise q= and page=
    are set as query parameters (the demo API's and many clones' convention)."""
    if "{keyword}" in template or "{page}" in template:
        return template.replace("{keyword}", quote(keyword)).replace("{page}", str(page))
    return add_or_replace_parameters(template, {"q": keyword, "page": str(page)})


class WeiboApiSpider(SourceSpider):
    name = "weibo_api"

    @classmethod
    def check_source(cls, source: Source) -> list[str]:
        return [] if source.keywords else [f"source {source.name!r} (weibo_api) needs `keywords` to search for"]

    def start_requests(self) -> Iterator[scrapy.Request]:
        for template in self.start_urls:
            for keyword in self.source.keywords:
                yield self._search(template, keyword, 1)

    def _search(self, template: str, keyword: str, page: int) -> scrapy.Request:
        return self.request(search_url(template, keyword, page), self.parse_search, headers=_API_HEADERS,
                            cb_kwargs={"template": template, "keyword": keyword, "page": page})

    def parse_search(self, response: Response, template: str, keyword: str, page: int) -> Iterator[Any]:
        self.page_fetched()
        text = response.text if hasattr(response, "text") else response.body.decode("utf-8", "replace")
        # A login wall or a captcha comes back as a redirect to the login site or as an HTML page, not
        # as an empty result: it is reported (source health: blocked), never taken for "nothing new".
        walled = "login_wall" if "passport" in response.url or "login" in response.url else None
        try:
            data = json.loads(text)
            result = parse_search_page(data, self.now(), self.tz)
        except (ValueError, WeiboFormatError) as exc:   # JSONDecodeError is a ValueError
            kind = walled or refusal_kind(text[:2000])
            if kind:
                self.parse_failed(response, kind, f"the site answered with a {kind.replace('_', ' ')} page")
            else:
                self.parse_failed(response, "parse", f"not a weibo search page: {exc}")
            return
        if not result.ok:
            kind = walled or refusal_kind(result.message)
            if kind:
                self.parse_failed(response, kind, f"refused ({kind}): {result.message[:200]}")
            else:
                logger.debug("%s: %r ends at page %d (%s)", self.name, keyword, page, result.message)
            return
        origin = "{0.scheme}://{0.netloc}".format(urlsplit(response.url))
        for post in result.posts:
            yield self.raw_post(url=f"{origin}/detail/{post.id}", native_id=post.id, content=post.text,
                                published_at=post.created_at or post.created_raw, author=post.user,
                                engagement={"reposts": post.reposts, "comments": post.comments,
                                            "likes": post.likes},
                                extra=post.extra, parent_native_id=post.parent_id,
                                root_native_id=post.root_id)
        next_page = result.next_page if result.paging_known else page + 1
        if self.incremental and result.posts:
            ids = [post_id(self.platform, native_id=p.id) for p in result.posts]
            if len(self.seen_state.known_ids(ids)) == len(ids):
                self.skipped_known()
                return      # newest first: the later pages hold older posts, all delivered before
        if result.posts and next_page and next_page > page and page < self.source.max_pages:
            yield self._search(template, keyword, next_page)
