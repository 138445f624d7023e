"""Training, evaluation and the CLI on a small slice of the shared data (skipped without it)."""
import argparse
import json
import re

import pytest

from nlp import cli, datasets
from nlp.classify import TextClassifier
from nlp.errors import DataNotFoundError
from nlp.train import build_split, evaluate_task, train_task


def test_split_does_not_move_posts_when_the_pool_changes():
    pool = [datasets.Example(f"第{i}条帖子，内容各不相同", "负面" if i % 3 else "中性", "team_weibo") for i in range(3000)]
    train, dev = datasets.stable_split(pool, 0.2, seed=42)
    assert 0.17 < len(dev) / len(pool) < 0.23 and not {e.text for e in train} & {e.text for e in dev}
    # a new batch arrives and some posts become held-out test posts: no old train post enters dev
    grown = pool[500:] + [datasets.Example(f"新一批第{i}条", "正面", "team_news") for i in range(800)]
    train2, dev2 = datasets.stable_split(grown, 0.2, seed=42)
    assert {e.text for e in dev2} & {e.text for e in pool} == {e.text for e in dev} & {e.text for e in grown}
    assert not {e.text for e in train} & {e.text for e in dev2}
    # another seed is another split
    assert {e.text for e in datasets.stable_split(pool, 0.2, seed=7)[1]} != {e.text for e in dev}


@pytest.mark.shared_data
def test_sentiment_mapping_drops_surprise(shared_data):
    examples = datasets.load_sentiment(shared_data)
    assert {e.label for e in examples} == set(datasets.SENTIMENT_LABELS)
    assert {e.origin for e in examples} == {"smp2020_usual", "smp2020_virus", "weibo2018"}
    assert not any("{%" in e.text for e in examples)


@pytest.mark.shared_data
def test_topic_data_has_all_labels_and_no_masked_places(shared_data):
    examples = datasets.load_topic(shared_data)
    assert {e.label for e in examples} == set(datasets.TOPIC_LABELS)
    gov = [e for e in examples if e.origin.startswith("gov_")]
    masked = re.compile(r"(?<![A-Za-z])[A-Z]\d{0,2}[市区县]")
    assert len(gov) > 10000 and not any(masked.search(e.text) for e in gov)


@pytest.mark.shared_data
def test_split_is_seeded_and_disjoint(shared_data):
    train, dev = build_split("topic", shared_data, seed=7, limit=800)
    again_train, again_dev = build_split("topic", shared_data, seed=7, limit=800)
    assert [e.text for e in dev] == [e.text for e in again_dev]
    assert not {e.text for e in train} & {e.text for e in dev}
    assert {e.label for e in dev} == {e.label for e in train} == set(datasets.TOPIC_LABELS)


@pytest.mark.shared_data
def test_train_and_evaluate_small_topic_model(shared_data, tmp_path):
    metrics = train_task("topic", shared_data, tmp_path / "topic", seed=3, limit=900)
    assert 0 <= metrics["macro_f1"] <= 1 and metrics["n"] > 50
    assert metrics["accuracy"] > 0.5                     # far above chance (1/8) even on 900 examples
    model = TextClassifier.load(tmp_path / "topic")
    assert model.config["training"]["seed"] == 3 and model.config["metrics"]["dev"] == metrics
    assert evaluate_task("topic", tmp_path / "topic", shared_data)["macro_f1"] == metrics["macro_f1"]


@pytest.mark.shared_data
def test_cli_train_and_eval(shared_data, tmp_path, capsys):
    parser = argparse.ArgumentParser(prog="yuqing")
    cli.register(parser.add_subparsers(dest="command"))
    out = tmp_path / "sent"
    args = parser.parse_args(["nlp", "train", "sentiment", "--data", str(shared_data), "--out", str(out),
                              "--limit", "600"])
    assert args.func(args) == 0
    trained = json.loads(capsys.readouterr().out)
    card = (out / "README.md").read_text("utf-8")
    assert f"yuqing nlp train sentiment --model linear --data {shared_data} --out {out} --seed 42 --limit 600" in card
    assert "reference baseline" in card and "posts/s" in card
    args = parser.parse_args(["nlp", "eval", "sentiment", "--model", str(out), "--data", str(shared_data)])
    assert args.func(args) == 0
    assert json.loads(capsys.readouterr().out)["macro_f1"] == trained["macro_f1"]


