"""Test support for the warning unit tests: an in-memory Store and synthetic posts.

MemoryStore is a small but complete implementation of index.store.Store (no
I/O), so rule logic can be tested without the SQLite backend; it records which
methods were called so tests can check that rules only aggregate.
"""
from __future__ import annotations

import itertools
from collections import Counter
from collections.abc import Iterable, Iterator
from datetime import datetime, timedelta

from index.schema import DEFAULT_TZ, Alert, Author, Engagement, Post, Region, Sentiment, Topic
from index.store import Bucket, PostQuery, SearchHit, SearchResult, Store, TimeBucket, UpsertReport

T0 = datetime(2026, 11, 15, 0, 0, tzinfo=DEFAULT_TZ)

LIANXI = Region(province="江西省", province_code="36", city="九江市", city_code="3604",
                district="濂溪区", district_code="360402", source="text")
XUNYANG = Region(province="江西省", province_code="36", city="九江市", city_code="3604",
                 district="浔阳区", district_code="360403", source="text")
NANCHANG = Region(province="江西省", province_code="36", city="南昌市", city_code="3601",
                  district="东湖区", district_code="360102", source="text")

_INTERVALS = {"hour": timedelta(hours=1), "day": timedelta(days=1), "15m": timedelta(minutes=15),
              "30m": timedelta(minutes=30), "6h": timedelta(hours=6), "week": timedelta(weeks=1)}


def _field_values(post: Post, field: str) -> list[str]:
    region = post.region
    single = {
        "platform": post.platform, "source": post.source, "sentiment": post.sentiment_label,
        "emotion": post.emotion.label if post.emotion else None, "topic": post.topic,
        "province": region.province if region else None, "city": region.city if region else None,
        "district": region.district if region else None, "region_code": region.code if region else None,
        "event_id": post.event_id, "dup_group": post.dup_group, "author": post.author.name,
    }
    if field in ("tokens", "keywords"):
        return list(dict.fromkeys(getattr(post, field)))
    value = single[field]
    return [value] if value else []


def _matches(post: Post, q: PostQuery) -> bool:
    if q.start and post.published_at < q.start:
        return False
    if q.end and post.published_at >= q.end:
        return False
    if q.text and not all(word.strip('"') in post.text for word in q.text.split()):
        return False
    checks = [(q.platforms, post.platform), (q.sources, post.source), (q.sentiments, post.sentiment_label),
              (q.topics, post.topic), (q.event_ids, post.event_id), (q.ids, post.id)]
    if any(allowed and value not in allowed for allowed, value in checks):
        return False
    if q.region_codes:
        codes = {post.region.province_code, post.region.city_code, post.region.district_code} if post.region else set()
        if not codes & set(q.region_codes):
            return False
    if q.enriched is not None and (post.enriched_at is not None) != q.enriched:
        return False
    return True


