"""RSS 2.0 / Atom feeds: one request per feed, one post per entry (crawler/extract/feed.py)."""
from __future__ import annotations

import dataclasses
from collections.abc import Iterator

import scrapy
from scrapy.http import Response

from ..extract.feed import FeedError, parse_feed
from ..items import RawPost
from .base import SourceSpider


# A feed entry with only a description shorter than this is followed to its article page.
FOLLOW_BELOW = 200


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
            post = self.raw_post(url=url, native_id=native, title=entry.title, content=entry.content,
                                 published_at=entry.published_at, author={"name": entry.author}, extra=extra)
            if entry.content_from != "content" and len(entry.content) < FOLLOW_BELOW and _is_url(url):
                # A summary-only feed: the article page has the text. Should it fail, the summary stays.
                yield scrapy.Request(url, callback=self.parse_article, errback=self.article_failed,
                                     cb_kwargs={"post": post})
            else:
                yield post

    def parse_article(self, response: Response, post: RawPost) -> Iterator[RawPost]:
        from ..extract.article import ArticleExtractor, ExtractionError
        self.page_fetched()
        html = self.text_of(response)
        if html is not None:
            try:
                page = ArticleExtractor(self.source.detail, self.tz).extract(html, response.url, self.now())
            except (ExtractionError, ValueError) as exc:
                self.parse_failed(response, "parse", exc)
            else:
                if len(page.content) > len(post.content):
                    post = dataclasses.replace(
                        post, content=page.content, published_at=post.published_at or page.published_at,
                        author=post.author if (post.author or {}).get("name") else {"name": page.author},
                        extra={**post.extra, "feed_content": "article"})
        yield post

    def article_failed(self, failure) -> Iterator[RawPost]:
        self.on_error(failure)
        yield failure.request.cb_kwargs["post"]
