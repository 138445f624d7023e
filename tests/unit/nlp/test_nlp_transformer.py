"""The transformer path end to end on tiny models: pretrain → fine-tune → save → load_classifier → predict.

Skipped with a clear message when torch/transformers are not installed
(`pip install -e '.[transformer]'`; `make test` installs them).
"""
import json

import numpy as np
import pytest

torch = pytest.importorskip("torch", reason="torch not installed: pip install -e '.[transformer]'")
pytest.importorskip("transformers", reason="transformers not installed: pip install -e '.[transformer]'")

from nlp.classify import TextClassifier, load_classifier  # noqa: E402
from nlp.errors import ModelFormatError, ModelNotFoundError, NlpError  # noqa: E402
from nlp.transformer.model import TransformerClassifier  # noqa: E402
from nlp.transformer.tokenizer import CharTokenizer  # noqa: E402
from nlp.transformer.training import (Architecture, PretrainSchedule, Schedule, _LinearSchedule,  # noqa: E402
                                      fine_tune, mask_tokens, pretrain_mlm)

TINY = Architecture(hidden_size=32, num_hidden_layers=1, num_attention_heads=2, intermediate_size=64,
                    max_position_embeddings=64, hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0)
NEGATIVE = ["小区物业天天停水，太气人了", "垃圾没人清理，臭气熏天", "公交司机态度恶劣，非常失望",
            "医院排队三小时，服务太差了", "工资拖欠半年，讨薪无门", "噪音扰民严重，晚上睡不着"]
POSITIVE = ["感谢社区志愿者，暖心点赞", "新公园开放了，环境很好，很开心", "老师很负责，孩子进步很大，谢谢",
            "办事效率高，点赞政务服务", "道路修好了，出行方便多了，开心", "医生耐心细致，非常感谢"]
TEXTS = NEGATIVE + POSITIVE
LABELS = ["负面"] * 6 + ["正面"] * 6


@pytest.fixture(scope="module")
def pretrained(tmp_path_factory):
    out = tmp_path_factory.mktemp("char-bert")
    corpus = TEXTS * 20 + ["市政府召开常务会议", "本周天气以多云为主", "明天上午九点开始报名"] * 20
    pretrain_mlm(corpus, out, architecture=TINY, min_char_count=1,
                 schedule=PretrainSchedule(epochs=2, batch_size=16, max_length=32, device="cpu", lr=1e-3),
                 corpus_info={"texts": len(corpus), "characters": sum(map(len, corpus))})
    return out


@pytest.fixture(scope="module")
def fine_tuned(pretrained, tmp_path_factory):
    model, result = fine_tune(TEXTS, LABELS, ["负面", "中性", "正面"], task="sentiment", init=pretrained,
                              schedule=Schedule(epochs=40, batch_size=4, lr=2e-3, max_length=32, device="cpu",
                                                class_weight_power=0))
    out = tmp_path_factory.mktemp("ft") / "sentiment-transformer"
    model.save(out, card="# tiny\n")
    return model, result, out


def test_pretrain_writes_a_huggingface_style_checkpoint(pretrained):
    from transformers import BertForMaskedLM
    config = json.loads((pretrained / "config.json").read_text("utf-8"))
    assert config["format"] == "yuqing-char-bert-mlm" and config["model_type"] == "bert"
    assert config["pretraining"]["corpus"]["texts"] == 300
    assert 0 <= config["pretraining"]["metrics"]["masked_token_accuracy"] <= 1
    vocab = (pretrained / "vocab.txt").read_text("utf-8").split("\n")
    assert vocab[:5] == ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"] and "停" in vocab
    mlm = BertForMaskedLM.from_pretrained(str(pretrained), local_files_only=True)
    assert mlm.config.hidden_size == 32 and mlm.config.vocab_size == config["vocab_size"]


def test_fine_tune_learns_and_round_trips(fine_tuned):
    model, result, out = fine_tuned
    assert result.steps == 120 and result.final_loss < 0.5
    assert {p.name for p in out.iterdir()} >= {"config.json", "model.safetensors", "vocab.txt", "README.md"}
    loaded = load_classifier(out, device="cpu")
    assert isinstance(loaded, TransformerClassifier) and not loaded.quantized
    assert loaded.task == "sentiment" and loaded.labels == ["负面", "中性", "正面"]
    assert [label for label, _ in loaded.predict(TEXTS)] == LABELS
    # weights are stored as float16: probabilities agree to about 1e-3
    assert np.allclose(loaded.probabilities(TEXTS), model.probabilities(TEXTS), atol=5e-3)


