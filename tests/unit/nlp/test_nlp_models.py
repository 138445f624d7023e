"""The shipped default models: present, small, documented, and right on obvious sentences."""
import json
from pathlib import Path

import pytest
import yaml

from nlp.classify import TextClassifier

REPO = Path(__file__).resolve().parents[3]


@pytest.fixture(scope="module")
def sentiment(models_dir, segmenter):
    return TextClassifier.load(models_dir / "sentiment", segmenter=segmenter)


@pytest.fixture(scope="module")
def topic(models_dir, segmenter):
    return TextClassifier.load(models_dir / "topic", segmenter=segmenter)


def test_topic_labels_match_configs(topic):
    configured = [t["label"] for t in yaml.safe_load((REPO / "configs" / "topics.yaml").read_text("utf-8"))["topics"]]
    assert sorted(topic.labels) == sorted(configured)


@pytest.mark.parametrize("task", ["sentiment", "topic"])
def test_model_dirs_are_documented_and_small(models_dir, task):
    folder = models_dir / task
    size = sum(p.stat().st_size for p in folder.iterdir())
    assert size < 50 * 2**20
    config = json.loads((folder / "config.json").read_text("utf-8"))
    dev = config["metrics"]["dev"]
    assert dev["macro_f1"] > 0.7 and set(dev["per_class"]) == set(config["labels"])
    assert config["training"]["command"].startswith(f"yuqing nlp train {task}")
    assert config["training"]["data"]
    card = (folder / "README.md").read_text("utf-8")
    assert "macro-F1" in card and config["training"]["command"] in card


@pytest.mark.parametrize("text, label", [
    ("太气人了，物业天天停水也没人管，投诉无门", "负面"),
    ("小区垃圾堆积如山，臭气熏天，城管不作为", "负面"),
    ("今天天气真好，心情特别愉快！", "正面"),
    ("感谢社区工作人员的耐心帮助，点赞！", "正面"),
    ("市政府召开常务会议，研究部署下一阶段工作。", "中性"),
])
def test_sentiment_on_obvious_sentences(sentiment, text, label):
    assert sentiment.predict([text])[0][0] == label


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
def test_topic_on_obvious_sentences(topic, text, label):
    assert topic.predict([text])[0][0] == label
