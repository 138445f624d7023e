"""Elasticsearch store: bulk ingest posts/s (10k, 100k; SQLite alongside), aggregation latency at 1M posts.

Runs against YUQING_ES_URL when set, else starts the single test node (tests.support.es_node: 512 MB
heap, one shard per monthly index, no replica), warmed up with 10k posts first. Posts are
built as bench_store builds them (real Weibo texts from ../shared/data when present, else
synthetic sentences, with tokens as enrichment leaves them) and written through the Store
interface, refreshes included.

The 1M-post corpus for the latency figures is written the same way, except that the jieba
cut of each (recycled) text is computed once; queries start once the load's background merges
have finished. Before every timed query the node's caches (request, query, fielddata/global
ordinals) are cleared, so each figure is a cold aggregation over warm files, not a cache hit.
Environment: YUQING_BENCH_ES_AGG_POSTS (default 1,000,000; 0 skips the latency part), YUQING_BENCH_ES_KEEP=1 keeps
the indices. Prints JSON lines; never asserts on time.
"""
from __future__ import annotations

import json
import os
import random
import secrets
import statistics
import tempfile
import time
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

from bench.bench_store import END, load_texts, make_posts
from index.elasticsearch.client import ConnectionSettings
from index.elasticsearch.docs import PostDocuments
from tests.support.es_node import start_node
from index.elasticsearch.store import ElasticsearchStore
from index.schema import Post
from index.segment import get_segmenter
from index.sqlite.store import SQLiteStore
from index.store import PostQuery

INGEST_SIZES = (10_000, 100_000)
AGG_POSTS = int(os.environ.get("YUQING_BENCH_ES_AGG_POSTS", 1_000_000))
WARMUP_POSTS = 10_000
CALL_SIZE = 5_000           # posts per upsert_posts call (the enrichment job writes inbox batches)
RUNS = 9


class CachedDocuments(PostDocuments):
    """Segments each distinct text once: the 1M corpus recycles a few tens of thousands of texts."""

    def __init__(self, segmenter: Any):
        super().__init__(segmenter)
        self._cache: dict[tuple[str, str, tuple[str, ...]], str] = {}

    def segmented(self, post: Post) -> str:
        key = (post.title, post.content, tuple(post.tokens))
        if key not in self._cache:
            self._cache[key] = super().segmented(post)
        return self._cache[key]


def es_store(url: str, prefix: str, **kw: Any) -> ElasticsearchStore:
    return ElasticsearchStore(ConnectionSettings(hosts=(url,), request_timeout_s=120), index_prefix=prefix,
                              replicas=0, **kw)


def ingest(store: Any, posts: list[Post]) -> float:
    started = time.perf_counter()
    for i in range(0, len(posts), CALL_SIZE):
        report = store.upsert_posts(posts[i:i + CALL_SIZE])
        assert not report.errors, list(report.errors.items())[:3]
    return len(posts) / (time.perf_counter() - started)


def chunks(total: int, texts: list[str], tokenized: dict[str, list[str]], rng: random.Random,
           size: int = 20_000) -> Iterator[list[Post]]:
    for start in range(0, total, size):
        batch = make_posts(min(size, total - start), texts, tokenized, rng)
        yield [p.model_copy(update={"id": f"weibo:{start + i}"}) for i, p in enumerate(batch)]


