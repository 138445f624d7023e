"""Enrichment throughput with the default models: posts/s on Weibo-length posts and peak RSS."""
from __future__ import annotations

import json
import resource
import time
from datetime import datetime
from pathlib import Path

from index.schema import DEFAULT_TZ, Post
from nlp.enrich import Enricher
from yuqing.demo.site import load_corpus

REPO = Path(__file__).resolve().parents[1]


def _posts(n: int) -> list[Post]:
    texts = [r["content"] for r in load_corpus() if r["channel"] == "weibo"]
    when = datetime(2026, 11, 19, 12, tzinfo=DEFAULT_TZ)
    return [Post(id=f"weibo:b{i}", platform="weibo", source="bench", content=texts[i % len(texts)] + f" #{i}",
                 published_at=when) for i in range(n)]


def main() -> None:
    enricher = Enricher.from_models_dir(REPO / "models", home_region=["3604"])
    enricher.enrich(_posts(50))      # load models and dictionaries outside the timing
    posts = _posts(5000)
    chars = sum(len(p.text) for p in posts) / len(posts)
    started = time.perf_counter()
    enriched = enricher.enrich(posts)
    seconds = time.perf_counter() - started
    assert len(enriched) == len(posts)
    print(json.dumps({"bench": "enrich", "posts": len(posts), "mean_chars": round(chars),
                      "posts_per_s": round(len(posts) / seconds), "peak_rss_mb":
                      round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)}))


if __name__ == "__main__":
    main()