def test_missing_data_is_a_clear_error(tmp_path, capsys):
    with pytest.raises(DataNotFoundError, match="--data"):
        train_task("topic", tmp_path / "nowhere", tmp_path / "out")
    parser = argparse.ArgumentParser(prog="yuqing")
    cli.register(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["nlp", "train", "topic", "--data", str(tmp_path / "nowhere"), "--out", str(tmp_path / "o")])
    assert args.func(args) == 2
    assert "not found" in capsys.readouterr().err


def test_unknown_task():
    with pytest.raises(ValueError, match="unknown task"):
        build_split("nonsense", "unused")


# --- emotion and rumor data, eval on a user's file, predict, select -----------------------------
import csv  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
from pathlib import Path  # noqa: E402

from nlp.errors import NlpError  # noqa: E402
from nlp.train import (evaluate_file, parse_label_map, predict_stream, read_labeled_file,  # noqa: E402
                       select_default)

REPO = Path(__file__).resolve().parents[3]


@pytest.mark.shared_data
def test_emotion_and_rumor_data(shared_data):
    emotion = datasets.load_emotion(shared_data)
    assert {e.label for e in emotion} == set(datasets.EMOTION_LABELS) and len(emotion) > 30000
    rumor = datasets.load_rumor(shared_data)
    assert {e.label for e in rumor} == set(datasets.RUMOR_LABELS) and len(rumor) > 3000
    train, dev = build_split("rumor", shared_data)
    assert len(dev) > 400 and not {e.text for e in train} & {e.text for e in dev}


@pytest.fixture(scope="module")
def tiny_emotion(shared_data, tmp_path_factory):
    out = tmp_path_factory.mktemp("emotion") / "emotion"
    train_task("emotion", shared_data, out, seed=5, limit=1500, baseline=False)
    return out


@pytest.mark.shared_data
def test_eval_on_a_users_csv_with_english_labels(tiny_emotion, tmp_path):
    path = tmp_path / "test.csv"
    rows = [("气死我了，排了三个小时的队", "angry"), ("今天好开心，终于放假了", "happy"),
            ("好难过，我的猫走了", "sad"), ("明天开会", "neutral"), ("天哪，竟然是真的", "surprise"),
            ("好害怕，外面打雷了", "fear")] * 3
    with path.open("w", encoding="utf-8", newline="") as fh:
        csv.writer(fh).writerows([("content", "label"), *rows])
    metrics = evaluate_file("emotion", tiny_emotion, path, text_col="content", label_col="label")
    assert metrics["n"] == 18 and 0 <= metrics["macro_f1"] <= 1
    assert set(metrics["per_class"]) >= {"愤怒", "高兴", "悲伤", "中性", "惊奇", "恐惧"}
    assert sum(m["support"] for m in metrics["per_class"].values()) == 18


@pytest.mark.shared_data
def test_eval_file_errors_and_formats(tiny_emotion, tmp_path):
    jsonl = tmp_path / "t.jsonl"
    jsonl.write_text('{"text": "气死了", "y": "愤怒"}\n{"text": "真开心", "y": "joy"}\n', encoding="utf-8")
    metrics = evaluate_file("emotion", tiny_emotion, jsonl, label_col="y")
    assert metrics["n"] == 2 and metrics["restricted"]["labels"] == ["愤怒", "高兴"]
    tsv = tmp_path / "t.tsv"
    tsv.write_bytes("text\tlabel\n气死了\tmad\n".encode("gb18030"))       # GBK file, unknown label
    with pytest.raises(NlpError, match="--label-map"):
        evaluate_file("emotion", tiny_emotion, tsv)
    assert evaluate_file("emotion", tiny_emotion, tsv, label_map={"mad": "愤怒"})["n"] == 1
    with pytest.raises(NlpError, match="no column 'content'"):
        evaluate_file("emotion", tiny_emotion, tsv, text_col="content")
    with pytest.raises(ValueError, match="holds a 'emotion' model"):
        evaluate_file("topic", tiny_emotion, tsv)


def test_label_map_parsing():
    assert parse_label_map("angry=愤怒, 0=负面") == {"angry": "愤怒", "0": "负面"}
    with pytest.raises(ValueError, match="theirs=ours"):
        parse_label_map("angry")


