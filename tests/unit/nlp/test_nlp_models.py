"""The shipped default models, scored here on held-out posts this test draws itself.

Each task's dev split is rebuilt exactly as `yuqing nlp train` made it (nlp.train.build_split,
seed 42, the seed recorded in the model's config.json), so none of these posts was used for
fitting. A fixed, seeded sample of it is scored with the shipped model, loaded as enrichment
loads it, against floors written here, and next to a plain reference (character n-gram TF-IDF +
linear SVM) fitted here on a small sample of the train split. The model cards' own figures are
checked against what is measured, not trusted. Needs ../shared/data; skips without it.
"""
from __future__ import annotations

import json
import random
from functools import cache
from pathlib import Path

import pytest
import yaml

from nlp.classify import TextClassifier, load_classifier
from nlp.config import PACKAGED_MODELS_DIR

REPO = Path(__file__).resolve().parents[3]

TASKS = ["polarity", "sentiment", "emotion", "topic", "rumor"]
SEED = 42
SAMPLE = 600            # held-out posts scored per task
REFERENCE_TRAIN = 3000  # train posts the reference is fitted on
MAX_CHARS = 300         # what both models read of a post (topic details run to 1,000 characters)
# Macro-F1 on these samples, measured 2026-12-04 (labelled batches 1–5, hash-stable splits): polarity
# 0.793, sentiment 0.838, emotion 0.675, topic 0.853, rumor 0.793 (time split) (reference: 0.714,
# 0.791, 0.601, 0.800, 0.793). Floors sit 0.03 under, rounded down, so a retrained or damaged model
# that loses more than that fails here.
FLOORS = {"polarity": 0.76, "sentiment": 0.80, "emotion": 0.64, "topic": 0.82, "rumor": 0.76}
# A model card's dev figure (full dev split) may differ from this sample's by sampling error only.
CARD_TOLERANCE = 0.05
# The shipped model may trail the small reference by at most this much: on rumor (3,300 posts, all
# of train fits in REFERENCE_TRAIN) the reference is level with it (0.793 both, 2026-12-04).
REFERENCE_MARGIN = 0.03


@cache
def _split(task: str, data: Path):
    from nlp.train import build_split
    return build_split(task, data, seed=SEED)


@cache
def _held_out(task: str, data: Path):
    _, dev = _split(task, data)
    return random.Random(SEED).sample(dev, min(SAMPLE, len(dev)))


def _macro_f1(gold, pred) -> float:
    from sklearn.metrics import f1_score
    return float(f1_score(gold, pred, labels=sorted(set(gold)), average="macro", zero_division=0))


@cache
def measure_model(task: str, data: Path) -> float:
    from nlp.segment import default_segmenter
    model = load_classifier(PACKAGED_MODELS_DIR / task, segmenter=default_segmenter())
    sample = _held_out(task, data)
    pred = [label for label, _ in model.predict([e.text[:MAX_CHARS] for e in sample])]
    return _macro_f1([e.label for e in sample], pred)


@cache
def measure_reference(task: str, data: Path) -> float:
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.svm import LinearSVC

    from nlp.datasets import subsample
    train, _ = _split(task, data)
    fit_on = subsample(train, REFERENCE_TRAIN, SEED)
    vectorizer = TfidfVectorizer(analyzer="char", ngram_range=(1, 3), sublinear_tf=True, min_df=2)
    features = vectorizer.fit_transform([e.text[:MAX_CHARS] for e in fit_on])
    svm = LinearSVC(C=0.5, class_weight="balanced", random_state=SEED).fit(features, [e.label for e in fit_on])
    sample = _held_out(task, data)
    pred = svm.predict(vectorizer.transform([e.text[:MAX_CHARS] for e in sample]))
    return _macro_f1([e.label for e in sample], list(pred))


def _config(task: str) -> dict:
    return json.loads((PACKAGED_MODELS_DIR / task / "config.json").read_text("utf-8"))


# --- quality on held-out data -----------------------------------------------------------------
@pytest.mark.shared_data
@pytest.mark.parametrize("task", TASKS)
def test_shipped_model_scores_above_its_floor_on_held_out_posts(shared_data, task):
    training = _config(task)["training"]
    # The sample is held out only if the model was trained on the full split this test rebuilds.
    assert training["seed"] == SEED and not training.get("limit"), training
    assert len(_held_out(task, shared_data)) >= (300 if task == "polarity" else 400)
    measured = measure_model(task, shared_data)
    assert measured >= FLOORS[task], f"{task}: macro-F1 {measured:.3f} on held-out posts, floor {FLOORS[task]}"


