import json

import numpy as np
import pytest

from nlp.classify import FeatureConfig, TextClassifier
from nlp.errors import ModelFormatError, ModelNotFoundError

TEXTS = [
    "小区物业天天停水，太气人了", "垃圾没人清理，臭气熏天，投诉也没用", "公交司机态度恶劣，非常失望",
    "医院排队三小时，服务太差了", "工资拖欠半年，讨薪无门", "噪音扰民严重，晚上睡不着",
    "感谢社区志愿者，暖心点赞", "新公园开放了，环境很好，很开心", "老师很负责，孩子进步很大，谢谢",
    "办事效率高，点赞政务服务", "道路修好了，出行方便多了，开心", "医生耐心细致，非常感谢",
    "市政府召开常务会议", "本周天气以多云为主", "明天上午九点开始报名",
    "会议通报了上半年工作情况", "该路段将于下月施工", "窗口办理时间为工作日",
]
LABELS = ["负面"] * 6 + ["正面"] * 6 + ["中性"] * 6


@pytest.fixture(scope="module")
def tiny(segmenter):
    return TextClassifier.train(TEXTS, LABELS, task="sentiment", label_order=["负面", "中性", "正面"],
                                segmenter=segmenter)


def test_train_save_load_predict(tiny, tmp_path, segmenter):
    tiny.save(tmp_path / "m")
    assert {p.name for p in (tmp_path / "m").iterdir()} >= {"config.json", "vocab.json", "weights.npz", "README.md"}
    loaded = TextClassifier.load(tmp_path / "m", segmenter=segmenter)
    assert loaded.labels == ["负面", "中性", "正面"] and loaded.task == "sentiment"
    probe = ["物业停水太气人了，投诉没用", "志愿者很暖心，点赞感谢", "市政府召开会议通报工作"]
    assert [label for label, _ in loaded.predict(probe)] == ["负面", "正面", "中性"]
    assert np.allclose(loaded.probabilities(probe), tiny.probabilities(probe), atol=1e-6)


def test_predict_proba_is_a_distribution(tiny):
    probs = tiny.predict_proba(["今天很开心", ""])
    for row in probs:
        assert set(row) == {"负面", "中性", "正面"}
        assert abs(sum(row.values()) - 1) < 1e-5 and all(0 <= v <= 1 for v in row.values())
    best = tiny.predict(["今天很开心"])[0]
    assert best[1] == max(probs[0].values())


def test_pre_segmented_words_give_the_same_answer(tiny, segmenter):
    texts = ["工资拖欠半年，讨薪无门", "医生耐心细致"]
    words = [segmenter.cut(t) for t in texts]
    assert np.allclose(tiny.probabilities(texts), tiny.probabilities(texts, words=words))


def test_empty_batch(tiny):
    assert tiny.predict([]) == [] and tiny.predict_proba([]) == []


def test_binary_training_keeps_probabilities_calibrated(segmenter):
    model = TextClassifier.train(TEXTS[:12], LABELS[:12], task="polarity", segmenter=segmenter)
    assert sorted(model.labels) == ["正面", "负面"]
    label, score = model.predict(["讨薪无门，太气人了"])[0]
    assert label == "负面" and 0.5 < score <= 1


def test_label_not_in_order_is_rejected(segmenter):
    with pytest.raises(ValueError, match="not in label_order"):
        TextClassifier.train(TEXTS, LABELS, label_order=["负面", "正面"], segmenter=segmenter)


def test_feature_pruning_keeps_the_largest_weights(segmenter):
    model = TextClassifier.train(TEXTS, LABELS, features=FeatureConfig(keep_features=40), segmenter=segmenter)
    assert model.n_features == 40


def test_missing_model_dir_is_a_clear_error(tmp_path):
    with pytest.raises(ModelNotFoundError, match="nlp train"):
        TextClassifier.load(tmp_path / "nothing")


def test_corrupt_model_is_a_clear_error(tiny, tmp_path):
    tiny.save(tmp_path / "m")
    (tmp_path / "m" / "weights.npz").write_bytes(b"not a zip")
    with pytest.raises(ModelFormatError, match="unreadable"):
        TextClassifier.load(tmp_path / "m")


def test_foreign_config_is_rejected(tiny, tmp_path):
    tiny.save(tmp_path / "m")
    config = json.loads((tmp_path / "m" / "config.json").read_text(encoding="utf-8"))
    config["format"] = "something-else"
    (tmp_path / "m" / "config.json").write_text(json.dumps(config), encoding="utf-8")
    with pytest.raises(ModelFormatError, match="not a yuqing-text-classifier"):
        TextClassifier.load(tmp_path / "m")