def settle_merges(store: ElasticsearchStore, timeout_s: float = 300.0) -> None:
    """Wait until the background merges the bulk load started have finished (steady state)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        merges = store.client.indices.stats(index=store.names.posts_alias, metric="merge")
        if merges["_all"]["total"]["merges"]["current"] == 0:
            return
        time.sleep(2)


def p50(store: ElasticsearchStore, call: Callable[[], object], runs: int = RUNS) -> tuple[float, float]:
    call()                                          # warm the code paths once
    times = []
    for _ in range(runs):
        store.client.indices.clear_cache(index=store.names.posts_alias)
        started = time.perf_counter()
        call()
        times.append(time.perf_counter() - started)
    return statistics.median(times) * 1000, max(times) * 1000


def queries(store: ElasticsearchStore) -> dict[str, Callable[[], object]]:
    day = PostQuery(start=END - timedelta(days=1), end=END)
    week = PostQuery(start=END - timedelta(days=7), end=END)
    month = PostQuery(start=END - timedelta(days=30), end=END)
    return {
        "count_6h_vs_48h_baseline": lambda: (store.count(PostQuery(start=END - timedelta(hours=6), end=END)),
                                             store.count(PostQuery(start=END - timedelta(hours=54),
                                                                   end=END - timedelta(hours=6)))),
        "count_day_negative_in_city": lambda: store.count(
            PostQuery(start=day.start, end=day.end, sentiments=("负面",), region_codes=("3604",))),
        "histogram_month_hourly": lambda: store.histogram(month, "hour"),
        "histogram_month_daily_by_sentiment": lambda: store.histogram(month, "day", group_by="sentiment"),
        "histogram_month_daily_by_topic": lambda: store.histogram(month, "day", group_by="topic"),
        "histogram_week_hourly_by_sentiment": lambda: store.histogram(week, "hour", group_by="sentiment"),
        "histogram_week_15m": lambda: store.histogram(week, "15m"),
        "histogram_day_hourly_by_region_code": lambda: store.histogram(day, "hour", group_by="region_code"),
        "terms_month_platform": lambda: store.terms(month, "platform", size=10),
        "terms_day_region_code": lambda: store.terms(day, "region_code", size=20),
        "terms_day_tokens": lambda: store.terms(day, "tokens", size=30),
        "terms_week_keywords": lambda: store.terms(week, "keywords", size=30),
        "search_text_newest_highlight": lambda: store.search(PostQuery(text="工作"), size=20),
        "search_negative_week_engagement": lambda: store.search(
            PostQuery(start=week.start, end=week.end, sentiments=("负面",)), size=20, sort="engagement"),
    }


def main() -> None:
    rng = random.Random(7)
    texts = load_texts()
    segmenter = get_segmenter()
    tokenized = {t: [w for w in segmenter.index_tokens(t) if not w.isspace()] for t in texts}
    url = os.environ.get("YUQING_ES_URL")
    node = None
    if not url:
        node = start_node(name="yuqing-bench")
        url = node.url
    prefix = f"bench-{secrets.token_hex(3)}"
    keep = os.environ.get("YUQING_BENCH_ES_KEEP") == "1"
    try:
        # A fresh JVM indexes at half speed until its JIT has warmed up: measure steady state.
        warmup = es_store(url, f"{prefix}-warmup")
        ingest(warmup, make_posts(WARMUP_POSTS, texts, tokenized, rng))
        warmup.drop()
        warmup.close()
        with tempfile.TemporaryDirectory() as tmp:
            for n in INGEST_SIZES:
                posts = make_posts(n, texts, tokenized, rng)
                store = es_store(url, f"{prefix}-{n // 1000}k")
                store.open()
                rate = ingest(store, posts)
                print(json.dumps({"bench": "es.ingest", "posts": n, "posts_per_s": round(rate),
                                  "count": store.count()}), flush=True)
                if not keep:
                    store.drop()
                store.close()
                sqlite = SQLiteStore(Path(tmp) / f"bench_{n}.db")
                with sqlite:
                    rate = ingest(sqlite, posts)
                print(json.dumps({"bench": "sqlite.ingest", "posts": n, "posts_per_s": round(rate)}), flush=True)

        if AGG_POSTS <= 0:
            return
        store = es_store(url, f"{prefix}-agg", documents=CachedDocuments(segmenter))
        store.open()
        started = time.perf_counter()
        for batch in chunks(AGG_POSTS, texts, tokenized, rng):
            ingest(store, batch)
        seconds = time.perf_counter() - started
        store.client.indices.refresh(index=store.names.posts_alias)
        settle_merges(store)
        stats = store.client.indices.stats(index=store.names.posts_alias, metric="docs,store")["_all"]["primaries"]
        print(json.dumps({"bench": "es.ingest_corpus", "posts": store.count(), "seconds": round(seconds),
                          "posts_per_s": round(AGG_POSTS / seconds),
                          "store_mb": round(stats["store"]["size_in_bytes"] / 2**20)}), flush=True)
        for name, call in queries(store).items():
            median, worst = p50(store, call)
            print(json.dumps({"bench": f"es.{name}", "posts": AGG_POSTS, "p50_ms": round(median, 1),
                              "max_ms": round(worst, 1)}), flush=True)
        if not keep:
            store.drop()
        store.close()
    finally:
        if node is not None:
            node.cleanup()


if __name__ == "__main__":
    main()