def test_predict_interface_matches_the_linear_model(fine_tuned):
    _, _, out = fine_tuned
    model = load_classifier(out, device="cpu")
    probs = model.predict_proba(["太气人了", ""])
    assert all(set(row) == {"负面", "中性", "正面"} and abs(sum(row.values()) - 1) < 1e-4 for row in probs)
    label, score = model.predict(["太气人了"])[0]
    assert score == pytest.approx(max(probs[0].values()), abs=1e-6) and label in model.labels
    assert model.predict([]) == [] and model.probabilities([]).shape == (0, 3)
    # words (jieba output for the linear model) are accepted and ignored
    assert np.allclose(model.probabilities(["太气人了"], words=[["太", "气人"]]), model.probabilities(["太气人了"]))
    long_text = "停水" * 500      # longer than max_length: truncated, not an error
    assert model.predict([long_text])[0][0] in model.labels


def test_int8_quantization_keeps_the_answers(fine_tuned):
    model, _, out = fine_tuned
    int8 = TransformerClassifier.load(out, device="cpu", quantize="int8")
    assert int8.quantized
    assert [label for label, _ in int8.predict(TEXTS)] == LABELS
    assert np.abs(int8.probabilities(TEXTS) - model.probabilities(TEXTS)).max() < 0.1
    with pytest.raises(ValueError, match="float model"):
        model.to_cpu_int8().save(out.parent / "nope")


def test_the_same_code_fine_tunes_a_local_huggingface_checkpoint(tmp_path):
    from transformers import BertConfig, BertForMaskedLM, BertTokenizer
    checkpoint = tmp_path / "hf-bert"
    checkpoint.mkdir()
    chars = sorted({c for t in TEXTS for c in t})
    (checkpoint / "vocab.txt").write_text("\n".join(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *chars]) + "\n",
                                          encoding="utf-8")
    BertTokenizer(str(checkpoint / "vocab.txt")).save_pretrained(str(checkpoint))
    BertForMaskedLM(BertConfig(vocab_size=5 + len(chars), hidden_size=32, num_hidden_layers=1,
                               num_attention_heads=2, intermediate_size=64)).save_pretrained(str(checkpoint))
    model, _ = fine_tune(TEXTS, LABELS, ["负面", "正面"], task="polarity", init=checkpoint,
                         schedule=Schedule(epochs=30, batch_size=4, lr=2e-3, max_length=32, device="cpu"))
    assert model.config["training"]["init"]["kind"] == "huggingface"
    model.save(tmp_path / "out")
    loaded = load_classifier(tmp_path / "out", device="cpu")
    assert loaded.config["tokenizer"]["type"] == "hf" and (tmp_path / "out" / "tokenizer_config.json").exists()
    assert [label for label, _ in loaded.predict(TEXTS)] == LABELS


def test_from_scratch_builds_its_own_character_vocabulary():
    model, result = fine_tune(TEXTS, LABELS, ["负面", "正面"], task="polarity", architecture=TINY,
                              schedule=Schedule(epochs=1, batch_size=6, max_length=32, device="cpu", seed=3))
    assert model.config["training"]["init"]["kind"] == "scratch" and isinstance(model.tokenizer, CharTokenizer)
    assert result.steps == 2 and len(model.predict(TEXTS)) == len(TEXTS)


def test_training_is_seeded(pretrained):
    runs = [fine_tune(TEXTS, LABELS, ["负面", "正面"], task="polarity", init=pretrained,
                      schedule=Schedule(epochs=2, batch_size=4, max_length=32, device="cpu", seed=11))[0]
            for _ in range(2)]
    assert np.allclose(runs[0].probabilities(TEXTS), runs[1].probabilities(TEXTS), atol=1e-6)


def test_masking_never_touches_special_tokens():
    tokenizer = CharTokenizer.build(TEXTS, min_count=1)
    ids = torch.tensor([tokenizer.encode(TEXTS[:4], 16)[0]] * 200)
    inputs, labels = mask_tokens(ids, tokenizer, 0.15, torch.Generator().manual_seed(0))
    chosen = labels != -100
    assert 0.08 < chosen[:, 1:-1].float().mean() < 0.25
    assert not chosen[:, 0].any() and not chosen[:, -1].any()      # [CLS] and [SEP]
    assert (labels[chosen] == ids[chosen]).all()
    assert (inputs[chosen] == tokenizer.mask_id).float().mean() > 0.6