def _floor(dt: datetime, interval: str) -> datetime:
    local = dt.astimezone(DEFAULT_TZ)
    if interval == "week":
        day = local.replace(hour=0, minute=0, second=0, microsecond=0)
        return day - timedelta(days=day.weekday())
    if interval == "day":
        return local.replace(hour=0, minute=0, second=0, microsecond=0)
    step = int(_INTERVALS[interval].total_seconds() // 60)
    minutes = (local.hour * 60 + local.minute) // step * step
    return local.replace(hour=minutes // 60, minute=minutes % 60, second=0, microsecond=0)


class MemoryStore(Store):
    def __init__(self) -> None:
        self.posts: dict[str, Post] = {}
        self.alerts: dict[str, str] = {}   # id -> JSON, so callers never share objects with the "store"
        self.state: dict[str, str] = {}
        self.calls: Counter[str] = Counter()

    def open(self) -> None:
        pass

    def _select(self, query: PostQuery) -> list[Post]:
        return sorted((p for p in self.posts.values() if _matches(p, query)), key=lambda p: p.published_at)

    def upsert_posts(self, posts: Iterable[Post]) -> UpsertReport:
        report = UpsertReport()
        for post in posts:
            self.posts[post.id] = post
            report.written += 1
        return report

    def get_posts(self, ids: Iterable[str]) -> list[Post]:
        self.calls["get_posts"] += 1
        return [self.posts[i] for i in ids if i in self.posts]

    def iter_posts(self, query: PostQuery = PostQuery(), batch_size: int = 500) -> Iterator[Post]:
        self.calls["iter_posts"] += 1
        yield from self._select(query)

    def search(self, query: PostQuery, *, size: int = 20, offset: int = 0, sort: str = "newest") -> SearchResult:
        self.calls["search"] += 1
        posts = self._select(query)
        if sort == "newest":
            posts.reverse()
        elif sort == "engagement":
            posts.sort(key=lambda p: (p.engagement.total, p.published_at), reverse=True)
        return SearchResult(total=len(posts), hits=[SearchHit(p) for p in posts[offset: offset + size]])

    def count(self, query: PostQuery = PostQuery()) -> int:
        self.calls["count"] += 1
        return len(self._select(query))

    def histogram(self, query: PostQuery, interval: str, group_by: str | None = None) -> list[TimeBucket]:
        self.calls["histogram"] += 1
        posts = self._select(query)
        first = query.start or (posts[0].published_at if posts else None)
        last = query.end or (posts[-1].published_at + timedelta(seconds=1) if posts else None)
        if first is None:
            return []
        counts: dict[datetime, Counter[str]] = {}
        start = _floor(first, interval)
        while start < last:
            counts[start] = Counter()
            start += _INTERVALS[interval]   # Asia/Shanghai has no DST
        for post in posts:
            keys = _field_values(post, group_by) if group_by else ["_all"]
            for key in keys:   # like the real stores: posts without the field are not counted
                counts.setdefault(_floor(post.published_at, interval), Counter())[key] += 1
        return [TimeBucket(start, dict(c)) for start, c in sorted(counts.items())]

    def terms(self, query: PostQuery, field: str, size: int = 10) -> list[Bucket]:
        self.calls["terms"] += 1
        counter: Counter[str] = Counter()
        for post in self._select(query):
            counter.update(_field_values(post, field))
        return [Bucket(k, n) for k, n in sorted(counter.items(), key=lambda kv: (-kv[1], kv[0]))[:size]]

    def upsert_alert(self, alert: Alert) -> None:
        self.calls["upsert_alert"] += 1
        self.alerts[alert.id] = alert.model_dump_json()

    def get_alert(self, alert_id: str) -> Alert | None:
        raw = self.alerts.get(alert_id)
        return Alert.model_validate_json(raw) if raw else None

    def list_alerts(self, *, statuses: tuple[str, ...] = (), since: datetime | None = None,
                    agency: str | None = None, limit: int = 200) -> list[Alert]:
        alerts = [Alert.model_validate_json(raw) for raw in self.alerts.values()]
        alerts = [a for a in alerts if (not statuses or a.status in statuses)
                  and (since is None or a.last_seen >= since) and (agency is None or a.agency == agency)]
        return sorted(alerts, key=lambda a: a.last_seen, reverse=True)[:limit]

    # Events are not used by the warning rules yet.
    def upsert_events(self, events):
        raise NotImplementedError

    def get_events(self, ids):
        raise NotImplementedError

    def list_events(self, **kwargs):
        raise NotImplementedError

    def get_state(self, key: str) -> str | None:
        return self.state.get(key)

    def set_state(self, key: str, value: str) -> None:
        self.state[key] = value


# --- synthetic posts ---------------------------------------------------------
_ids = itertools.count()


def make_post(at: datetime, *, topic: str | None = "环境保护", sentiment: str = "中性", region: Region | None = LIANXI,
              platform: str = "weibo", text: str = "濂溪区某化工厂附近河道出现异味", engagement: int = 0,
              keywords: tuple[str, ...] = ("异味", "河道"), enriched: bool = True, url: str | None = None,
              **extra) -> Post:
    n = next(_ids)
    return Post(
        id=f"{platform}:t{n}", platform=platform, source="test_source", url=url or f"https://example.org/p/{n}",
        title=text[:20], content=text, published_at=at, author=Author(name=f"网友{n}"),
        engagement=Engagement(likes=engagement), tokens=list(keywords) + ["的"], keywords=list(keywords),
        sentiment=Sentiment(label=sentiment, score=0.9) if enriched else None,
        topics=[Topic(label=topic, score=0.9)] if topic and enriched else [],
        region=region if enriched else None, enriched_at=at if enriched else None, **extra,
    )


def spread(start: datetime, end: datetime, n: int, **kwargs) -> list[Post]:
    """n posts evenly spread over [start, end)."""
    if n == 0:
        return []
    step = (end - start) / n
    return [make_post(start + step * i, **kwargs) for i in range(n)]
