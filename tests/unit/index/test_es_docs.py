"""Post/alert/event ⇄ Elasticsearch documents, and the index templates they must fit (no cluster needed)."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from index.elasticsearch.docs import PostDocuments, alert_document, event_document, load_alert, load_event
from index.elasticsearch.mappings import KINDS, IndexNames, field_types, index_templates, mapping
from index.schema import Alert, Author, Emotion, Engagement, Event, Post, Region, RiskFlag, Sentiment, Topic
from index.segment import get_segmenter

SH = timezone(timedelta(hours=8))
LIANXI = Region(province="江西省", province_code="36", city="九江市", city_code="3604",
                district="濂溪区", district_code="360402", source="text")


def full_post(**changes) -> Post:
    post = Post(
        id="weibo:1", platform="weibo", source="weibo_search", url="https://example.org/1",
        title="九江市暴雨", content="濂溪区暴雨导致道路内涝，市民出行困难 Hello World",
        author=Author(name="九江热心市民", id="u1", followers=12, verified=True, location="江西 九江"),
        published_at=datetime(2024, 5, 6, 1, 0, 0, 123456, tzinfo=SH),
        crawled_at=datetime(2024, 5, 6, 1, 5, tzinfo=timezone.utc),
        engagement=Engagement(reposts=1, comments=2, likes=3),
        tokens=["濂溪区", "暴雨", "导致", "道路", "内涝", "，", "市民", "暴雨", " "], keywords=["暴雨", " 内涝 ", ""],
        sentiment=Sentiment(label="负面", score=0.91), emotion=Emotion(label="angry", score=0.5),
        topics=[Topic(label="城乡建设", score=0.7), Topic(label="环境保护", score=0.2)],
        rumor=RiskFlag(flagged=False, score=0.1), region=LIANXI, event_id="evt-1", dup_group="dup-1",
        is_first_report=True, pii_masked=True, enriched_at=datetime(2024, 5, 6, 2, tzinfo=SH),
        extra={"board": {"reply": None, "tags": [1, "二"]}},
    )
    return post.model_copy(update=changes)


@pytest.fixture(scope="module")
def docs() -> PostDocuments:
    return PostDocuments(get_segmenter())


def test_document_has_the_derived_fields(docs: PostDocuments):
    doc = docs.document(full_post())
    assert doc["topic"] == "城乡建设"
    assert doc["region"]["code"] == "360402" and doc["region"]["name"] == "江西省九江市濂溪区"
    assert doc["engagement"]["total"] == 6
    assert doc["tokens"] == ["濂溪区", "暴雨", "导致", "道路", "内涝", "市民"]      # distinct, searchable
    assert doc["keywords"] == ["暴雨", "内涝"]
    assert doc["raw"]["tokens"][-2:] == ["暴雨", " "]
    words = doc["content_seg"].split()
    assert {"内涝", "道路", "hello", "world", "九江"} <= set(words)   # 九江: a sub-word of 九江市
    assert "，" not in words and all(w == w.lower() for w in words)


def test_post_round_trips_exactly_with_shanghai_times(docs: PostDocuments):
    original = full_post()
    back = PostDocuments.post(docs.document(original))
    assert back.model_dump() == original.model_dump()
    for value in (back.published_at, back.crawled_at, back.enriched_at):
        assert value.utcoffset() == timedelta(hours=8)
    minimal = Post(id="rss:1", platform="rss", source="s", title="标题", published_at=datetime(2024, 1, 1))
    assert PostDocuments.post(docs.document(minimal)).model_dump() == minimal.model_dump()


def test_a_document_that_no_longer_validates_is_skipped_not_raised():
    assert PostDocuments.post({"id": "x", "platform": "weibo"}) is None


def test_alert_and_event_round_trip():
    at = datetime(2024, 5, 6, 8, tzinfo=SH)
    alert = Alert(id="volume:env", rule="volume", rule_type="volume_spike", level="红", title="预警",
                  region=LIANXI, metrics={"ratio": 3.5}, window_start=at - timedelta(hours=6), window_end=at,
                  first_seen=at, last_seen=at, history=[{"at": at.isoformat(), "event": "raised", "n": [1]}])
    assert load_alert(alert_document(alert)).model_dump() == alert.model_dump()
    event = Event(id="e1", title="死鱼", first_post_id="weibo:1", first_seen=at, last_seen=at, post_count=3,
                  platforms={"weibo": 3}, region=LIANXI, extra={"centroid": {"死鱼": 0.5}})
    assert load_event(event_document(event)).model_dump() == event.model_dump()


def _leaves(doc: dict, prefix: str = ""):
    for key, value in doc.items():
        if isinstance(value, dict):
            yield f"{prefix}{key}", "object"
            yield from _leaves(value, f"{prefix}{key}.")
        elif isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
            for item in value:
                yield from _leaves(item, f"{prefix}{key}.")
        else:
            yield f"{prefix}{key}", value


@pytest.mark.parametrize("kind", ["posts", "alerts", "events"])
def test_every_document_field_is_mapped(kind: str, docs: PostDocuments):
    """Strict mappings reject unknown fields, so every field a document can carry must be mapped."""
    at = datetime(2024, 5, 6, 8, tzinfo=SH)
    doc = {
        "posts": lambda: docs.document(full_post()),
        "alerts": lambda: alert_document(Alert(id="a", rule="r", rule_type="t", level="蓝", title="t", region=LIANXI,
                                               metrics={"ratio": 1.0}, window_start=at, window_end=at)),
        "events": lambda: event_document(Event(id="e", title="t", first_post_id="p", first_seen=at, last_seen=at,
                                               platforms={"weibo": 1}, region=LIANXI)),
    }[kind]()
    props = mapping(kind)["properties"]
    mapped = dict(field_types(props))
    unmapped = set()
    for path, _ in _leaves(doc):
        head = path.split(".")[0]
        if props.get(head, {}).get("enabled") is False or props.get(head, {}).get("dynamic") is True:
            continue    # stored as is (extra, raw, history) or mapped by a dynamic template (metrics.*)
        if path not in mapped:
            unmapped.add(path)
    assert not unmapped


def test_templates_cover_every_kind_with_strict_mappings():
    names = IndexNames("city")
    templates = index_templates(names, shards=2, replicas=0)
    assert set(templates) == {f"city-{k}" for k in KINDS}
    posts = templates["city-posts"]
    assert posts["index_patterns"] == ["city-posts-*"]
    assert posts["template"]["aliases"] == {"city-posts": {}}
    assert posts["template"]["settings"]["index.number_of_shards"] == 2
    assert templates["city-alerts"]["index_patterns"] == ["city-alerts"]
    for body in templates.values():
        assert body["template"]["mappings"]["dynamic"] == "strict"
    types = dict(field_types(mapping("posts")["properties"]))
    assert types["published_at"] == "date_nanos"
    assert types["title"] == types["content"] == "text" and types["content_seg"] == "text"
    assert mapping("posts")["properties"]["content_seg"]["analyzer"] == "whitespace"
    assert mapping("posts")["properties"]["content"]["analyzer"] == "standard"
    for name in ("tokens", "sentiment.label", "emotion.label", "topic", "region.code", "region.name",
                 "region.city_code", "platform", "source", "author.name"):
        assert types[name] == "keyword", name
    assert {types[f"engagement.{n}"] for n in ("reposts", "comments", "likes", "total")} == {"long"}


def test_monthly_index_follows_shanghai_time():
    names = IndexNames("yuqing")
    # 2024-05-31 20:00 UTC is already June 1st in Shanghai
    assert names.posts_index(datetime(2024, 5, 31, 20, tzinfo=timezone.utc)) == "yuqing-posts-2024.06"
    assert names.posts_index(datetime(2024, 5, 31, 23, 59)) == "yuqing-posts-2024.05"
