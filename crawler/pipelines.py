"""Item pipelines, in order: validate → drop in-run duplicates → skip seen-unchanged → write to the inbox.

Each does one thing. A bad item is dropped with its URL and reason logged and
counted; no item can stop the crawl.
"""
from __future__ import annotations

import logging
from typing import Any
from zoneinfo import ZoneInfo

from scrapy.exceptions import DropItem

from index import clock
from index.schema import Post

from . import metrics
from .inbox import Inbox
from .items import RawPost
from .normalize import InvalidPost, to_post
from .state import SeenState, content_hash

logger = logging.getLogger(__name__)


def _drop(message: str) -> DropItem:
    # Our own log line already said why; Scrapy's "Dropped:" line is for debugging only.
    try:
        return DropItem(message, log_level="DEBUG")
    except TypeError:  # Scrapy < 2.13 has no per-item log level
        return DropItem(message)


class _CrawlerAware:
    """Shared wiring: the crawler's settings, stats and the source being crawled."""

    def __init__(self, crawler: Any):
        self.crawler = crawler
        self.settings = crawler.settings
        self.stats = crawler.stats

    @classmethod
    def from_crawler(cls, crawler: Any):
        return cls(crawler)

    def listing_marks(self, posts: list[Post]) -> list[tuple[str, str]]:
        """The list-row hashes (incremental crawls) of these posts' pages, taken off the spider."""
        marks = getattr(getattr(self.crawler, "spider", None), "listing_marks", None)
        if not marks:
            return []
        return [(p.url, marks.pop(p.url)) for p in posts if p.url and p.url in marks]

    @property
    def source_name(self) -> str:
        spider = getattr(self.crawler, "spider", None)
        return getattr(spider, "name", None) or self.settings.get("BOT_NAME", "crawl")


class ValidatePipeline(_CrawlerAware):
    """RawPost → Post (index.schema): cleaned text, stable id, aware published_at."""

    def __init__(self, crawler: Any):
        super().__init__(crawler)
        self.tz = ZoneInfo(self.settings.get("YUQING_TIMEZONE", "Asia/Shanghai"))

    def process_item(self, item: Any, spider: Any = None) -> Post:
        if isinstance(item, Post):
            return item
        if not isinstance(item, RawPost):
            raise _drop(f"unexpected item type {type(item).__name__}")
        try:
            return to_post(item, clock.now(self.tz), self.tz)
        except InvalidPost as exc:
            self.stats.inc_value(metrics.INVALID)
            metrics.record_error(self.stats, self.source_name, item.url, "invalid", str(exc))
            raise _drop(f"invalid post: {exc}") from None


class RunDedupePipeline(_CrawlerAware):
    """The same post reached twice in one crawl (two keywords, two list pages): keep the first."""

    def __init__(self, crawler: Any):
        super().__init__(crawler)
        self._seen: set[str] = set()

    def process_item(self, item: Post, spider: Any = None) -> Post:
        if item.id in self._seen:
            self.stats.inc_value(metrics.DUPLICATES)
            raise _drop(f"duplicate in this crawl: {item.id}")
        self._seen.add(item.id)
        return item


class SeenStatePipeline(_CrawlerAware):
    """Skip posts an earlier crawl delivered unchanged (crawler/state.py)."""

    state: SeenState | None = None

    def open_spider(self, spider: Any = None) -> None:
        self.state = SeenState(self.settings.get("YUQING_STATE_PATH"))

    def close_spider(self, spider: Any = None) -> None:
        if self.state is not None:
            self.state.close()

    def process_item(self, item: Post, spider: Any = None) -> Post:
        assert self.state is not None
        if self.state.is_unchanged(item.id, content_hash(item)):
            self.stats.inc_value(metrics.SKIPPED_SEEN)
            self.state.remember_rows(self.listing_marks([item]))
            raise _drop(f"seen unchanged: {item.id}")
        return item


class InboxWriterPipeline(_CrawlerAware):
    """Buffer posts and write them to the inbox in small batches.

    A batch is flushed every YUQING_INBOX_BATCH_SIZE posts and when the spider
    closes, so a crash loses at most one batch, and only then are its posts
    recorded as seen: a lost batch is re-crawled, never silently skipped.
    """

    inbox: Inbox | None = None
    state: SeenState | None = None

    def __init__(self, crawler: Any):
        super().__init__(crawler)
        self.batch_size = max(1, self.settings.getint("YUQING_INBOX_BATCH_SIZE", 50))
        self.buffer: list[Post] = []

    def open_spider(self, spider: Any = None) -> None:
        self.inbox = Inbox(self.settings.get("YUQING_INBOX_DIR"))
        self.state = SeenState(self.settings.get("YUQING_STATE_PATH"))

    def close_spider(self, spider: Any = None) -> None:
        try:
            self.flush()
        finally:
            if self.state is not None:
                self.state.close()

    def process_item(self, item: Post, spider: Any = None) -> Post:
        self.buffer.append(item)
        if len(self.buffer) >= self.batch_size:
            self.flush()
        return item

    def flush(self) -> None:
        if not self.buffer or self.inbox is None or self.state is None:
            return
        batch, self.buffer = self.buffer, []
        try:
            path = self.inbox.write(batch, source=self.source_name)
        except OSError as exc:
            # not recorded as seen, so the next crawl delivers these posts again
            metrics.record_error(self.stats, self.source_name, self.settings.get("YUQING_INBOX_DIR"), "inbox",
                                 f"could not write a batch of {len(batch)} posts: {exc}", level=logging.ERROR)
            return
        self.stats.inc_value(metrics.WRITTEN, len(batch))
        try:
            self.state.remember_posts(batch)
            self.state.remember_rows(self.listing_marks(batch))
        except Exception as exc:  # the posts are safe in the inbox; at worst they are re-sent next crawl
            logger.warning("could not record %d posts as seen: %s", len(batch), exc,
                           extra={"source": self.source_name, "reason": str(exc)})
        logger.info("%s: wrote %d posts to %s", self.source_name, len(batch), path.name if path else "-",
                    extra={"source": self.source_name, "posts": len(batch)})