def test_read_labeled_file_skips_rows_without_labels(tmp_path):
    path = tmp_path / "x.csv"
    path.write_text("text,label\n好,正面\n坏,\n", encoding="utf-8")
    assert read_labeled_file(path, "text", "label") == [("好", "正面")]
    with pytest.raises(DataNotFoundError):
        read_labeled_file(tmp_path / "missing.csv", "text", "label")


def test_predict_stream_reads_lines_and_jsonl(models_dir):
    import io
    from nlp.classify import load_classifier
    model = load_classifier(models_dir / "sentiment")
    out = io.StringIO()
    lines = ["太气人了，投诉无门\n", "\n", '{"id": "p1", "text": "感谢志愿者，点赞"}\n', '{"content": "开会"}\n']
    assert predict_stream(model, lines, out, batch_size=2) == 3
    results = [json.loads(line) for line in out.getvalue().splitlines()]
    assert results[0]["label"] == "负面" and results[1] == {**results[1], "id": "p1", "label": "正面"}
    assert all(set(r["scores"]) == set(model.labels) and 0 < r["score"] <= 1 for r in results)
    with pytest.raises(NlpError, match="no 'body' field"):
        predict_stream(model, ['{"x": 1}'], io.StringIO(), text_field="body")


def test_predict_command_end_to_end():
    done = subprocess.run([sys.executable, "-m", "nlp", "predict", "topic"], cwd=REPO, capture_output=True,
                          input="小区旁边的化工厂每天晚上排放刺鼻气体\n梅西打入制胜球\n".encode("utf-8"), timeout=120)
    assert done.returncode == 0, done.stderr.decode()
    labels = [json.loads(line)["label"] for line in done.stdout.decode("utf-8").splitlines()]
    assert labels == ["环境保护", "其他"]


@pytest.mark.shared_data
def test_select_installs_the_best_fast_candidate(shared_data, tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    train_task("rumor", shared_data, a, seed=42, limit=400, baseline=False)
    train_task("rumor", shared_data, b, seed=42, limit=400, baseline=False)
    selection = select_default("rumor", [a, b], shared_data, tmp_path / "default", min_posts_per_s=1)
    assert selection["chosen"] in (str(a), str(b)) and len(selection["candidates"]) == 2
    installed = json.loads((tmp_path / "default" / "config.json").read_text("utf-8"))
    assert installed["selection"]["chosen"] == selection["chosen"]
    assert "Why this model is the default" in (tmp_path / "default" / "README.md").read_text("utf-8")
    # nothing is fast enough: the fastest wins
    slow = select_default("rumor", [a], shared_data, tmp_path / "slow", min_posts_per_s=1e12)
    assert slow["chosen"] == str(a)
    # a candidate trained under another split has seen part of today's dev: listed, never chosen
    config = json.loads((b / "config.json").read_text("utf-8"))
    config["training"]["dev_counts"]["by_label"] = {"谣言": 1, "非谣言": 1}
    (b / "config.json").write_text(json.dumps(config, ensure_ascii=False), "utf-8")
    picked = select_default("rumor", [b, a], shared_data, tmp_path / "fresh", min_posts_per_s=1)
    assert picked["chosen"] == str(a) and picked["candidates"][0]["stale_split"]
    card = (tmp_path / "fresh" / "README.md").read_text("utf-8")
    assert "stale split: not eligible" in card and f"`{b}`: `yuqing nlp train rumor" in card
    with pytest.raises(ValueError, match="another split"):
        select_default("rumor", [b], shared_data, tmp_path / "none", min_posts_per_s=1)


def test_cli_eval_on_a_binary_file_reports_restricted_scores(tmp_path, capsys):
    path = tmp_path / "binary.csv"
    path.write_text("text,label\n太气人了，投诉无门,0\n感谢志愿者，点赞,1\n服务太差了，失望,0\n", encoding="utf-8")
    parser = argparse.ArgumentParser(prog="yuqing")
    cli.register(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["nlp", "eval", "sentiment", "--model", str(REPO / "nlp" / "models" / "sentiment"),
                              "--data", str(path)])
    assert args.func(args) == 0
    metrics = json.loads(capsys.readouterr().out)
    assert metrics["n"] == 3 and metrics["restricted"]["labels"] == ["负面", "正面"]
    assert metrics["restricted"]["accuracy"] == 1.0
