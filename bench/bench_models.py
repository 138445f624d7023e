"""Classifier throughput: linear defaults per task, transformer on CPU (fp32 vs int8) and on GPU.

Environment:
  BENCH_POSTS                 posts per measurement (default 3000)
  BENCH_TRANSFORMERS          comma-separated transformer model directories
                              (default: var/models/*-transformer and nlp/models/*-transformer that exist)
  BENCH_LINEAR=0              skip the linear models (e.g. on a GPU machine without jieba)
  BENCH_CPU=0                 skip CPU measurements of the transformers
Posts are the demo corpus's Weibo posts (Weibo length, ~50 characters), recycled.
"""
from __future__ import annotations

import json
import os
import resource
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
TASKS = ("sentiment", "emotion", "topic", "rumor")


def _texts(n: int) -> list[str]:
    from yuqing.demo.site import load_corpus
    texts = [r["content"] for r in load_corpus() if r["channel"] == "weibo"]
    return [texts[i % len(texts)] + f" #{i}" for i in range(n)]


def _rss_mb() -> int:
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)


def _emit(**fields) -> None:
    print(json.dumps({"bench": "models", **fields, "peak_rss_mb": _rss_mb()}, ensure_ascii=False), flush=True)


def _time(model, texts, words=None, batch: int = 256) -> float:
    model.probabilities(texts[:batch], words=None if words is None else words[:batch])   # warm-up
    started = time.perf_counter()
    for start in range(0, len(texts), batch):
        model.probabilities(texts[start:start + batch], words=None if words is None else words[start:start + batch])
    return len(texts) / (time.perf_counter() - started)


def bench_linear(texts: list[str]) -> None:
    from nlp.classify import load_classifier
    from nlp.segment import default_segmenter
    from nlp.train import _thread_limit
    segmenter = default_segmenter().warm_up()
    started = time.perf_counter()
    words = [segmenter.cut(t) for t in texts]
    seg_rate = len(texts) / (time.perf_counter() - started)
    _emit(model="jieba segmentation", posts_per_s=round(seg_rate))
    with _thread_limit(2):
        for task in TASKS:
            path = REPO / "nlp" / "models" / task
            if not (path / "config.json").exists():
                continue
            model = load_classifier(path, segmenter=segmenter)
            if getattr(model, "uses_words", False):
                _emit(model=f"{task} linear (words given)", posts_per_s=round(_time(model, texts, words)))
                _emit(model=f"{task} linear (segments itself)", posts_per_s=round(_time(model, texts)))
            else:
                _emit(model=f"{task} default ({type(model).__name__})", posts_per_s=round(_time(model, texts)))


def _transformer_dirs() -> list[Path]:
    given = os.environ.get("BENCH_TRANSFORMERS")
    if given:
        return [Path(p) for p in given.split(",") if p]
    found = []
    for task in TASKS:
        for root in (REPO / "var" / "models", REPO / "nlp" / "models"):
            if (root / f"{task}-transformer" / "config.json").exists():
                found.append(root / f"{task}-transformer")
                break
    return found


def bench_transformers(texts: list[str]) -> None:
    try:
        import torch
    except ImportError:
        _emit(model="transformer", skipped="torch not installed (pip install -e '.[transformer]')")
        return
    from nlp.train import _thread_limit
    from nlp.transformer.model import TransformerClassifier
    dirs = _transformer_dirs()
    if not dirs:
        _emit(model="transformer", skipped="no transformer model directory found (set BENCH_TRANSFORMERS)")
    for path in dirs:
        if os.environ.get("BENCH_CPU", "1") != "0":
            with _thread_limit(2):
                for quantize in ("none", "int8"):
                    model = TransformerClassifier.load(path, device="cpu", quantize=quantize)
                    # best of three: a shared 2-core machine is noisy
                    rate = max(_time(model, texts[:500], batch=64) for _ in range(3))
                    _emit(model=f"{path.name} cpu {'int8' if quantize == 'int8' else 'fp32'}", threads=2,
                          posts_per_s=round(rate), load_avg=round(os.getloadavg()[0], 1))
        if torch.cuda.is_available():
            model = TransformerClassifier.load(path, device="cuda")
            for batch in (64, 256):
                _emit(model=f"{path.name} gpu fp32", batch=batch, device=torch.cuda.get_device_name(0),
                      posts_per_s=round(_time(model, texts, batch=batch)))
            try:
                model.model.half()
                _emit(model=f"{path.name} gpu fp16", batch=256, device=torch.cuda.get_device_name(0),
                      posts_per_s=round(_time(model, texts, batch=256)))
            except RuntimeError as exc:   # a kernel without fp16 support: report, keep going
                _emit(model=f"{path.name} gpu fp16", error=str(exc)[:200])


def main() -> None:
    texts = _texts(int(os.environ.get("BENCH_POSTS", "3000")))
    if os.environ.get("BENCH_LINEAR", "1") != "0":
        bench_linear(texts)
    bench_transformers(texts)


if __name__ == "__main__":
    main()
