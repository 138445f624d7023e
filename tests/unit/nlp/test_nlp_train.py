"""Training, evaluation and the CLI on a small slice of the shared data (skipped without it)."""
import argparse
import json
import re

import pytest

from nlp import cli, datasets
from nlp.classify import TextClassifier
from nlp.errors import DataNotFoundError
from nlp.train import build_split, evaluate_task, train_task


@pytest.mark.shared_data
def test_sentiment_mapping_drops_surprise(shared_data):
    examples = datasets.load_sentiment(shared_data)
    assert {e.label for e in examples} == set(datasets.SENTIMENT_LABELS)
    assert {e.origin for e in examples} == {"smp2020_ewect", "weibo2018"}
    assert not any("{%" in e.text for e in examples)


@pytest.mark.shared_data
def test_topic_data_has_all_labels_and_no_masked_places(shared_data):
    examples = datasets.load_topic(shared_data)
    assert {e.label for e in examples} == set(datasets.TOPIC_LABELS)
    gov = [e for e in examples if e.origin.startswith("gov_")]
    masked = re.compile(r"(?<![A-Za-z])[A-Z]\d{0,2}[市区县]")
    assert len(gov) > 10000 and not any(masked.search(e.text) for e in gov)


@pytest.mark.shared_data
def test_split_is_seeded_stratified_and_disjoint(shared_data):
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
    assert f"yuqing nlp train sentiment --data {shared_data} --out {out} --seed 42 --limit 600" in card
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
        build_split("emotion", "unused")
