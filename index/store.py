"""The Store protocols: what warnings, reports and the dashboard may ask of storage.

A backend implements `Store`, the sum of small parts: Lifecycle, PostIndex
(posts, search, aggregations), AlertStore, EventStore and StateStore. A consumer
names the part it needs (a detector takes a PostIndex), so a reader sees what it
touches. Both backends (embedded SQLite in index.sqlite, Elasticsearch in
index.elasticsearch) pass one contract test suite. Every question the warning
engine and the reports ask is an aggregation here, so Elasticsearch can answer
it without scanning hits.
"""
from __future__ import annotations

import abc
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal, Self

from .schema import Alert, Event, Post

# Keyword fields a query may filter or group on. Dotted names follow the Post schema.
KEYWORD_FIELDS = (
    "platform", "source", "sentiment", "polarity", "emotion", "topic",
    "province", "city", "district", "region_code", "event_id", "dup_group", "author",
    "root_id",
)
Interval = Literal["hour", "day", "15m", "30m", "6h", "week"]


@dataclass(frozen=True)
class PostQuery:
    """Filters shared by search, count and aggregations. Empty means no filter.

    Time ranges are half-open: start <= published_at < end.
    """
    text: str | None = None                 # search query (index.querylang, docs/search.md): words ANDed, OR, NOT,
                                            # -word, "phrase", (groups), field:value; bad syntax raises
                                            # querylang.QuerySyntaxError (a ValueError) from search/count/…
    any_terms: tuple[str, ...] = ()         # and at least one of these terms: a one-word term matches as a bare
                                            # word of `text` does, a longer one as a "quoted phrase"
    start: datetime | None = None
    end: datetime | None = None
    platforms: tuple[str, ...] = ()
    sources: tuple[str, ...] = ()
    sentiments: tuple[str, ...] = ()        # emotional tone (Post.sentiment): 负面/中性/正面
    polarities: tuple[str, ...] = ()        # 舆情倾向 (Post.polarity): 负面/中性/正面 — what warnings count
    topics: tuple[str, ...] = ()            # primary topic label
    region_codes: tuple[str, ...] = ()      # matches a post whose province, city or district code is listed
    event_ids: tuple[str, ...] = ()
    ids: tuple[str, ...] = ()
    root_ids: tuple[str, ...] = ()          # posts of these repost cascades (Post.root_id)
    schemes: tuple[str, ...] = ()           # posts tagged with any of these monitoring schemes (Post.schemes)
    min_followers: int | None = None        # authors with at least this many followers
    verified: bool | None = None            # True: verified authors only; False: unverified only
    enriched: bool | None = None            # None: both; False: not yet enriched


@dataclass
class SearchHit:
    post: Post
    score: float = 0.0
    highlight: str | None = None   # snippet with <em> marks around matched terms


@dataclass
class SearchResult:
    total: int
    hits: list[SearchHit] = field(default_factory=list)


@dataclass(frozen=True)
class Bucket:
    key: str
    count: int


@dataclass(frozen=True)
class TimeBucket:
    start: datetime
    counts: dict[str, int]        # group key -> count ("_all" when no group field)

    @property
    def total(self) -> int:
        return sum(self.counts.values())


@dataclass
class Overview:
    """What a dashboard shows of a period in one call (PostIndex.overview): the total, posts per
    polarity, the polarity histogram, and per breakdown field its top values with their negative
    counts."""
    total: int
    polarity: dict[str, int]
    histogram: list[TimeBucket]
    breakdowns: dict[str, list[Bucket]]
    negative: dict[str, dict[str, int]]


class StoreError(RuntimeError):
    """A storage operation failed; the message says which and why."""


class StoreUnavailable(StoreError):
    """The backend cannot be reached now; callers spool and retry later."""


@dataclass
class UpsertReport:
    written: int = 0
    errors: dict[str, str] = field(default_factory=dict)   # post id -> reason


