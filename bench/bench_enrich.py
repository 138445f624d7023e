"""Enrichment throughput with the default models: posts/s on Weibo-length posts and peak RSS.

Three figures, each a JSON line:

* `enrich`: the per-post stage (clean, segment, polarity, sentiment, topic, plus emotion
  and rumor when nlp/models/emotion and nlp/models/rumor exist, region, schemes, keywords), on the
  demo corpus's Weibo texts recycled to 5,000 posts (comparable with earlier runs);
* `enrich+link`: the full stage as the service runs it — the same analysis plus
  near-duplicate groups and event clustering (nlp.linking over an SQLite store) —
  on 5,000 real Weibo posts from ../shared/data spread over three days, in inbox
  batches of 256, with a tenth of them reposts of earlier posts;
* `enrich+link (stand-ins)`: only when nlp/models/emotion or nlp/models/rumor is missing and
  the shared data is present: the same run with small linear stand-ins trained
  here for the missing ones, so the figure covers every model the target names.

Peak RSS is the process maximum (ru_maxrss), so it covers all three runs. Issue 9's target for
the full stage: ≥ 800 posts/s on 2 CPU cores, peak RSS ≤ 1.5 GB.
"""
from __future__ import annotations

import csv
import json
import os
import random
import resource
import shutil
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path

from index.schema import DEFAULT_TZ, Post
from index.sqlite.store import SQLiteStore
from nlp.enrich import EMOTION_DIR, RUMOR_DIR, Enricher
from nlp.linking import StreamLinker
from yuqing.demo.site import load_corpus

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("YUQING_SHARED_DATA", REPO.parent / "shared" / "data"))
WHEN = datetime(2026, 11, 19, 12, tzinfo=DEFAULT_TZ)
N_POSTS, INBOX_BATCH = 5000, 256


def _demo_posts(n: int) -> list[Post]:
    texts = [r["content"] for r in load_corpus() if r["channel"] == "weibo"]
    return [Post(id=f"weibo:b{i}", platform="weibo", source="bench", content=texts[i % len(texts)] + f" #{i}",
                 published_at=WHEN) for i in range(n)]


def _weibo_texts(limit: int = 20_000) -> list[str]:
    path = SHARED / "weibo_emotion" / "smp2020_ewect_train.csv"
    if not path.exists():
        return []
    with path.open(encoding="utf-8") as fh:
        return [row["content"] for row, _ in zip(csv.DictReader(fh), range(limit)) if row["content"].strip()]


def _stream(n: int, texts: list[str]) -> list[Post]:
    """n posts over three days; every tenth reposts an earlier one with a prefix and an emoticon."""
    rng = random.Random(7)
    start = WHEN - timedelta(days=3)
    posts: list[Post] = []
    for i in range(n):
        when = start + timedelta(seconds=i * 3 * 86400 / n)
        if i % 10 == 9 and posts:
            source = rng.choice(posts[-500:])
            text = f"转发：{source.content[:140]}[doge]"
        else:
            text = texts[i % len(texts)]
        posts.append(Post(id=f"weibo:s{i}", platform="weibo", source="bench", content=text, published_at=when))
    return posts


def _rss_mb() -> int:
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)


def _optional_models(enricher: Enricher) -> list[str]:
    return [name for name, model in (("polarity", enricher.polarity), ("emotion", enricher.emotion),
                                     ("rumor", enricher.rumor)) if model is not None]


def bench_enrich(models: Path) -> Enricher:
    from nlp.schemes import SchemeMatcher
    from yuqing.config import load_settings     # the shipped monitoring schemes, as the service tags them
    schemes = SchemeMatcher(load_settings(REPO / "configs" / "app.yaml", base_dir=REPO).topics.schemes)
    enricher = Enricher.from_models_dir(models, home_region=["3604"], schemes=schemes)
    enricher.enrich(_demo_posts(50))      # load models and dictionaries outside the timing
    posts = _demo_posts(N_POSTS)
    chars = sum(len(p.text) for p in posts) / len(posts)
    started = time.perf_counter()
    enriched = enricher.enrich(posts)
    seconds = time.perf_counter() - started
    assert len(enriched) == len(posts)
    print(json.dumps({"bench": "enrich", "posts": len(posts), "mean_chars": round(chars),
                      "optional_models": _optional_models(enricher),
                      "posts_per_s": round(len(posts) / seconds), "peak_rss_mb": _rss_mb()}, ensure_ascii=False))
    return enricher


