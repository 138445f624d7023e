"""Test support for the warning unit tests: a store that records its calls, and synthetic posts.

RecordingStore is the real SQLite backend (which passes the Store contract suite)
on a temporary file; it counts which reading methods were called so tests can
check that rules only aggregate.
"""
from __future__ import annotations

import functools
import itertools
import shutil
import tempfile
import weakref
from collections import Counter
from datetime import datetime
from pathlib import Path

from index.schema import DEFAULT_TZ, Author, Engagement, Post, Region, Sentiment, Topic
from index.sqlite.store import SQLiteStore

T0 = datetime(2026, 11, 15, 0, 0, tzinfo=DEFAULT_TZ)

LIANXI = Region(province="江西省", province_code="36", city="九江市", city_code="3604",
                district="濂溪区", district_code="360402", source="text")
XUNYANG = Region(province="江西省", province_code="36", city="九江市", city_code="3604",
                 district="浔阳区", district_code="360403", source="text")
NANCHANG = Region(province="江西省", province_code="36", city="南昌市", city_code="3601",
                  district="东湖区", district_code="360102", source="text")

class RecordingStore(SQLiteStore):
    """The real SQLite backend on a file of its own, counting calls of the reading methods."""

    def __init__(self) -> None:
        folder = tempfile.mkdtemp(prefix="yuqing-warning-test-")
        super().__init__(Path(folder) / "store.db")
        self.calls: Counter[str] = Counter()
        weakref.finalize(self, shutil.rmtree, folder, ignore_errors=True)

    def clear_state(self) -> None:
        """Forget every key/value pair, as if the process crashed before writing them."""
        with self._writing("clear state") as conn:
            conn.execute("DELETE FROM state")


def _counted(name: str):
    method = getattr(SQLiteStore, name)

    @functools.wraps(method)
    def counted(self: RecordingStore, *args, **kwargs):
        self.calls[name] += 1
        return method(self, *args, **kwargs)
    return counted


for _name in ("get_posts", "iter_posts", "search", "count", "histogram", "terms", "upsert_alert"):
    setattr(RecordingStore, _name, _counted(_name))


# --- synthetic posts ---------------------------------------------------------
_ids = itertools.count()


def make_post(at: datetime, *, topic: str | None = "环境保护", sentiment: str = "中性", region: Region | None = LIANXI,
              platform: str = "weibo", text: str = "濂溪区某化工厂附近河道出现异味", engagement: int = 0,
              keywords: tuple[str, ...] = ("异味", "河道"), enriched: bool = True, url: str | None = None,
              polarity: str | None = None, **extra) -> Post:
    """`polarity` (what the rules count) is `sentiment` unless given: most tests need the two to agree."""
    n = next(_ids)
    return Post(
        id=f"{platform}:t{n}", platform=platform, source="test_source", url=url or f"https://example.org/p/{n}",
        title=text[:20], content=text, published_at=at, author=Author(name=f"网友{n}"),
        engagement=Engagement(likes=engagement), tokens=list(keywords) + ["的"], keywords=list(keywords),
        sentiment=Sentiment(label=sentiment, score=0.9) if enriched else None,
        polarity=Sentiment(label=polarity or sentiment, score=0.9) if enriched else None,
        topics=[Topic(label=topic, score=0.9)] if topic and enriched else [],
        region=region if enriched else None, enriched_at=at if enriched else None, **extra,
    )


def spread(start: datetime, end: datetime, n: int, **kwargs) -> list[Post]:
    """n posts evenly spread over [start, end)."""
    if n == 0:
        return []
    step = (end - start) / n
    return [make_post(start + step * i, **kwargs) for i in range(n)]