@pytest.mark.shared_data
@pytest.mark.parametrize("task", TASKS)
def test_shipped_model_is_not_worse_than_a_plain_reference(shared_data, task):
    model, reference = measure_model(task, shared_data), measure_reference(task, shared_data)
    assert model >= reference - REFERENCE_MARGIN, (
        f"{task}: shipped {model:.3f} vs char n-gram TF-IDF + LinearSVC on {REFERENCE_TRAIN} posts {reference:.3f}")


@pytest.mark.shared_data
@pytest.mark.parametrize("task", TASKS)
def test_model_card_figure_matches_what_is_measured(shared_data, task):
    claimed = _config(task)["metrics"]["dev"]["macro_f1"]
    measured = measure_model(task, shared_data)
    assert abs(claimed - measured) <= CARD_TOLERANCE, f"{task}: card says {claimed:.3f}, measured {measured:.3f}"


# --- the team's held-out test set (nlp/labels; never trained on) ----------------------------------
# Macro-F1 measured 2026-12-04 on the whole test split (1,721 posts, batches 1–5): polarity 0.806,
# topic Weibo-style 0.737 (1,262 posts), citizen messages 0.686 (251); floors sit ~0.03 under.
TEST_FLOORS = {("polarity", "all"): 0.77, ("topic", "weibo_style"): 0.70,
               ("topic", "citizen_messages"): 0.65}


@pytest.mark.shared_data
@pytest.mark.parametrize("task, slice_name", sorted(TEST_FLOORS))
def test_shipped_model_on_the_teams_held_out_test_set(shared_data, task, slice_name):
    from nlp.train import predict_labels, task_spec
    items = task_spec(task).heldout(shared_data)[slice_name]
    assert len(items) >= 100
    model = load_classifier(PACKAGED_MODELS_DIR / task)
    pred, _ = predict_labels(model, [e.text for e in items])
    measured = _macro_f1([e.label for e in items], pred)
    assert measured >= TEST_FLOORS[(task, slice_name)], f"{task}/{slice_name}: {measured:.3f}"


@pytest.mark.parametrize("text", ["某化工厂今天下午发生爆炸，3人受伤", "一所小学食堂疑似食物中毒，多名学生送医",
                                  "工地塔吊倒塌，有人员被困"])
def test_polarity_reads_calm_incident_reports_as_negative(models, text):
    assert models["polarity"].predict([text])[0][0] == "负面"


# --- what ships ---------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def models(segmenter):
    return {task: load_classifier(PACKAGED_MODELS_DIR / task, segmenter=segmenter) for task in TASKS}


def test_defaults_are_the_fast_linear_models(models):
    for task, model in models.items():
        assert isinstance(model, TextClassifier) and model.task == task


def test_topic_labels_match_configs(models):
    configured = [t["label"] for t in yaml.safe_load((REPO / "configs" / "topics.yaml").read_text("utf-8"))["topics"]]
    assert sorted(models["topic"].labels) == sorted(configured)


def test_emotion_labels_are_chinese_with_english_aliases(models):
    emotion = models["emotion"]
    assert emotion.labels == ["愤怒", "中性", "高兴", "悲伤", "惊奇", "恐惧"]
    aliases = emotion.config["label_aliases"]
    assert [aliases[label][0] for label in emotion.labels] == ["angry", "neutral", "happy", "sad", "surprise", "fear"]


@pytest.mark.parametrize("task", TASKS)
def test_model_dirs_are_small_and_documented(task):
    folder = PACKAGED_MODELS_DIR / task
    assert sum(p.stat().st_size for p in folder.iterdir()) < 50 * 2**20
    config = _config(task)
    command = config["training"]["command"]
    assert command.startswith(f"yuqing nlp train {task}") and f"--out nlp/models/{task}" in command
    card = (folder / "README.md").read_text("utf-8")
    for needle in ("macro-F1", "reference baseline", "posts/s", "Why this model is the default", command):
        assert needle in card