def test_time_budget_shortens_the_schedule():
    optimizer = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=1.0)
    plan = _LinearSchedule(optimizer, 1.0, total=1000, warmup=0.1)
    for _ in range(120):
        plan.step()
    plan.fit_budget(per_step=0.5, remaining=40.0)      # 80 more steps fit
    assert plan.total == 200
    for _ in range(80):
        plan.step()
    assert optimizer.param_groups[0]["lr"] == 0.0


def test_load_classifier_picks_the_implementation(fine_tuned, tmp_path, segmenter):
    _, _, out = fine_tuned
    linear = TextClassifier.train(TEXTS, LABELS, task="sentiment", segmenter=segmenter)
    linear.save(tmp_path / "linear")
    assert isinstance(load_classifier(tmp_path / "linear"), TextClassifier)
    assert isinstance(load_classifier(out, device="cpu"), TransformerClassifier)
    with pytest.raises(ModelNotFoundError):
        load_classifier(tmp_path / "missing")
    (tmp_path / "odd").mkdir()
    (tmp_path / "odd" / "config.json").write_text('{"format": "something"}', encoding="utf-8")
    with pytest.raises(ModelFormatError, match="unknown model format"):
        load_classifier(tmp_path / "odd")


def test_broken_transformer_directories_are_clear_errors(fine_tuned, tmp_path):
    import shutil
    _, _, out = fine_tuned
    broken = tmp_path / "broken"
    shutil.copytree(out, broken)
    (broken / "model.safetensors").write_bytes(b"not safetensors")
    with pytest.raises(ModelFormatError, match="unreadable"):
        load_classifier(broken, device="cpu")
    (broken / "model.safetensors").unlink()
    with pytest.raises(ModelNotFoundError, match="model.safetensors"):
        load_classifier(broken, device="cpu")
    with pytest.raises(NlpError, match="no config.json"):
        fine_tune(TEXTS, LABELS, ["负面", "正面"], task="x", init=tmp_path / "nowhere",
                  schedule=Schedule(epochs=1, device="cpu"))


@pytest.mark.shared_data
def test_train_task_with_the_transformer_path(shared_data, pretrained, tmp_path):
    from nlp.train import evaluate_task, train_task
    out = tmp_path / "rumor-transformer"
    metrics = train_task("rumor", shared_data, out, limit=200, model_kind="transformer", init=pretrained,
                         baseline=False, schedule=Schedule(epochs=1, batch_size=16, max_length=48, device="cpu"))
    config = json.loads((out / "config.json").read_text("utf-8"))
    assert config["task"] == "rumor" and config["labels"] == ["谣言", "非谣言"]
    assert config["inference"]["quantize"] in ("int8", "none")
    assert set(config["metrics"]) >= {"dev", "dev_float32", "dev_int8_cpu", "speed_cpu"}
    assert config["label_aliases"]["谣言"][0] == "rumor"
    assert config["training"]["command"].startswith("yuqing nlp train rumor --model transformer")
    card = (out / "README.md").read_text("utf-8")
    assert "transformer text classifier" in card and "dynamic int8" in card
    # eval rebuilds the same dev split and loads the model the same way: the same score
    assert evaluate_task("rumor", out, shared_data, device="cpu")["macro_f1"] == metrics["macro_f1"]


@pytest.mark.shared_data
def test_cli_records_every_schedule_option_in_the_rebuild_command(shared_data, pretrained, tmp_path, capsys):
    import argparse

    from nlp import cli
    parser = argparse.ArgumentParser(prog="yuqing")
    cli.register(parser.add_subparsers(dest="command"))
    out = tmp_path / "rumor-transformer"
    args = parser.parse_args(["nlp", "train", "rumor", "--model", "transformer", "--init", str(pretrained),
                              "--data", str(shared_data), "--out", str(out), "--limit", "120", "--no-baseline",
                              "--epochs", "1", "--batch-size", "16", "--max-length", "32", "--max-minutes", "5",
                              "--device", "cpu"])
    assert args.func(args) == 0
    capsys.readouterr()
    command = json.loads((out / "config.json").read_text("utf-8"))["training"]["command"]
    for option in ("--epochs 1.0", "--batch-size 16", "--max-length 32", "--max-minutes 5.0", "--device cpu",
                   f"--init {pretrained}", "--limit 120"):
        assert option in command, (option, command)
