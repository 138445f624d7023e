from datetime import datetime

import pytest

from index.schema import Author, Post
from nlp.enrich import Enricher
from nlp.errors import ModelNotFoundError


def make_post(i: int, content: str, title: str = "", location: str | None = None) -> Post:
    return Post(id=f"weibo:{i}", platform="weibo", source="test", title=title, content=content,
                published_at=datetime(2024, 5, 1, 12), author=Author(name=f"u{i}", location=location))


@pytest.fixture(scope="module")
def enricher(models_dir):
    return Enricher.from_models_dir(models_dir, home_region=["3604"], batch_size=2)


POSTS = [
    make_post(1, "九江市濂溪区化工园区夜间偷排废气，刺鼻异味熏得居民睡不着，打12345热线也没人管！"),
    make_post(2, "感谢网格员帮我们解决了停水问题，点赞！", location="江西 九江"),
    make_post(3, "孩子学校乱收费，联系电话13912345678，希望教育局查一查", title="反映学校乱收费"),
    make_post(4, "梅西打入制胜球，阿根廷夺冠"),
    make_post(5, "今天天气不错"),
]


def test_enrich_fills_every_field(enricher):
    out = enricher.enrich(POSTS)
    assert [p.id for p in out] == [p.id for p in POSTS]
    first = out[0]
    assert first.sentiment.label == "负面" and 0 < first.sentiment.score <= 1
    assert first.topic == "环境保护"
    assert first.region.district == "濂溪区" and first.region.source == "text"
    assert "化工园区" in first.tokens and "12345热线" in first.tokens and "的" not in first.tokens
    assert first.keywords and len(first.keywords) <= 8 and all(len(k) >= 2 for k in first.keywords)
    assert first.enriched_at is not None and first.pii_masked is False

    assert out[1].sentiment.label == "正面"
    assert out[1].region.city == "九江市" and out[1].region.source == "author"

    assert out[2].pii_masked is True
    assert "13912345678" in out[2].content      # stored text is kept; reports mask it
    assert out[2].topic == "教育文体"

    assert out[3].topic == "其他"
    assert out[4].region is None


def test_inputs_are_not_modified(enricher):
    enricher.enrich(POSTS[:1])
    assert POSTS[0].sentiment is None and POSTS[0].tokens == [] and POSTS[0].enriched_at is None


def test_topics_are_sorted_probabilities(enricher):
    for post in enricher.enrich(POSTS):
        scores = [t.score for t in post.topics]
        assert 1 <= len(scores) <= 3 and scores == sorted(scores, reverse=True)


def test_enriched_posts_round_trip_through_json(enricher):
    for post in enricher.enrich(POSTS):
        again = Post.model_validate_json(post.model_dump_json())
        assert again == post


def test_failing_post_is_kept_unenriched(models_dir):
    """A post that breaks a stage comes back as it was; its batch neighbours are still enriched."""
    base = Enricher.from_models_dir(models_dir)

    class FragileRegions(type(base.regions)):
        def extract(self, text, *args, **kwargs):
            if "炸" in text:
                raise RuntimeError("boom")
            return super().extract(text, *args, **kwargs)

    base.regions = FragileRegions(base.regions.gazetteer, (), base.segmenter)
    posts = [make_post(1, "九江下雨了"), make_post(2, "炸了"), make_post(3, "南昌晴天")]
    out = base.enrich(posts)
    assert [p.id for p in out] == ["weibo:1", "weibo:2", "weibo:3"]
    assert out[1].enriched_at is None and out[1] == posts[1]
    assert out[0].region.city == "九江市" and out[2].region.city == "南昌市"


def test_missing_models_dir_is_a_clear_error(tmp_path):
    with pytest.raises(ModelNotFoundError):
        Enricher.from_models_dir(tmp_path / "none")
    (tmp_path / "models").mkdir()
    with pytest.raises(ModelNotFoundError, match="sentiment"):
        Enricher.from_models_dir(tmp_path / "models")


# --- optional models, cleaning, classifier protocol ---------------------------------------------
@pytest.fixture(scope="module")
def models_with_optional(tmp_path_factory, models_dir, segmenter):
    """The shipped sentiment/topic models plus tiny emotion and rumor models trained here."""
    import shutil

    from nlp.classify import TextClassifier
    root = tmp_path_factory.mktemp("models")
    for name in ("sentiment", "topic"):
        shutil.copytree(models_dir / name, root / name)
    emotion = TextClassifier.train(
        ["气死我了，太过分了", "真让人生气，投诉无门", "好开心啊，终于解决了", "太高兴了，点赞",
         "好难过，心里很痛", "伤心，哭了一晚上", "今天天气一般", "通知如下，请知悉"],
        ["angry", "angry", "happy", "happy", "sad", "sad", "neutral", "neutral"], task="emotion", segmenter=segmenter)
    emotion.save(root / "emotion")
    rumor = TextClassifier.train(
        ["紧急扩散！自来水被污染千万别喝", "转发保平安，明天全城停水", "扩散！化工厂爆炸毒气泄漏",
         "市政府召开新闻发布会通报情况", "气象台发布寒潮蓝色预警", "区教育局公布招生方案"],
        ["谣言", "谣言", "谣言", "非谣言", "非谣言", "非谣言"], task="rumor", segmenter=segmenter)
    rumor.save(root / "rumor")
    return root


