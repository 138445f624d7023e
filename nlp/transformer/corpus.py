"""The unlabeled pretraining corpus: every Chinese text in ../shared/data, minus the dev splits.

Texts come from Weibo (SMP2020-EWECT, weibo2018, weibo_senti_100k, CED source posts and
their reposts/comments), citizen messages and official replies, news headlines and the
article pages (body text via trafilatura). Labels are never read. Texts that appear in
any task's dev split are left out, so pretraining never sees a dev text, and repeats are
dropped. The result is a gzip file with one text per line.
"""
from __future__ import annotations

import csv
import gzip
import json
import logging
import sys
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

from tqdm import tqdm

from .. import datasets
from ..errors import DataNotFoundError
from ..textnorm import normalize_text

logger = logging.getLogger(__name__)

MIN_CHARS = 4
MAX_CHARS = 2000   # very long pages are cut; their opening carries most of the language we see


def _csv_rows(path: Path, delimiter: str = ",") -> Iterator[dict[str, str]]:
    csv.field_size_limit(sys.maxsize)
    with path.open(encoding="utf-8-sig", newline="", errors="replace") as fh:
        yield from csv.DictReader(fh, delimiter=delimiter)


def _source_texts(data_dir: Path) -> Iterator[tuple[str, str]]:
    """(origin, text) for every unlabeled text; files that are absent are skipped with a warning."""
    def present(rel: str) -> Path | None:
        path = data_dir / rel
        if not path.exists():
            logger.warning("corpus source missing, skipped: %s", path)
            return None
        return path

    if path := present("weibo_emotion/smp2020_ewect_train.csv"):
        for row in _csv_rows(path):
            yield "smp2020_ewect", datasets.clean_weibo(row.get("content") or "")
    if path := present("weibo_sentiment/weibo2018_train.txt"):
        for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
            parts = line.split(",", 2)
            if len(parts) == 3:
                yield "weibo2018", datasets.clean_weibo(parts[2])
    for path in sorted((data_dir / "weibo_sentiment").glob("weibo_senti_100k_part_*.tsv")):
        for line in path.read_text(encoding="utf-8", errors="replace").splitlines()[1:]:
            yield "weibo_senti_100k", line.split("\t", 1)[-1]
    for name in ("titles.tsv", "details.tsv"):
        if path := present(f"gov_messages/{name}"):
            for line in path.read_text(encoding="utf-8", errors="replace").splitlines()[1:]:
                yield f"gov_{name.split('.')[0]}", datasets.clean_gov(line.split("\t", 1)[0])
    for name, columns in (("hot_messages_unlabeled.csv", ("留言主题", "留言详情")),
                          ("messages_with_replies.csv", ("留言主题", "留言详情", "答复意见"))):
        if path := present(f"gov_messages/{name}"):
            for row in _csv_rows(path):
                for column in columns:
                    yield f"gov_{name.split('.')[0]}", datasets.clean_gov(row.get(column) or "")
    if path := present("news_titles/thucnews_titles_dev.txt"):
        for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
            yield "thucnews", line.split("\t", 1)[0]
    if path := present("news_titles/tnews_dev.jsonl"):
        for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
            try:
                yield "tnews", json.loads(line).get("sentence", "")
            except (json.JSONDecodeError, AttributeError):
                continue
    if path := present("weibo_rumor/ced_original_microblogs.tsv"):
        for row in _csv_rows(path, "\t"):
            yield "ced", datasets.clean_weibo(row.get("text") or "")
    if path := present("weibo_propagation/ced_cascades.jsonl.gz"):
        with gzip.open(path, "rt", encoding="utf-8", errors="replace") as fh:
            for line in fh:
                try:
                    cascade = json.loads(line)
                except json.JSONDecodeError:
                    continue
                yield "ced_cascades", (cascade.get("original") or {}).get("text") or ""
                for repost in cascade.get("reposts") or []:
                    yield "ced_cascades", repost.get("text") or ""
    pages = sorted((data_dir / "news_pages" / "article_pages").glob("*.html"))
    if pages:
        yield from _article_texts(pages)


def _article_texts(pages: list[Path]) -> Iterator[tuple[str, str]]:
    try:
        import trafilatura
    except ImportError:
        logger.warning("trafilatura not installed: article pages left out of the corpus")
        return
    for page in pages:
        raw = page.read_bytes()
        for encoding in ("utf-8", "gb18030"):
            try:
                html = raw.decode(encoding)
                break
            except UnicodeDecodeError:
                continue
        else:
            continue
        text = trafilatura.extract(html) or ""
        for paragraph in text.splitlines():
            yield "news_pages", paragraph


def build_corpus(data_dir: str | Path, out_path: str | Path, *, excluded: set[str], seed: int = 42
                 ) -> dict[str, object]:
    """Write the deduplicated corpus (gzip, one text per line) and return its statistics.

    `excluded` holds the normalised texts to leave out: every task's dev split
    (nlp.train.dev_texts), so pretraining never sees what the classifiers are scored on.
    """
    data_dir = Path(data_dir)
    if not (data_dir / "README.md").exists() and not (data_dir / "weibo_emotion").exists():
        raise DataNotFoundError(f"{data_dir} does not look like the shared data folder; pass --data")
    seen: set[str] = set()
    by_origin: Counter[str] = Counter()
    dropped_dev = 0
    chars = 0
    out = Path(out_path)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.tmp")
    with gzip.open(tmp, "wt", encoding="utf-8", compresslevel=9) as fh:
        for origin, text in tqdm(_source_texts(data_dir), desc="corpus", unit="text", mininterval=2.0):
            text = " ".join((text or "").split())[:MAX_CHARS]
            if len(text) < MIN_CHARS:
                continue
            key = normalize_text(text)
            # dev texts went through the task loaders' cleaning; compare in every cleaned form
            variants = (key, normalize_text(datasets.clean_gov(text)), normalize_text(datasets.strip_emoticons(text)))
            if any(v in excluded for v in variants):
                dropped_dev += 1
                continue
            if key in seen:
                continue
            seen.add(key)
            by_origin[origin] += 1
            chars += len(text)
            fh.write(text + "\n")
    tmp.replace(out)
    stats = {"texts": len(seen), "characters": chars, "by_origin": dict(sorted(by_origin.items())),
             "dev_texts_left_out": dropped_dev, "split_seed": seed}
    logger.info("corpus written", extra={"out": str(out), **{k: v for k, v in stats.items() if k != "by_origin"}})
    return stats


def read_corpus(path: str | Path) -> list[str]:
    path = Path(path)
    if not path.exists():
        raise DataNotFoundError(f"corpus {path} not found; build it with `yuqing nlp build-corpus`")
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", encoding="utf-8") as fh:
        return [line.rstrip("\n") for line in fh if line.strip()]
