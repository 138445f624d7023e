"""The evaluation protocol's parts: markup stripped before classification, the paired bootstrap,
the team's labelled set (adjudicated readings, the writer split), the rumour time split."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from nlp.cleaning import clean_text, strip_markup
from nlp.labelset import final_labels, load, split_of_key
from nlp.train import bootstrap_gain


@pytest.mark.parametrize("raw, clean", [
    ("十里河<script>alert('x')</script>大量死鱼", "十里河大量死鱼"),
    ("<p>小区<b>停水</b>三天</p>", "小区停水三天"),
    ("化工厂<style>p{color:red}</style>异味<!-- note -->扰民", "化工厂异味扰民"),
    ("<img src=x onerror=alert(1)>工地塔吊倒塌", "工地塔吊倒塌"),
    ("&lt;script&gt;不是标签 &amp; 也不是", "<script>不是标签 & 也不是"),
    ("1<2 且 3>2，a&b", "1<2 且 3>2，a&b"),            # plain text with angle brackets stays
    ("未闭合<script>alert(1)", "未闭合"),             # an unclosed script block still goes
])
def test_strip_markup(raw, clean):
    assert strip_markup(raw).strip() == clean
    assert clean_text(raw) == clean_text(clean) or clean_text(raw) == clean.strip()


def test_a_post_reads_the_same_with_markup_added():
    from nlp.classify import TextClassifier
    texts = ["十里河出现大量死鱼，附近居民怀疑化工厂偷排", "新开的公交线路很方便，点赞", "今天天气不错"] * 10
    labels = ["负面", "正面", "中性"] * 10
    model = TextClassifier.train(texts, labels, task="polarity")
    plain = model.probabilities(["十里河出现大量死鱼，附近居民怀疑化工厂偷排"])
    marked = model.probabilities(["十里河出现大量死鱼<script>document.write('今天天气不错 点赞 方便')</script>，"
                                  "附近居民<b>怀疑</b>化工厂偷排"])
    assert abs(plain - marked).max() < 1e-6


def test_bootstrap_gain_is_zero_for_the_same_predictions_and_positive_for_better_ones():
    gold = ["负面", "中性", "正面"] * 100
    same = bootstrap_gain(gold, gold[:], gold[:])
    assert same["macro_f1"] == 0 and same["ci95"] == [0.0, 0.0] and not same["beats_baseline"]
    worse = ["中性"] * 300
    better = bootstrap_gain(gold, gold, worse)
    assert better["macro_f1"] > 0.5 and better["ci95"][0] > 0 and better["beats_baseline"]
    flipped = bootstrap_gain(gold, worse, gold)
    assert flipped["ci95"][1] < 0 and not flipped["beats_baseline"]
    # a small, noisy gain is not a gain: its interval straddles 0
    almost = gold[:]
    almost[0] = "中性"
    assert bootstrap_gain(gold, gold, almost)["ci95"][0] <= 0


def test_the_adjudicated_reading_wins_and_written_posts_split_by_writer(tmp_path: Path):
    def rec(key, p, pol, **extra):
        return {"key": key, "pass": p, "polarity": pol, "topic": "其他", "incident": False, "annotator": f"a{p}",
                **extra}
    rows = [rec("f#1", 1, "中性"), rec("f#1", 2, "负面"), rec("f#1", 3, "负面"), rec("f#2", 1, "正面"),
            rec("f#2", 2, "正面")]
    chosen = final_labels(rows)
    assert chosen["f#1"]["polarity"] == "负面" and chosen["f#1"]["pass"] == 3
    assert chosen["f#2"]["pass"] == 1
    assert split_of_key("written/h2#0") == split_of_key("written/h2#199") == "test"
    assert split_of_key("written/h1#0") == split_of_key("written/h1#5") == "train"
    (tmp_path / "w.jsonl").write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in [
        {"key": "written/h1#0", "text": "某化工厂发生爆炸，3人受伤", "polarity": "负面", "topic": "城乡建设",
         "incident": True, "annotator": "h1", "pass": 1},
        {"key": "written/h2#0", "text": "消防演练顺利举行", "polarity": "中性", "topic": "城乡建设",
         "incident": False, "annotator": "h2", "pass": 1}]), encoding="utf-8")
    posts = load(tmp_path / "no-shared-data-needed", tmp_path)
    assert [(p.key, p.split, p.polarity) for p in posts] == [("written/h1#0", "train", "负面"),
                                                              ("written/h2#0", "test", "中性")]
    assert [p.key for p in load(tmp_path, tmp_path, split="test")] == ["written/h2#0"]


def test_rumour_dev_is_the_newest_posts(shared_data):
    from nlp.datasets import load_rumor_timed
    from nlp.textnorm import normalize_text
    from nlp.train import build_split
    train, dev = build_split("rumor", shared_data)
    when: dict[str, float] = {}
    for at, e in load_rumor_timed(shared_data):      # a text posted twice counts from its first time
        when[normalize_text(e.text)] = min(at, when.get(normalize_text(e.text), at))
    assert max(when[normalize_text(e.text)] for e in train) <= min(when[normalize_text(e.text)] for e in dev)
    assert 0.15 < len(dev) / (len(train) + len(dev)) < 0.25


def test_no_held_out_post_is_trained_on(shared_data):
    from nlp.datasets import heldout_texts
    from nlp.textnorm import normalize_text
    from nlp.train import build_split
    held = heldout_texts(shared_data)
    assert len(held) >= 100
    for task in ("polarity", "topic"):
        train, dev = build_split(task, shared_data)
        assert not held & {normalize_text(e.text) for e in train + dev}, task


def test_a_model_trained_under_another_split_is_named_stale():
    from nlp.datasets import Example, label_counts, origin_counts
    from nlp.train import split_mismatch
    train = [Example(f"t{i}", "负面" if i % 2 else "中性", "smp2020_usual") for i in range(10)]
    dev = [Example(f"d{i}", "中性", "smp2020_virus") for i in range(3)]

    def counts(items):
        return {"by_label": label_counts(items), "by_source": origin_counts(items)}
    config = {"training": {"train_counts": counts(train), "dev_counts": counts(dev)}}
    assert split_mismatch(config, train, dev) is None
    # the same model, before the SMP2020 origins were told apart: its dev split is another one
    old_dev = [Example(e.text, e.label, "smp2020_ewect") for e in dev]
    config["training"]["dev_counts"] = counts(old_dev)
    why = split_mismatch(config, train, dev)
    assert why and "smp2020_ewect" in why and "retrain" in why
    assert "no dev counts" in split_mismatch({"training": {}}, train, dev)