class Lifecycle(abc.ABC):
    """Opening and closing a backend. Implementations are safe to reopen after a crash."""

    @abc.abstractmethod
    def open(self) -> None:
        """Create or migrate the schema. Idempotent."""

    def close(self) -> None:  # pragma: no cover - trivial default
        pass

    def __enter__(self) -> Self:
        self.open()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class PostIndex(abc.ABC):
    """Posts: writing, reading, full-text search and the aggregations warnings and reports ask."""

    @abc.abstractmethod
    def upsert_posts(self, posts: Iterable[Post]) -> UpsertReport:
        """Insert or replace posts by id. Writing the same post twice leaves one copy."""

    @abc.abstractmethod
    def get_posts(self, ids: Iterable[str]) -> list[Post]:
        """Posts with these ids, in the given order; missing ids are skipped."""

    @abc.abstractmethod
    def iter_posts(self, query: PostQuery = PostQuery(), batch_size: int = 500) -> Iterator[Post]:
        """Every matching post, oldest first. For batch jobs (enrichment, exports), not for UIs."""

    @abc.abstractmethod
    def search(self, query: PostQuery, *, size: int = 20, offset: int = 0,
               sort: Literal["relevance", "newest", "oldest", "engagement"] = "newest") -> SearchResult:
        """Full-text search over jieba-segmented text with filters and highlights."""

    @abc.abstractmethod
    def count(self, query: PostQuery = PostQuery()) -> int:
        ...

    @abc.abstractmethod
    def histogram(self, query: PostQuery, interval: Interval, group_by: str | None = None) -> list[TimeBucket]:
        """Counts per time bucket (× a keyword field). Buckets are aligned in the store's time zone
        (index.buckets; Asia/Shanghai unless configured) and empty buckets between start and end
        are included."""

    @abc.abstractmethod
    def terms(self, query: PostQuery, field: str, size: int = 10) -> list[Bucket]:
        """Top values of a keyword field (KEYWORD_FIELDS), 'tokens'/'keywords' (hot words) or
        'schemes' (posts per monitoring scheme; a post counts once for each scheme it matches)."""

    def overview(self, query: PostQuery, interval: Interval, breakdowns: dict[str, int],
                 negative: str = "负面") -> Overview:
        """The period's total, polarity counts, polarity histogram and, for each breakdown field
        (field → how many top values), its top values and their `negative` counts. This default
        asks count, terms and histogram; a backend may answer it in one pass (SQLite does)."""
        from dataclasses import replace
        negative_q = replace(query, polarities=(negative,))
        tops = {f: self.terms(query, f, size=n) for f, n in breakdowns.items()}
        return Overview(total=self.count(query),
                        polarity={b.key: b.count for b in self.terms(query, "polarity", size=10)},
                        histogram=self.histogram(query, interval, group_by="polarity"), breakdowns=tops,
                        negative={f: {b.key: b.count for b in self.terms(negative_q, f, size=n * 3)}
                                  for f, n in breakdowns.items()})


class AlertStore(abc.ABC):
    """Alerts, written back on every change so a restart neither repeats nor loses them."""

    @abc.abstractmethod
    def upsert_alert(self, alert: Alert) -> None:
        ...

    @abc.abstractmethod
    def get_alert(self, alert_id: str) -> Alert | None:
        ...

    @abc.abstractmethod
    def list_alerts(self, *, statuses: tuple[str, ...] = (), since: datetime | None = None,
                    agency: str | None = None, limit: int = 200) -> list[Alert]:
        """Newest first (by last_seen)."""


class EventStore(abc.ABC):
    """Events (事件) built by nlp event clustering."""

    @abc.abstractmethod
    def upsert_events(self, events: Iterable[Event]) -> None:
        """Insert or replace events by id."""

    @abc.abstractmethod
    def get_events(self, ids: Iterable[str]) -> list[Event]:
        """Events with these ids, in the given order; missing ids are skipped."""

    @abc.abstractmethod
    def list_events(self, *, active_since: datetime | None = None, topic: str | None = None,
                    min_posts: int = 1, limit: int = 100) -> list[Event]:
        """Events whose last post is at or after active_since, most recently active first."""


class StateStore(abc.ABC):
    """Key/value state: scheduler cursors, crawl checkpoints, alert episodes."""

    @abc.abstractmethod
    def get_state(self, key: str) -> str | None:
        ...

    @abc.abstractmethod
    def set_state(self, key: str, value: str) -> None:
        ...


class Store(Lifecycle, PostIndex, AlertStore, EventStore, StateStore):
    """A whole storage backend: every part above. What backends implement and the contract
    suite (tests/contract) checks; consumers may ask for just the part they use."""


__all__ = [
    "KEYWORD_FIELDS", "AlertStore", "Bucket", "EventStore", "Interval", "Lifecycle", "PostIndex", "PostQuery",
    "SearchHit", "SearchResult", "StateStore", "Store", "StoreError", "StoreUnavailable", "TimeBucket",
    "UpsertReport",
]
