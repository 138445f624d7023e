"""The team's labelled set (docs/labeling.md): texts of ../shared/data addressed by `file#row`.

Labels live in nlp/labels/*.jsonl keyed by `<file>#<row>`, never with the shared text itself
(the shared data stays where it is). A row is the 0-based index of a data record as READERS
read it: header lines are not rows; a CSV record spanning lines is one row.
"""
from __future__ import annotations

import csv
import hashlib
import json
import random
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

csv.field_size_limit(sys.maxsize)


def _csv(path: Path, column: str | tuple[str, ...], delimiter: str = ",") -> Iterator[str]:
    with path.open(encoding="utf-8", newline="") as f:
        for record in csv.DictReader(f, delimiter=delimiter):
            cols = (column,) if isinstance(column, str) else column
            yield "\n".join((record.get(c) or "").strip() for c in cols).strip()


def _lines(path: Path, pick: Callable[[str], str]) -> Iterator[str]:
    with path.open(encoding="utf-8") as f:
        for line in f:
            yield pick(line.rstrip("\n"))


READERS: dict[str, Callable[[Path], Iterator[str]]] = {
    "weibo_emotion/smp2020_ewect_train.csv": lambda p: _csv(p, "content"),
    "weibo_sentiment/weibo2018_train.txt": lambda p: _lines(p, lambda l: l.split(",", 2)[-1]),
    "weibo_rumor/ced_original_microblogs.tsv": lambda p: _csv(p, "text", "\t"),
    "news_titles/thucnews_titles_dev.txt": lambda p: _lines(p, lambda l: l.rsplit("\t", 1)[0]),
    "news_titles/tnews_dev.jsonl": lambda p: _lines(p, lambda l: json.loads(l)["sentence"]),
    "gov_messages/titles.tsv": lambda p: _csv(p, "title", "\t"),
    "gov_messages/details.tsv": lambda p: _csv(p, "detail", "\t"),
    "gov_messages/messages_with_replies.csv": lambda p: _csv(p, ("留言主题", "留言详情")),
}


def rows(data_dir: Path, file: str) -> list[str]:
    """Every row's text of one shared file, in row order."""
    return list(READERS[file](Path(data_dir) / file))


def split_of(key: str, test_share: float = 0.25) -> str:
    """'test' or 'train' by a hash of the key: fixed before any model sees the labels."""
    return "test" if hashlib.sha1(key.encode("utf-8")).digest()[0] < 256 * test_share else "train"


def sample(data_dir: Path, per_file: dict[str, int], seed: int = 0, min_chars: int = 4) -> list[dict]:
    """A seeded sample: {key, text} per chosen row (texts for the annotator's eyes, not for the repo)."""
    rng = random.Random(f"labelset:{seed}")
    out = []
    for file, n in per_file.items():
        texts = rows(data_dir, file)
        candidates = [i for i, t in enumerate(texts) if len(t.strip()) >= min_chars]
        for i in sorted(rng.sample(candidates, min(n, len(candidates)))):
            out.append({"key": f"{file}#{i}", "text": texts[i][:600]})
    return out


LABEL_FIELDS = ("polarity", "topic", "incident")


def agreement(records: list[dict]) -> dict[str, dict[str, float]]:
    """Cohen's kappa and raw agreement per label between pass 1 and pass 2 of the same keys."""
    from sklearn.metrics import cohen_kappa_score
    first = {r["key"]: r for r in records if r.get("pass") == 1 and "key" in r}
    pairs = [(first[r["key"]], r) for r in records if r.get("pass") == 2 and r.get("key") in first]
    out = {}
    for field in LABEL_FIELDS:
        a = [str(x[field]) for x, _ in pairs]
        b = [str(y[field]) for _, y in pairs]
        if pairs:
            labels = sorted(set(a) | set(b))
            # one label on both sides: chance agreement is 1 and kappa undefined (None)
            kappa = float(cohen_kappa_score(a, b, labels=labels)) if len(labels) > 1 else float("nan")
            out[field] = {"n": float(len(pairs)), "kappa": None if kappa != kappa else round(kappa, 3),
                          "agreement": round(sum(x == y for x, y in zip(a, b)) / len(pairs), 3)}
    return out


if __name__ == "__main__":   # python -m nlp.labelset DATA_DIR OUT.jsonl  (the first labelling batch)
    plan = {"weibo_emotion/smp2020_ewect_train.csv": 150, "weibo_sentiment/weibo2018_train.txt": 80,
            "weibo_rumor/ced_original_microblogs.tsv": 70, "news_titles/thucnews_titles_dev.txt": 60,
            "news_titles/tnews_dev.jsonl": 60, "gov_messages/titles.tsv": 60, "gov_messages/details.tsv": 60,
            "gov_messages/messages_with_replies.csv": 60}
    with open(sys.argv[2], "w", encoding="utf-8") as f:
        for item in sample(Path(sys.argv[1]), plan):
            f.write(json.dumps(item, ensure_ascii=False) + "\n")
