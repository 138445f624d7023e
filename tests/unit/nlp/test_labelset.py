"""The team's labelled set: well-formed label files, keys that resolve into ../shared, a fixed split."""
from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest
import yaml

from nlp.labelset import READERS, agreement, rows, split_of

REPO = Path(__file__).resolve().parents[3]
LABELS = sorted((REPO / "nlp" / "labels").glob("*.jsonl"))
TOPICS = {t["label"] for t in yaml.safe_load((REPO / "configs" / "topics.yaml").read_text("utf-8"))["topics"]}


def records() -> list[dict]:
    return [json.loads(line) for path in LABELS for line in path.read_text("utf-8").splitlines() if line.strip()]


def test_every_label_is_well_formed():
    items = records()
    assert items, "nlp/labels holds no labels"
    for item in items:
        assert set(item) <= {"key", "text", "polarity", "topic", "incident", "annotator", "pass"}, item
        # a key into ../shared, or a post the team wrote: key "written/<writer>#<n>" with its text
        assert "key" in item and (("text" in item) == item["key"].startswith("written/")), item
        assert item["polarity"] in {"负面", "中性", "正面"} and item["topic"] in TOPICS, item
        assert isinstance(item["incident"], bool) and item["pass"] in (1, 2, 3) and item["annotator"], item
        if not item["key"].startswith("written/"):
            file, _, row = item["key"].rpartition("#")
            assert file in READERS and row.isdigit(), item
    for n in (1, 3):
        counts = Counter(i["key"] for i in items if i["pass"] == n)
        assert not counts or max(counts.values()) == 1, f"a key has two pass-{n} labels"
    texts = Counter(i["text"] for i in items if "text" in i)
    assert not texts or max(texts.values()) == 1, "a written post appears twice"


def test_the_split_is_fixed_by_the_key():
    assert split_of("gov_messages/titles.tsv#12") == split_of("gov_messages/titles.tsv#12")
    shares = Counter(split_of(f"weibo_emotion/smp2020_ewect_train.csv#{i}") for i in range(4000))
    assert 0.2 < shares["test"] / 4000 < 0.3


def test_keys_resolve_to_rows_of_the_shared_files(shared_data):
    by_file: dict[str, list[int]] = {}
    for item in records():
        if not item["key"].startswith("written/"):
            file, _, row = item["key"].rpartition("#")
            by_file.setdefault(file, []).append(int(row))
    for file, wanted in by_file.items():
        texts = rows(shared_data, file)
        assert max(wanted) < len(texts), file
        assert all(texts[i].strip() for i in wanted), file


def test_agreement_pairs_the_two_passes_of_a_key():
    def rec(key, p, pol, inc):
        return {"key": key, "pass": p, "polarity": pol, "topic": "其他", "incident": inc, "annotator": f"a{p}"}
    records = [rec("f#1", 1, "负面", True), rec("f#1", 2, "负面", True), rec("f#2", 1, "中性", False),
               rec("f#2", 2, "负面", False), rec("f#3", 1, "正面", False), rec("f#3", 2, "正面", True),
               rec("f#4", 1, "中性", False)]                                   # f#4: one pass only
    got = agreement(records)
    assert got["polarity"]["n"] == 3 and got["polarity"]["agreement"] == round(2 / 3, 3)
    assert got["incident"]["agreement"] == round(2 / 3, 3) and got["topic"]["agreement"] == 1.0
    assert -1 <= got["polarity"]["kappa"] <= 1 and got["topic"]["kappa"] is None   # one topic: undefined