def test_optional_models_fill_emotion_and_rumor(models_with_optional):
    enricher = Enricher.from_models_dir(models_with_optional)
    assert enricher.emotion is not None and enricher.rumor is not None
    [angry, rumor] = enricher.enrich([make_post(1, "气死我了，太过分了，投诉无门"),
                                      make_post(2, "紧急扩散！自来水被污染了千万别喝")])
    assert angry.emotion.label == "angry" and 0 < angry.emotion.score <= 1
    assert rumor.rumor.flagged and rumor.rumor.score > 0.5
    assert angry.rumor.score == pytest.approx(1 - enricher.rumor.predict_proba([angry.text])[0]["非谣言"], abs=0.01)


def test_optional_models_absent_leave_fields_empty(models_with_optional, tmp_path, caplog):
    import logging
    import shutil
    for name in ("sentiment", "topic"):
        shutil.copytree(models_with_optional / name, tmp_path / name)
    with caplog.at_level(logging.INFO, logger="nlp.enrich"):
        enricher = Enricher.from_models_dir(tmp_path)
    assert enricher.emotion is None and enricher.rumor is None
    assert "emotion not installed" in caplog.text and "rumor not installed" in caplog.text
    [post] = enricher.enrich([make_post(1, "气死我了")])
    assert post.emotion is None and post.rumor is None and post.sentiment is not None
    # no polarity model: polarity falls back to the sentiment reading, and the log says so
    assert enricher.polarity is None and "no polarity model" in caplog.text
    assert post.polarity == post.sentiment


def test_polarity_comes_from_its_own_model_not_the_tone(models_with_optional, tmp_path, segmenter):
    import shutil

    from nlp.classify import TextClassifier
    for name in ("sentiment", "topic"):
        shutil.copytree(models_with_optional / name, tmp_path / name)
    # a polarity model that reads every calm accident report as 负面
    polarity = TextClassifier.train(
        ["化工厂发生爆炸，3人受伤", "工地塔吊倒塌，有人员被困", "小学食堂疑似食物中毒", "新开公交线路，方便市民",
         "道路修好了，感谢", "今天天气不错", "周末去看电影"],
        ["负面", "负面", "负面", "正面", "正面", "中性", "中性"], task="polarity", segmenter=segmenter)
    polarity.save(tmp_path / "polarity")
    enricher = Enricher.from_models_dir(tmp_path)
    [post] = enricher.enrich([make_post(1, "某化工厂今天下午发生爆炸，3人受伤")])
    assert post.polarity.label == "负面" and 0 < post.polarity.score <= 1
    assert enricher.polarity is not None and post.sentiment is not None     # the tone is still read, apart


def test_rumor_label_is_found_or_the_error_says_how(models_with_optional):
    from nlp.classify import TextClassifier
    from nlp.enrich import risk_label_index
    from nlp.errors import ModelFormatError
    model = TextClassifier.load(models_with_optional / "rumor")
    assert model.labels[risk_label_index(model)] == "谣言"

    class Unnamed:
        labels = ["a", "b"]
        config = {}
    with pytest.raises(ModelFormatError, match="positive_label"):
        risk_label_index(Unnamed())
    Unnamed.config = {"positive_label": "b"}
    assert risk_label_index(Unnamed()) == 1


def test_classifier_protocol_without_probabilities_method(models_dir):
    """A model exposing only labels/predict_proba (the transformer protocol) is used the same way."""
    base = Enricher.from_models_dir(models_dir)

    class ProtocolOnly:
        def __init__(self, inner):
            self.inner, self.labels, self.task = inner, inner.labels, inner.task

        def predict_proba(self, texts, *, words=None):
            return self.inner.predict_proba(texts, words=words)

    wrapped = Enricher(segmenter=base.segmenter, sentiment=ProtocolOnly(base.sentiment),
                       topic=ProtocolOnly(base.topic), regions=base.regions)
    expected, got = base.enrich(POSTS), wrapped.enrich(POSTS)
    assert [p.sentiment for p in got] == [p.sentiment for p in expected]
    assert [p.topics for p in got] == [p.topics for p in expected]


def test_links_and_attributions_do_not_reach_tokens_or_regions(enricher):
    [post] = enricher.enrich([make_post(1, "小吃又便宜又好吃[馋嘴] http://t.cn/A6xyz12 九江夜市真热闹 （来源：浔阳晚报）")])
    assert "馋嘴" not in post.tokens and "http" not in post.tokens and "cn" not in post.tokens
    assert "晚报" not in post.keywords and "馋嘴" not in post.keywords
    assert post.region.city == "九江市" and post.region.district is None     # not 浔阳区 from the attribution
    assert "http://t.cn/A6xyz12" in post.content                             # the stored text is untouched


def test_posts_are_tagged_with_the_schemes_they_match(enricher):
    from nlp.schemes import SchemeDef, SchemeMatcher
    schemes = SchemeMatcher([SchemeDef(name="濂溪区水环境", subject=["化工厂"], region_codes=["360402"],
                                       event=["死鱼", "异味"]),
                             SchemeDef(name="安全生产", event=["爆炸"], exclude=["演练"])])
    tagging = Enricher(segmenter=enricher.segmenter, sentiment=enricher.sentiment, topic=enricher.topic,
                       regions=enricher.regions, schemes=schemes)
    posts = tagging.enrich([make_post(1, "濂溪区一家化工厂附近河里大量死鱼"),
                            make_post(2, "浔阳区化工厂附近死鱼"),
                            make_post(3, "化工厂举行爆炸应急演练"),
                            make_post(4, "化工厂发生爆炸，濂溪区河边有异味")])
    assert [p.region.district_code for p in posts[:2]] == ["360402", "360403"]
    assert [p.schemes for p in posts] == [["濂溪区水环境"], [], [], ["濂溪区水环境", "安全生产"]]
    assert enricher.enrich([make_post(5, "濂溪区化工厂死鱼")])[0].schemes == []   # no schemes configured
