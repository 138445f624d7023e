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


# --- negation, lexicon block, SVM loss, the shared loader ---------------------------------------
from nlp.classify import ModelConfig, load_classifier  # noqa: E402
from nlp.lexicons import FEATURE_NAMES, NEGATED, Lexicon  # noqa: E402

LEXICON = Lexicon(polarity={"满意": 1.0, "开心": 1.0, "感谢": 1.0, "失望": -1.0, "太差": -1.0, "气人": -1.0},
                  categories={"开心": 0, "感谢": 1, "气人": 2, "失望": 3},
                  degree={"非常": 2.0, "很": 1.75}, negation=frozenset({"不", "没有", "不是"}))


def test_negation_scope_stops_at_punctuation():
    words = ["我", "不是", "很", "满意", "这个", "服务", "，", "太差", "了"]
    assert LEXICON.mark_negation(words, window=3) == ["我", "不是", NEGATED + "很", NEGATED + "满意",
                                                      NEGATED + "这个", "服务", "，", "太差", "了"]


def test_lexicon_features_count_negated_and_boosted_hits():
    pos, neg, negated_pos, negated_neg, negations = range(5)
    row = LEXICON.features([["非常", "开心", "，", "不", "满意", "，", "太差"]])[0]
    assert row.shape == (len(FEATURE_NAMES),)
    assert row[pos] == pytest.approx(np.log1p(2.0))          # 开心 boosted by 非常
    assert row[negated_pos] == pytest.approx(np.log1p(1.0))  # 不 满意
    assert row[neg] == pytest.approx(np.log1p(1.0)) and row[negated_neg] == 0 and row[negations] > 0
    assert row[5 + 0] > 0                                     # DUTIR 乐 (开心)


def test_lexicon_round_trips_through_json_and_restricts():
    again = Lexicon.from_json(LEXICON.to_json())
    assert again.polarity == LEXICON.polarity and again.negation == LEXICON.negation
    small = LEXICON.restrict(["满意", "不"])
    assert small.polarity == {"满意": 1.0} and small.negation == {"不"}
    with pytest.raises(ModelFormatError, match="malformed"):
        Lexicon.from_json('{"polarity": 3}')


def test_model_with_negation_and_lexicon_saves_its_lexicon(segmenter, tmp_path):
    features = FeatureConfig(negation=True, lexicon=True)
    with pytest.raises(ValueError, match="need a lexicon"):
        TextClassifier.train(TEXTS, LABELS, features=features, segmenter=segmenter)
    model = TextClassifier.train(TEXTS, LABELS, task="sentiment", features=features, segmenter=segmenter,
                                 lexicon=LEXICON)
    assert model.n_features == len(model._char.vocabulary_) + len(model._word.vocabulary_) + len(FEATURE_NAMES)
    model.save(tmp_path / "m")
    saved = json.loads((tmp_path / "m" / "lexicon.json").read_text("utf-8"))
    # restricted to words the training texts contain: 开心 occurs, 满意 does not
    assert "开心" in saved["polarity"] and "满意" not in saved["polarity"]
    loaded = load_classifier(tmp_path / "m", segmenter=segmenter)
    probe = ["我不满意，太差了", "非常开心，感谢"]
    assert np.allclose(loaded.probabilities(probe), model.probabilities(probe), atol=1e-6)
    (tmp_path / "m" / "lexicon.json").unlink()
    with pytest.raises(ModelFormatError, match="lexicon.json"):
        TextClassifier.load(tmp_path / "m")


def test_svm_loss_gives_calibrated_probabilities(segmenter):
    model = TextClassifier.train(TEXTS * 3, LABELS * 3, task="sentiment", label_order=["负面", "中性", "正面"],
                                 model=ModelConfig(C=0.5, loss="svm"), segmenter=segmenter)
    assert model.config["model"]["type"] == "linear_svm_softmax_calibrated"
    assert model.config["model"]["temperature"] > 0
    probs = model.probabilities(["工资拖欠半年，讨薪无门", "医生耐心细致，非常感谢"])
    assert np.allclose(probs.sum(axis=1), 1, atol=1e-5)
    assert [model.labels[i] for i in probs.argmax(axis=1)] == ["负面", "正面"]
    with pytest.raises(ValueError, match="unknown loss"):
        TextClassifier.train(TEXTS, LABELS, model=ModelConfig(loss="hinge?"), segmenter=segmenter)


def test_pruning_never_empties_a_block(segmenter):
    model = TextClassifier.train(TEXTS, LABELS, features=FeatureConfig(keep_features=1), segmenter=segmenter)
    assert len(model._char.vocabulary_) >= 1 and len(model._word.vocabulary_) >= 1


@pytest.mark.shared_data
def test_lexicon_from_shared_data(shared_data, tmp_path):
    lexicon = Lexicon.from_shared_data(shared_data / "lexicons")
    assert len(lexicon.polarity) > 20000 and "不" in lexicon.negation and "非常" in lexicon.degree
    assert lexicon.polarity["满意"] > 0 and lexicon.polarity["失望"] < 0
    from nlp.errors import DataNotFoundError
    with pytest.raises(DataNotFoundError, match="negation_words.txt"):
        Lexicon.from_shared_data(tmp_path)


def test_fused_models_score_exactly_as_each_model_alone(segmenter):
    """FusedLinearModels counts n-grams once for several models; each model's figures stay its own."""
    from nlp.classify import FusedLinearModels
    topics = ["城乡建设"] * 6 + ["其他"] * 6 + ["卫生计生"] * 6
    models = [
        TextClassifier.train(TEXTS, LABELS, task="a", segmenter=segmenter),
        TextClassifier.train(TEXTS, LABELS, task="b", segmenter=segmenter, lexicon=LEXICON,
                             features=FeatureConfig(negation=True, lexicon=True)),
        # a second lexicon with other negation cues: its words are marked apart
        TextClassifier.train(TEXTS, LABELS, task="c", segmenter=segmenter,
                             lexicon=Lexicon(polarity={"开心": 1.0}, categories={}, degree={},
                                             negation=frozenset({"没"})),
                             features=FeatureConfig(negation=True, lexicon=True, negation_window=2)),
        TextClassifier.train(TEXTS * 3, LABELS * 3, task="d", segmenter=segmenter, model=ModelConfig(loss="svm")),
        TextClassifier.train(TEXTS, topics, task="e", segmenter=segmenter,
                             features=FeatureConfig(char_ngram_range=(1, 2), collapse_digits=False, max_chars=8)),
        TextClassifier.train(TEXTS, topics, task="f", segmenter=segmenter, features=FeatureConfig(sublinear_tf=False)),
    ]
    probe = TEXTS + ["", "   ", "我不满意，太差了 <b>2024</b>", "没开心", "完全陌生的句子", "非常开心，感谢"]
    words = [segmenter.cut(t) for t in probe]
    fused = FusedLinearModels(models)
    for with_words in (words, None):
        together = fused.probabilities(probe, words=with_words, batch_size=5)
        assert len(together) == len(models)
        for model, probs in zip(models, together):
            np.testing.assert_allclose(probs, model.probabilities(probe, words=with_words), rtol=1e-5, atol=1e-6)
    assert [p["solo"] for p in fused._plans] == [False] * 5 + [True]
    # words: the default plain pair (a, d), two negation cue sets (b, c), other max_chars and digits (e)
    assert len([k for k in fused._groups if k[0] == "word"]) == 4
    assert len([k for k in fused._groups if k[0] == "char"]) == 2
