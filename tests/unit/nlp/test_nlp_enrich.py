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
