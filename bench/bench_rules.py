"""Warning rules: evaluation time per tick (every shipped rule + the engine) at 100k and 1M stored posts.

Posts are spread over 30 days on the SQLite store, with topics, regions, sentiments,
platforms, sources, authors (followers, verified) and events (one post in three
belongs to one of ~1 per 60 posts' events) — what the service stores after
enrichment. The rules are the shipped configs/rules.yaml (or BENCH_RULES=path). A
tick is WarningEngine.evaluate at a time inside the data (rules + describing
findings + alert state), no notifiers. Prints figures only.

    python -m bench rules            # 100k and 1M posts (1M takes ~10 minutes to build)
    BENCH_RULES_SIZES=100000 python -m bench rules
"""
from __future__ import annotations

import json
import os
import random
import resource
import statistics
import tempfile
import time
from datetime import timedelta
from pathlib import Path

from bench.bench_store import DAYS, END, REGIONS, SENTIMENTS, TOPICS, load_texts
from index.schema import Author, Engagement, Post, Sentiment, Topic
from index.segment import get_segmenter
from index.sqlite.store import SQLiteStore

ROOT = Path(__file__).resolve().parents[1]
PLATFORMS = ["weibo", "weibo", "weibo", "news", "gov_board", "forum", "rss"]
SOURCES = {"weibo": ["weibo_search", "weibo_hot"], "news": ["city_news", "jxnews"], "gov_board": ["wenzheng"],
           "forum": ["local_forum"], "rss": ["gov_rss"]}


def posts(n: int, texts: list[str], tokenized: dict[str, list[str]], rng: random.Random, start: int = 0):
    events = max(1, n // 60)
    for i in range(start, start + n):
        text = texts[i % len(texts)]
        platform = rng.choice(PLATFORMS)
        followers = int(rng.paretovariate(1.2) * 100)
        yield Post(
            id=f"{platform}:b{i}", platform=platform, source=rng.choice(SOURCES[platform]), content=text,
            published_at=END - timedelta(seconds=rng.randrange(DAYS * 86400)),
            author=Author(name=f"u{i % 50_000}", id=str(i % 50_000), followers=followers,
                          verified=followers > 100_000),
            tokens=tokenized.get(text, []), keywords=(tokenized.get(text) or ["暴雨"])[:3],
            sentiment=Sentiment(label=rng.choice(SENTIMENTS), score=0.8),
            topics=[Topic(label=rng.choice(TOPICS), score=0.7)], region=rng.choice(REGIONS),
            engagement=Engagement(likes=rng.randrange(1000), reposts=rng.randrange(50)),
            event_id=f"ev:b{rng.randrange(events)}" if rng.random() < 1 / 3 else None, enriched_at=END,
        )


def build(path: Path, n: int, texts, tokenized) -> float:
    rng = random.Random(11)
    started = time.perf_counter()
    with SQLiteStore(path) as store:
        batch: list[Post] = []
        for post in posts(n, texts, tokenized, rng):
            batch.append(post)
            if len(batch) == 2000:
                store.upsert_posts(batch)
                batch = []
        if batch:
            store.upsert_posts(batch)
    return time.perf_counter() - started


def main() -> None:
    from warning.engine import WarningEngine
    from warning.rules import build_rules
    from yuqing.config import load_settings

    settings = load_settings(ROOT / "configs" / "app.yaml")
    rules_file = settings.rules
    if os.environ.get("BENCH_RULES"):
        from index.configbase import load_model
        from yuqing.config import RulesFile
        rules_file = load_model(Path(os.environ["BENCH_RULES"]), RulesFile)
    rules = build_rules(rules_file)
    sizes = [int(s) for s in os.environ.get("BENCH_RULES_SIZES", "100000,1000000").split(",")]
    texts = load_texts()
    segmenter = get_segmenter()
    tokenized = {t: [w for w in segmenter.index_tokens(t) if not w.isspace()] for t in texts}
    with tempfile.TemporaryDirectory() as tmp:
        for n in sizes:
            path = Path(tmp) / f"rules_{n}.db"
            seconds = build(path, n, texts, tokenized)
            print(json.dumps({"bench": "rules.build", "posts": n, "seconds": round(seconds, 1),
                              "db_mb": round(path.stat().st_size / 2**20, 1)}), flush=True)
            with SQLiteStore(path) as store:
                ticks = [END - timedelta(hours=h) for h in (1, 5, 9, 13, 17)]
                for rule in rules:
                    times, findings = [], 0
                    for tick in ticks:
                        started = time.perf_counter()
                        findings += len(rule.evaluate(store, tick))
                        times.append(time.perf_counter() - started)
                    print(json.dumps({"bench": "rules.evaluate", "posts": n, "rule": rule.name,
                                      "type": rule.type_name, "p50_ms": round(statistics.median(times) * 1000, 1),
                                      "max_ms": round(max(times) * 1000, 1), "findings": findings}), flush=True)
                engine = WarningEngine(store, rules_file, settings.agencies, settings.topics, tz=settings.tz)
                times = []
                for tick in ticks:
                    started = time.perf_counter()
                    engine.evaluate(tick)
                    times.append(time.perf_counter() - started)
                print(json.dumps({"bench": "rules.tick", "posts": n, "rules": len(rules),
                                  "p50_ms": round(statistics.median(times) * 1000, 1),
                                  "max_ms": round(max(times) * 1000, 1),
                                  "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)}),
                      flush=True)


if __name__ == "__main__":
    main()