def bench_full(enricher: Enricher, posts: list[Post], label: str) -> None:
    workdir = Path(tempfile.mkdtemp(prefix="bench-enrich-"))
    try:
        store = SQLiteStore(workdir / "bench.db")
        store.open()
        linker = StreamLinker.for_enricher(store, enricher)
        linker.link(enricher.enrich(_demo_posts(20)))   # warm up, then forget
        linker.reset()
        started = time.perf_counter()
        duplicates = 0
        for start in range(0, len(posts), INBOX_BATCH):
            linked = linker.link(enricher.enrich(posts[start:start + INBOX_BATCH]))
            duplicates += linked.duplicates
        seconds = time.perf_counter() - started
        chars = sum(len(p.text) for p in posts) / len(posts)
        print(json.dumps({"bench": label, "posts": len(posts), "mean_chars": round(chars),
                          "optional_models": _optional_models(enricher), "duplicates": duplicates,
                          "events_in_memory": len(linker.events), "posts_per_s": round(len(posts) / seconds),
                          "peak_rss_mb": _rss_mb()}, ensure_ascii=False))
        store.close()
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def _with_stand_ins(enricher: Enricher, texts: list[str], workdir: Path) -> Enricher | None:
    """Linear emotion/rumor models trained on a slice of the shared data, for the missing defaults."""
    if enricher.emotion is not None and enricher.rumor is not None:
        return None
    from nlp.classify import FeatureConfig, TextClassifier
    features = FeatureConfig(keep_features=80_000)
    emotion, rumor = enricher.emotion, enricher.rumor
    if emotion is None:
        with (SHARED / "weibo_emotion" / "smp2020_ewect_train.csv").open(encoding="utf-8") as fh:
            rows = [r for r, _ in zip(csv.DictReader(fh), range(8000))]
        emotion = TextClassifier.train([r["content"] for r in rows], [r["label"] for r in rows], task="emotion",
                                       features=features, segmenter=enricher.segmenter)
        emotion.save(workdir / EMOTION_DIR)
    if rumor is None:
        with (SHARED / "weibo_rumor" / "ced_original_microblogs.tsv").open(encoding="utf-8") as fh:
            rows = list(csv.DictReader(fh, delimiter="\t"))
        rumor = TextClassifier.train([r["text"] for r in rows], ["谣言" if r["label_rumor"] == "1" else "非谣言"
                                                                 for r in rows], task="rumor", features=features,
                                     segmenter=enricher.segmenter)
        rumor.save(workdir / RUMOR_DIR)
    return Enricher(segmenter=enricher.segmenter, sentiment=enricher.sentiment, topic=enricher.topic,
                    polarity=enricher.polarity, emotion=emotion, rumor=rumor, regions=enricher.regions, keywords=enricher.keywords)


def main() -> None:
    models = REPO / "nlp" / "models"
    enricher = bench_enrich(models)
    texts = _weibo_texts()
    if not texts:
        print(f"(shared data not found at {SHARED}; the full-stage figure uses the demo texts)")
        texts = [p.content for p in _demo_posts(200)]
    posts = _stream(N_POSTS, texts)
    bench_full(enricher, posts, "enrich+link")
    if texts and (SHARED / "weibo_rumor").exists():
        workdir = Path(tempfile.mkdtemp(prefix="bench-standins-"))
        try:
            full = _with_stand_ins(enricher, texts, workdir)
            if full is not None:
                bench_full(full, posts, "enrich+link (stand-ins)")
        finally:
            shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
