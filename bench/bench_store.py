"""SQLite store: ingest posts/s at 10k and 100k posts, and p50 latency of the warning queries.

Texts are real Weibo posts from ../shared/data when present (read in place, never
copied), else synthetic sentences. Posts arrive enriched (tokens filled), as the
service writes them; one extra run shows ingest when the store segments the text
itself. Prints figures only.
"""
from __future__ import annotations

import csv
import itertools
import json
import os
import random
import statistics
import tempfile
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path

from index.schema import DEFAULT_TZ, Engagement, Post, Region, Sentiment, Topic
from index.segment import get_segmenter
from index.sqlite.store import SQLiteStore
from index.store import PostQuery

SHARED = Path(os.environ.get("YUQING_SHARED_DATA", Path(__file__).resolve().parents[1] / ".." / "shared" / "data"))
END = datetime(2024, 6, 1, tzinfo=DEFAULT_TZ)
DAYS = 30
TOPICS = ["城乡建设", "环境保护", "交通运输", "教育文体", "卫生计生", "劳动和社会保障", "商贸旅游"]
SENTIMENTS = ["负面", "中性", "正面"]
REGIONS = [
    Region(province="江西省", province_code="36", city="九江市", city_code="3604", district=d, district_code=c)
    for d, c in (("濂溪区", "360402"), ("浔阳区", "360403"), ("柴桑区", "360404"), (None, None))
] + [Region(province="江西省", province_code="36", city="南昌市", city_code="3601")]
SYNTHETIC = ["濂溪区暴雨导致道路内涝，市民出行困难", "小区垃圾长期无人清理，气味难闻",
             "化工厂排放废气，附近居民担心污染", "地铁新线今日开通运营，市民点赞",
             "学校周边交通拥堵，家长呼吁增设红绿灯", "企业拖欠农民工工资，劳动部门介入"]


def load_texts(limit: int = 40_000) -> list[str]:
    path = SHARED / "weibo_emotion" / "smp2020_ewect_train.csv"
    if not path.exists():
        print(f"(shared data not found at {SHARED}; using synthetic texts)")
        return SYNTHETIC
    with path.open(encoding="utf-8") as f:
        return [row["content"] for row in itertools.islice(csv.DictReader(f), limit) if row.get("content")]


def make_posts(n: int, texts: list[str], tokenized: dict[str, list[str]], rng: random.Random) -> list[Post]:
    posts = []
    for i in range(n):
        text = texts[i % len(texts)]
        posts.append(Post(
            id=f"weibo:{i}", platform=rng.choice(["weibo", "news", "gov_board", "forum"]), source="bench",
            content=text, published_at=END - timedelta(seconds=rng.randrange(DAYS * 86400)),
            tokens=tokenized.get(text, []), keywords=rng.sample(tokenized.get(text, ["暴雨"]) or ["暴雨"], 1),
            sentiment=Sentiment(label=rng.choice(SENTIMENTS), score=0.8),
            topics=[Topic(label=rng.choice(TOPICS), score=0.7)], region=rng.choice(REGIONS),
            engagement=Engagement(likes=rng.randrange(1000)), enriched_at=END,
        ))
    return posts


def ingest(path: Path, posts: list[Post], batch: int = 500) -> float:
    with SQLiteStore(path) as store:
        started = time.perf_counter()
        for i in range(0, len(posts), batch):
            store.upsert_posts(posts[i:i + batch])
        return len(posts) / (time.perf_counter() - started)


def p50(call: Callable[[], object], runs: int = 7) -> float:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        call()
        times.append(time.perf_counter() - started)
    return statistics.median(times) * 1000


def main() -> None:
    rng = random.Random(7)
    texts = load_texts()
    segmenter = get_segmenter()
    started = time.perf_counter()
    tokenized = {t: [w for w in segmenter.index_tokens(t) if not w.isspace()] for t in texts}
    print(json.dumps({"bench": "store.prepare", "texts": len(texts),
                      "segment_s": round(time.perf_counter() - started, 1)}))
    with tempfile.TemporaryDirectory() as tmp:
        for n in (10_000, 100_000):
            posts = make_posts(n, texts, tokenized, rng)
            path = Path(tmp) / f"bench_{n}.db"
            rate = ingest(path, posts)
            print(json.dumps({"bench": "store.ingest", "posts": n, "tokens_given": True,
                              "posts_per_s": round(rate), "db_mb": round(path.stat().st_size / 2**20, 1)}))
        raw = [p.model_copy(update={"tokens": []}) for p in make_posts(10_000, texts, {}, rng)]
        rate = ingest(Path(tmp) / "bench_raw.db", raw)
        print(json.dumps({"bench": "store.ingest", "posts": len(raw), "tokens_given": False,
                          "posts_per_s": round(rate)}))

        with SQLiteStore(Path(tmp) / "bench_100000.db") as store:
            day = PostQuery(start=END - timedelta(days=1), end=END)
            week = PostQuery(start=END - timedelta(days=7), end=END)
            queries: dict[str, Callable[[], object]] = {
                "count_day_negative_in_city": lambda: store.count(
                    PostQuery(start=day.start, end=day.end, sentiments=("负面",), region_codes=("3604",))),
                "histogram_day_hourly_by_sentiment": lambda: store.histogram(day, "hour", group_by="sentiment"),
                "histogram_week_15m": lambda: store.histogram(week, "15m"),
                "histogram_month_daily_by_topic": lambda: store.histogram(PostQuery(), "day", group_by="topic"),
                "terms_day_region_code": lambda: store.terms(day, "region_code", size=20),
                "terms_day_tokens": lambda: store.terms(day, "tokens", size=30),
                "terms_week_keywords": lambda: store.terms(week, "keywords", size=30),
                "search_text_newest": lambda: store.search(PostQuery(text="工作"), size=20),
                "search_text_relevance_week": lambda: store.search(
                    PostQuery(text="心情", start=week.start), size=20, sort="relevance"),
            }
            for name, call in queries.items():
                print(json.dumps({"bench": f"store.{name}", "posts": 100_000, "p50_ms": round(p50(call), 1)}))


if __name__ == "__main__":
    main()