def test_pretrained_encoder_is_in_the_checkout_and_documented():
    folder = PACKAGED_MODELS_DIR / "char-bert"
    config = json.loads((folder / "config.json").read_text("utf-8"))
    assert config["format"] == "yuqing-char-bert-mlm" and 4 <= config["num_hidden_layers"] <= 6
    assert 256 <= config["hidden_size"] <= 384
    assert sum(p.stat().st_size for p in folder.iterdir()) < 50 * 2**20
    assert "yuqing nlp pretrain" in (folder / "README.md").read_text("utf-8")


@pytest.mark.parametrize("text, label", [
    ("太气人了，物业天天停水也没人管，投诉无门", "负面"),
    ("小区垃圾堆积如山，臭气熏天，城管不作为", "负面"),
    ("今天天气真好，心情特别愉快！", "正面"),
    ("感谢社区工作人员的耐心帮助，点赞！", "正面"),
    ("市政府召开常务会议，研究部署下一阶段工作。", "中性"),
])
def test_sentiment_on_obvious_sentences(models, text, label):
    assert models["sentiment"].predict([text])[0][0] == label


@pytest.mark.parametrize("text, label", [
    ("气死我了！排了三个小时的队，工作人员还在玩手机", "愤怒"),
    ("哈哈哈终于放假了，太开心了！", "高兴"),
    ("外婆走了，再也见不到她了，好难过", "悲伤"),
    ("半夜听到楼道里有奇怪的声音，好害怕", "恐惧"),
])
def test_emotion_on_obvious_sentences(models, text, label):
    assert models["emotion"].predict([text])[0][0] == label


@pytest.mark.parametrize("text, label", [
    ("小区旁边的化工厂每天晚上排放刺鼻气体，居民苦不堪言", "环境保护"),
    ("孩子在学校被欺负，老师不管，家长很无奈", "教育文体"),
    ("公司拖欠工资半年了，讨薪无门", "劳动和社会保障"),
    ("医院挂号难，排队三个小时才看上病", "卫生计生"),
    ("景区门票涨价，游客不满", "商贸旅游"),
    ("小区物业不作为，楼道漏水半年没人修", "城乡建设"),
    ("出租车拒载严重，网约车乱收费", "交通运输"),
    ("梅西打入制胜球，阿根廷夺冠", "其他"),
    ("A股三大指数集体收涨", "其他"),
])
def test_topic_on_obvious_sentences(models, text, label):
    assert models["topic"].predict([text])[0][0] == label


def test_rumor_scores_are_probabilities(models):
    probs = models["rumor"].predict_proba(["紧急扩散！明天起自来水有毒，千万别喝，转给家人！", "市气象台发布明天天气预报"])
    assert all(abs(sum(p.values()) - 1) < 1e-5 for p in probs)
    assert probs[0]["谣言"] > probs[1]["谣言"]


def test_models_sharing_one_batch_normalisation_score_as_alone(models, segmenter):
    """The enricher lets its linear models share the batch's cleaning and normalisation: same figures."""
    import numpy as np
    texts = ["某化工厂今天下午发生爆炸，3人受伤 <script>alert(1)</script>", "ＡＢＣ全角 2024年 感谢网格员",
             "", "不满意！！物业不作为 http://t.cn/x", "学校乱收费"] * 3
    words = [segmenter.cut(t) for t in texts]
    shared: dict = {}
    for task in TASKS:
        together = models[task].probabilities(texts, words=words, shared=shared, batch_size=4)
        alone = models[task].probabilities(texts, words=words, batch_size=4)
        np.testing.assert_allclose(together, alone, rtol=1e-6, atol=1e-7)
    assert shared, "the shared normalisation was not used"


def test_enricher_scores_its_linear_heads_in_one_fused_pass(models, segmenter):
    """The enricher counts n-grams once for the five shipped linear models: same figures as alone."""
    import numpy as np
    from nlp.enrich import Enricher
    enricher = Enricher.from_models_dir(PACKAGED_MODELS_DIR)
    assert sorted(enricher._fused_names) == sorted(TASKS)
    texts = ["某化工厂今天下午发生爆炸，3人受伤 <script>alert(1)</script>", "ＡＢＣ全角 2024年 感谢网格员",
             "", "不满意！！物业不作为 http://t.cn/x", "学校乱收费", "并不是没有人管，只是管不过来"] * 2
    words = [enricher.segmenter.cut(t) for t in texts]
    fused = enricher._probabilities(texts, words)
    for task in TASKS:
        np.testing.assert_allclose(fused[task], models[task].probabilities(texts, words=words), rtol=1e-5, atol=1e-6)
