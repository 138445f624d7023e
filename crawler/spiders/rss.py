"""RSS 2.0 / Atom feeds: one request per feed, one post per entry (crawler/extract/feed.py)."""
from __future__ import annotations

from collections.abc import Iterator

import scrapy
from scrapy.http import Response

from ..extract.feed import FeedError, parse_feed
from ..items import RawPost
from .base import SourceSpider


def _is_url(value: str | None) -> bool:
    return bool(value) and value.startswith(("http://", "https://"))  # type: ignore[union-attr]


class RssSpider(SourceSpider):
    name = "rss"

    def start_requests(self) -> Iterator[scrapy.Request]:
        for url in self.start_urls:
            yield self.request(url, self.parse_feed, dont_filter=True,
                               headers={"Accept": "application/rss+xml, application/atom+xml, application/xml;q=0.9, */*;q=0.5"})

    def parse_feed(self, response: Response) -> Iterator[RawPost]:
        self.page_fetched()
        try:
            entries = parse_feed(response.body, response.url, self.now(), self.tz, self.source.encoding)
        except (FeedError, ValueError) as exc:
            self.parse_failed(response, "parse", exc)
            return
        for entry in entries:
            # A GUID that is a URL is hashed like one (normalized); an opaque GUID is the native id.
            native = entry.guid if entry.guid and not _is_url(entry.guid) else None
            url = entry.link or (entry.guid if _is_url(entry.guid) else None)
            extra = {"feed_content": entry.content_from}
            yield self.raw_post(url=url, native_id=native, title=entry.title, content=entry.content,
                                published_at=entry.published_at, author={"name": entry.author}, extra=extra)
