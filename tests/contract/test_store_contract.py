"""The Store contract: what every backend promises the warning engine, reports and UI.

Runs once per backend registered in conftest.BACKENDS. Posts are built with
index.schema.Post directly, with enrichment fields filled by hand.
"""
from __future__ import annotations

from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from index.schema import (Alert, AlertBasis, AlertExample, AlertPeak, Author, Emotion, Engagement, Event,
                          LevelAdjustment, Post, Region, Sentiment, Topic)
from index.querylang import QuerySyntaxError
from index.store import Bucket, PostQuery, Store

SH = timezone(timedelta(hours=8))   # Asia/Shanghai's offset; results must carry it
T0 = datetime(2024, 5, 6, 0, 0, tzinfo=SH)   # a Monday, local midnight
ENRICHED_AT = T0 + timedelta(days=3)

LIANXI = Region(province="江西省", province_code="36", city="九江市", city_code="3604",
                district="濂溪区", district_code="360402", source="text")
XUNYANG = Region(province="江西省", province_code="36", city="九江市", city_code="3604",
                 district="浔阳区", district_code="360403", source="text")
JIUJIANG = Region(province="江西省", province_code="36", city="九江市", city_code="3604", source="text")
NANCHANG = Region(province="江西省", province_code="36", city="南昌市", city_code="3601", source="author")


def make_post(pid: str, platform: str, source: str, at: datetime, *, title: str = "", content: str = "",
              tokens: list[str] | None = None, keywords: list[str] | None = None, sentiment: str | None = None,
              topic: str | None = None, region: Region | None = None, engagement: Engagement | None = None,
              event_id: str | None = None, dup_group: str | None = None, author: str | None = None,
              emotion: str | None = None, enriched: bool = True, polarity: str | None = None) -> Post:
    return Post(
        id=pid, platform=platform, source=source, url=f"https://example.org/{pid}", title=title, content=content,
        published_at=at, crawled_at=at + timedelta(minutes=5), author=Author(name=author),
        engagement=engagement or Engagement(), tokens=tokens or [], keywords=keywords or [],
        sentiment=Sentiment(label=sentiment, score=0.9) if sentiment else None,
        polarity=Sentiment(label=polarity, score=0.8) if polarity else None,
        emotion=Emotion(label=emotion, score=0.8) if emotion else None,
        topics=[Topic(label=topic, score=0.7)] if topic else [], region=region,
        event_id=event_id, dup_group=dup_group, enriched_at=ENRICHED_AT if enriched else None,
    )


def corpus() -> list[Post]:
    """Seven posts over three local days; counts per field are chosen to be distinct."""
    return [
        make_post("weibo:1", "weibo", "weibo_search", T0 + timedelta(hours=1),
                  content="濂溪区暴雨导致道路内涝，市民出行困难",
                  tokens=["濂溪区", "暴雨", "导致", "道路", "内涝", "，", "市民", "出行", "困难"],
                  keywords=["暴雨", "内涝"], sentiment="负面", topic="城乡建设", region=LIANXI,
                  engagement=Engagement(likes=100), event_id="evt-rain", author="九江热心市民", emotion="angry",
                  polarity="负面"),
        make_post("news:2", "news", "metro_news", T0 + timedelta(hours=2),
                  title="九江市召开防汛工作会议", content="会议部署暴雨天气防汛工作。",
                  tokens=["九江市", "召开", "防汛", "工作", "会议", "会议", "部署", "暴雨", "天气", "防汛", "工作",
                          "。"],
                  keywords=["暴雨", "防汛"], sentiment="中性", topic="城乡建设", region=JIUJIANG,
                  event_id="evt-rain", author="九江日报"),
        make_post("gov_board:3", "gov_board", "city_board", T0 + timedelta(hours=23, minutes=30),
                  title="小区垃圾长期无人清理", content="浔阳区某小区垃圾堆积，气味难闻，请求环保部门处理",
                  tokens=["小区", "垃圾", "长期", "无人", "清理", "浔阳区", "某", "小区", "垃圾", "堆积"],
                  keywords=["垃圾"], sentiment="负面", topic="环境保护", region=XUNYANG,
                  engagement=Engagement(comments=5), emotion="angry", polarity="负面"),
        make_post("weibo:4", "weibo", "weibo_search", T0 + timedelta(days=1, minutes=30),
                  content="化工厂排放废气，附近居民担心污染",
                  tokens=["化工厂", "排放", "废气", "，", "附近", "居民", "担心", "污染"],
                  keywords=["废气", "污染"], sentiment="负面", topic="环境保护", region=LIANXI,
                  engagement=Engagement(reposts=500), emotion="fear", dup_group="dup-gas", polarity="负面"),
        make_post("news:5", "news", "metro_news", T0 + timedelta(days=1, hours=9),
                  title="南昌地铁新线开通", content="南昌地铁新线今日开通运营，市民点赞。",
                  tokens=["南昌", "地铁", "新线", "今日", "开通", "运营", "，", "市民", "点赞", "。"],
                  keywords=["地铁"], sentiment="正面", topic="交通运输", region=NANCHANG,
                  engagement=Engagement(likes=20), polarity="正面"),
        # tokens left empty: the store segments the text itself
        make_post("rss:6", "rss", "gov_rss", T0 + timedelta(days=2, hours=10),
                  title="九江发布暴雨蓝色预警", content="气象台发布暴雨蓝色预警，提醒市民注意防范暴雨天气。",
                  keywords=["暴雨", "预警"], sentiment="中性", topic="城乡建设", region=JIUJIANG,
                  polarity="负面"),   # a calm notice of a danger: 中性 in tone, 负面 in polarity
        make_post("forum:7", "forum", "local_forum", T0 + timedelta(days=2, hours=12),
                  title="有人知道暴雨天哪里积水吗", engagement=Engagement(comments=3), enriched=False),
    ]


def make_alert(aid: str, *, status: str = "new", agency: str | None = "env", level: str = "黄",
               last_seen: datetime = T0, topic: str | None = "环境保护") -> Alert:
    return Alert(id=aid, rule="volume", rule_type="volume_spike", level=level, title=f"预警 {aid}",
                 summary="信息量激增", status=status, topic=topic, region=LIANXI, agency=agency,
                 keywords=["废气"], post_ids=["weibo:4"], metrics={"ratio": 3.5},
                 window_start=last_seen - timedelta(hours=1), window_end=last_seen,
                 first_seen=last_seen - timedelta(minutes=30), last_seen=last_seen,
                 history=[{"at": last_seen.isoformat(), "event": "raised"}])


@pytest.fixture
def loaded(store: Store) -> Store:
    report = store.upsert_posts(corpus())
    assert report.written == 7 and report.errors == {}
    return store


def ids_of(posts) -> list[str]:
    return [p.id for p in posts]


def hit_ids(result) -> list[str]:
    return [h.post.id for h in result.hits]


def assert_local(dt: datetime) -> None:
    assert dt.tzinfo is not None and dt.utcoffset() == timedelta(hours=8), dt


# --- upsert, get, iterate ---------------------------------------------------------------
def test_same_post_twice_is_stored_once(store: Store):
    post = corpus()[0]
    assert store.upsert_posts([post]).written == 1
    assert store.upsert_posts([post]).written == 1
    assert store.count() == 1
    assert ids_of(store.iter_posts()) == ["weibo:1"]
    assert store.search(PostQuery(text="内涝")).total == 1


def test_duplicate_ids_in_one_batch_keep_the_last(store: Store):
    first = corpus()[0]
    second = first.model_copy(update={"content": "第二版内容 地震", "tokens": ["第二版", "内容", "地震"]})
    store.upsert_posts([first, second])
    assert store.count() == 1
    assert store.get_posts(["weibo:1"])[0].content == "第二版内容 地震"
    assert store.search(PostQuery(text="地震")).total == 1
    assert store.search(PostQuery(text="内涝")).total == 0


def test_update_replaces_every_indexed_field(loaded: Store):
    old = loaded.get_posts(["weibo:1"])[0]
    new = old.model_copy(update={
        "content": "桥梁发生地震裂缝", "tokens": ["桥梁", "发生", "地震", "裂缝"], "keywords": ["地震"],
        "sentiment": Sentiment(label="中性", score=0.6), "topics": [Topic(label="交通运输", score=0.9)],
        "region": NANCHANG, "published_at": T0 + timedelta(days=2, hours=1),
    })
    loaded.upsert_posts([new])
    assert loaded.count() == 7
    assert loaded.search(PostQuery(text="内涝")).total == 0
    assert hit_ids(loaded.search(PostQuery(text="地震"))) == ["weibo:1"]
    assert loaded.count(PostQuery(sentiments=("负面",))) == 2
    assert loaded.count(PostQuery(topics=("交通运输",))) == 2
    assert loaded.count(PostQuery(region_codes=("360402",))) == 1
    assert loaded.count(PostQuery(region_codes=("3601",))) == 2
    tokens = {b.key: b.count for b in loaded.terms(PostQuery(), "tokens", size=100)}
    assert "内涝" not in tokens and tokens["地震"] == 1
    keywords = {b.key: b.count for b in loaded.terms(PostQuery(), "keywords", size=100)}
    assert keywords["暴雨"] == 2 and keywords["地震"] == 1
    assert ids_of(loaded.iter_posts(PostQuery(start=T0 + timedelta(days=2))))[:2] == ["weibo:1", "rss:6"]


def test_round_trip_keeps_every_field_and_returns_shanghai_time(store: Store):
    original = corpus()[0]
    utc_post = corpus()[4].model_copy(
        update={"published_at": (T0 + timedelta(days=1, hours=9)).astimezone(timezone.utc)})
    store.upsert_posts([original, utc_post])
    got = store.get_posts(["weibo:1", "news:5"])
    assert got[0].model_dump() == original.model_dump()
    assert got[1].published_at == T0 + timedelta(days=1, hours=9)
    for post in got:
        assert_local(post.published_at)
        assert_local(post.crawled_at)
        assert_local(post.enriched_at)
    assert got[0].sentiment.label == "负面" and got[0].topic == "城乡建设"
    assert got[0].region.district_code == "360402"


def test_get_posts_keeps_the_requested_order_and_skips_missing(loaded: Store):
    got = loaded.get_posts(["rss:6", "missing:1", "weibo:1", "news:2"])
    assert ids_of(got) == ["rss:6", "weibo:1", "news:2"]
    assert loaded.get_posts([]) == []


def test_iter_posts_is_oldest_first_across_batches(loaded: Store):
    expected = ["weibo:1", "news:2", "gov_board:3", "weibo:4", "news:5", "rss:6", "forum:7"]
    assert ids_of(loaded.iter_posts(batch_size=2)) == expected
    assert ids_of(loaded.iter_posts(PostQuery(platforms=("weibo",)), batch_size=1)) == ["weibo:1", "weibo:4"]
    assert ids_of(loaded.iter_posts(PostQuery(enriched=False))) == ["forum:7"]
    assert ids_of(loaded.iter_posts(PostQuery(text="暴雨"), batch_size=3)) == ["weibo:1", "news:2", "rss:6", "forum:7"]


def test_iter_posts_returns_posts_with_equal_times_exactly_once(store: Store):
    same_time = [make_post(f"forum:s{i}", "forum", "local_forum", T0, title=f"同一时刻 {i}") for i in range(7)]
    store.upsert_posts(same_time)
    got = ids_of(store.iter_posts(batch_size=3))
    assert sorted(got) == sorted(p.id for p in same_time) and len(got) == 7


def test_upsert_report_counts_written_posts(store: Store):
    report = store.upsert_posts(iter(corpus()))
    assert report.written == 7
    assert report.errors == {}
    assert store.upsert_posts([]).written == 0


# --- search -------------------------------------------------------------------------------
def test_search_finds_chinese_words(loaded: Store):
    result = loaded.search(PostQuery(text="暴雨"))
    assert result.total == 4
    assert set(hit_ids(result)) == {"weibo:1", "news:2", "rss:6", "forum:7"}
    assert loaded.search(PostQuery(text="废气")).total == 1
    assert loaded.search(PostQuery(text="台风")).total == 0


def test_search_ands_words(loaded: Store):
    assert set(hit_ids(loaded.search(PostQuery(text="暴雨 九江")))) == {"news:2", "rss:6"}
    assert set(hit_ids(loaded.search(PostQuery(text="暴雨 内涝")))) == {"weibo:1"}
    assert loaded.search(PostQuery(text="暴雨 地铁")).total == 0


def test_search_finds_a_word_inside_a_longer_token(loaded: Store):
    # "九江市" is one token of news:2; a search for "九江" still finds it.
    assert "news:2" in hit_ids(loaded.search(PostQuery(text="九江")))


def test_search_quoted_phrase_matches_consecutive_words_in_order(loaded: Store):
    assert hit_ids(loaded.search(PostQuery(text='"暴雨蓝色预警"'))) == ["rss:6"]
    assert hit_ids(loaded.search(PostQuery(text='"暴雨导致"'))) == ["weibo:1"]
    assert loaded.search(PostQuery(text='"预警蓝色"')).total == 0
    assert loaded.search(PostQuery(text='"导致暴雨"')).total == 0
    assert hit_ids(loaded.search(PostQuery(text='九江 "蓝色预警"'))) == ["rss:6"]


def test_search_applies_filters(loaded: Store):
    text = "暴雨"
    assert hit_ids(loaded.search(PostQuery(text=text, platforms=("weibo",)))) == ["weibo:1"]
    assert hit_ids(loaded.search(PostQuery(text=text, sentiments=("负面",)))) == ["weibo:1"]
    assert set(hit_ids(loaded.search(PostQuery(text=text, region_codes=("3604",))))) == {"weibo:1", "news:2", "rss:6"}
    assert set(hit_ids(loaded.search(PostQuery(text=text, start=T0, end=T0 + timedelta(days=1))))) == {
        "weibo:1", "news:2"}
    assert hit_ids(loaded.search(PostQuery(text=text, sources=("gov_rss",)))) == ["rss:6"]
    assert hit_ids(loaded.search(PostQuery(text=text, topics=("城乡建设",), event_ids=("evt-rain",)),
                                 sort="oldest")) == ["weibo:1", "news:2"]
    assert hit_ids(loaded.search(PostQuery(text=text, enriched=False))) == ["forum:7"]
    assert hit_ids(loaded.search(PostQuery(text=text, ids=("rss:6", "weibo:4")))) == ["rss:6"]


def test_search_without_text_filters_only(loaded: Store):
    result = loaded.search(PostQuery(platforms=("news",)))
    assert result.total == 2 and hit_ids(result) == ["news:5", "news:2"]
    assert all(h.highlight is None for h in result.hits)


def test_search_sorts(loaded: Store):
    query = PostQuery(text="暴雨")
    assert hit_ids(loaded.search(query, sort="newest")) == ["forum:7", "rss:6", "news:2", "weibo:1"]
    assert hit_ids(loaded.search(query, sort="oldest")) == ["weibo:1", "news:2", "rss:6", "forum:7"]
    assert hit_ids(loaded.search(query, sort="engagement"))[:2] == ["weibo:1", "forum:7"]
    relevance = loaded.search(query, sort="relevance")
    assert sorted(hit_ids(relevance)) == sorted(hit_ids(loaded.search(query)))
    scores = [h.score for h in relevance.hits]
    assert scores == sorted(scores, reverse=True)
    assert hit_ids(loaded.search(PostQuery(), sort="engagement"))[:3] == ["weibo:4", "weibo:1", "news:5"]


def test_search_relevance_ranks_stronger_matches_first(store: Store):
    filler = [make_post(f"news:f{i}", "news", "metro_news", T0 + timedelta(minutes=i),
                        title=f"本地新闻{i}", content="市政府召开常务会议，研究部署近期重点工作。") for i in range(12)]
    weak = make_post("news:weak", "news", "metro_news", T0 + timedelta(hours=3), title="城市综合新闻",
                     content="今日本市多个部门召开会议研究部署工作，会后提及山体滑坡隐患排查，其余事项照常推进。")
    strong = make_post("news:strong", "news", "metro_news", T0, title="山体滑坡致道路中断",
                       content="山体滑坡发生后，抢险队伍赶赴山体滑坡现场。")
    store.upsert_posts([*filler, weak, strong])
    result = store.search(PostQuery(text="滑坡"), sort="relevance")
    assert hit_ids(result) == ["news:strong", "news:weak"]
    assert result.hits[0].score > result.hits[1].score


def test_search_pages_with_size_and_offset(loaded: Store):
    page = loaded.search(PostQuery(text="暴雨"), size=2, offset=2, sort="newest")
    assert page.total == 4
    assert hit_ids(page) == ["news:2", "weibo:1"]
    assert loaded.search(PostQuery(text="暴雨"), size=2, offset=10).hits == []


def test_search_highlights_matches_without_spaces_between_chinese_words(loaded: Store):
    hit = loaded.search(PostQuery(text="内涝")).hits[0]
    assert hit.highlight and "道路<em>内涝</em>" in hit.highlight
    assert " " not in hit.highlight
    rss = loaded.search(PostQuery(text="暴雨 预警", sources=("gov_rss",))).hits[0]
    assert "<em>暴雨</em>" in rss.highlight and "<em>预警</em>" in rss.highlight


def test_search_highlight_escapes_html(store: Store):
    store.upsert_posts([make_post("forum:x", "forum", "local_forum", T0, title="注意",
                                  content="有人发帖<script>alert(1)</script>散布谣言")])
    hit = store.search(PostQuery(text="谣言")).hits[0]
    assert "<em>谣言</em>" in hit.highlight
    assert "<script>" not in hit.highlight


@pytest.mark.parametrize("text", [
    '"', '""', '"暴雨', '暴雨"', "AND", "OR NOT", "暴雨 AND", "NOT 暴雨", "(", ")", "(暴雨", "*", "暴雨*",
    "NEAR(暴雨 内涝)", "title:暴雨", "{title body}: 暴雨", "^暴雨", "'", "-暴雨", "+暴雨", ":", "\\", "%", "_",
    "暴雨' OR 1=1 --", "“暴雨", "。，！", "   ", "a" * 300, "暴雨 " * 50,
])
def test_search_survives_query_syntax_in_user_text(loaded: Store, text: str):
    """Anything typed either searches or is refused with a QuerySyntaxError: no backend error, no injection."""
    try:
        result = loaded.search(PostQuery(text=text))
    except QuerySyntaxError:
        with pytest.raises(QuerySyntaxError):
            loaded.count(PostQuery(text=text))
        return
    assert 0 <= result.total <= 7
    assert len(result.hits) == min(result.total, 20)
    assert loaded.count(PostQuery(text=text)) == result.total


def test_unclosed_quote_runs_to_the_end(loaded: Store):
    assert loaded.search(PostQuery(text='"暴雨')).total == 4
    assert set(hit_ids(loaded.search(PostQuery(text='九江 “蓝色预警')))) == {"rss:6"}


# --- the query language (index.querylang, docs/search.md) ---------------------------------
@pytest.mark.parametrize("text, expected", [
    ("暴雨 OR 废气", {"weibo:1", "news:2", "rss:6", "forum:7", "weibo:4"}),
    ("暴雨 AND 九江", {"news:2", "rss:6"}),
    ("暴雨 -内涝", {"news:2", "rss:6", "forum:7"}),
    ("暴雨 NOT 内涝", {"news:2", "rss:6", "forum:7"}),
    ("暴雨 OR 废气 -内涝", {"weibo:1", "news:2", "rss:6", "forum:7", "weibo:4"}),   # NOT > AND > OR
    ("暴雨 OR 废气 -污染", {"weibo:1", "news:2", "rss:6", "forum:7"}),
    ("(暴雨 OR 垃圾) -(九江 OR 内涝)", {"gov_board:3", "forum:7"}),
    ("((暴雨 OR 垃圾) (九江 OR 浔阳区)) OR 地铁", {"news:2", "rss:6", "gov_board:3", "news:5"}),
    ('"暴雨导致" OR 地铁', {"weibo:1", "news:5"}),
    ('-"暴雨蓝色预警" 九江', {"news:2"}),
    ("platform:weibo", {"weibo:1", "weibo:4"}),
    ("platform:rss OR 内涝", {"rss:6", "weibo:1"}),
    ("platform:weibo 内涝", {"weibo:1"}),
    ("暴雨 -platform:weibo", {"news:2", "rss:6", "forum:7"}),
    ("source:gov_rss", {"rss:6"}),
    ("polarity:负面", {"weibo:1", "gov_board:3", "weibo:4", "rss:6"}),
    ("polarity:negative -sentiment:负面", {"rss:6"}),
    ("sentiment:正面 OR emotion:fear", {"news:5", "weibo:4"}),
    ("topic:环境保护", {"gov_board:3", "weibo:4"}),
    ('author:"九江日报"', {"news:2"}),
    ("event:evt-rain -author:九江日报", {"weibo:1"}),
    ("region:九江市", {"weibo:1", "news:2", "gov_board:3", "weibo:4", "rss:6"}),
    ("region:浔阳区 OR region:南昌市", {"gov_board:3", "news:5"}),
    ("region:江西省 -region:九江市", {"news:5"}),
    ("region:360402", {"weibo:1", "weibo:4"}),
    ("region:3601 OR region:360403", {"news:5", "gov_board:3"}),
    ("REGION：36 -region:3604", {"news:5"}),           # field names in any case; a full-width colon
    ("title:暴雨", {"forum:7", "rss:6"}),
    ('title:"蓝色预警" OR title:地铁', {"rss:6", "news:5"}),
    ("暴雨 -title:暴雨", {"weibo:1", "news:2"}),
    ("-暴雨", {"gov_board:3", "weibo:4", "news:5"}),
    ("NOT platform:weibo NOT platform:news", {"gov_board:3", "rss:6", "forum:7"}),
    ("-(暴雨 OR 废气)", {"gov_board:3", "news:5"}),
    ('"暴雨 OR 内涝"', set()),                 # operators inside quotes are words of the phrase
    ("10:30 暴雨", set()),                     # not a field: plain text that no post holds
])
def test_query_language(loaded: Store, text: str, expected: set[str]):
    result = loaded.search(PostQuery(text=text), size=10)
    assert set(hit_ids(result)) == expected and result.total == len(expected)
    assert loaded.count(PostQuery(text=text)) == len(expected)
    assert sum(b.count for b in loaded.terms(PostQuery(text=text), "platform")) == len(expected)
    assert loaded.search(PostQuery(text=text), size=10, sort="relevance").total == len(expected)


def test_query_language_with_filters_and_histograms(loaded: Store):
    query = PostQuery(text="(暴雨 OR 废气) -platform:news", start=T0, end=T0 + timedelta(days=2))
    assert set(hit_ids(loaded.search(query))) == {"weibo:1", "weibo:4"}
    assert sum(b.total for b in loaded.histogram(query, "day")) == 2


def test_operators_typed_inside_quotes_are_text(store: Store):
    store.upsert_posts([*corpus(), make_post("forum:8", "forum", "local_forum", T0, content="本次投票 OR 弃权 NOT 反对")])
    assert hit_ids(store.search(PostQuery(text='"OR"'))) == ["forum:8"]
    assert hit_ids(store.search(PostQuery(text='“NOT 反对” 投票'))) == ["forum:8"]
    assert store.search(PostQuery(text="and or not")).total == 0   # lower case: words, ANDed
    with pytest.raises(QuerySyntaxError, match="OR at 1 needs a term before it"):
        store.search(PostQuery(text="OR"))


def test_scheme_field(store: Store):
    tagged = [p.model_copy(update={"schemes": schemes}) for p, schemes in
              zip(corpus()[:3], (["防汛"], ["防汛", "会议"], []))]
    store.upsert_posts(tagged)
    assert set(hit_ids(store.search(PostQuery(text="scheme:防汛")))) == {"weibo:1", "news:2"}
    assert hit_ids(store.search(PostQuery(text="-scheme:防汛"))) == ["gov_board:3"]
    assert hit_ids(store.search(PostQuery(text="scheme:会议 OR 垃圾"), sort="oldest")) == ["news:2", "gov_board:3"]


def test_highlights_mark_positive_terms_only(loaded: Store):
    [hit] = loaded.search(PostQuery(text="预警 OR -暴雨", platforms=("rss",))).hits
    assert "<em>预警</em>" in hit.highlight and "<em>暴雨" not in hit.highlight
    [hit] = loaded.search(PostQuery(text="九江 -内涝 platform:rss")).hits
    assert "<em>" in hit.highlight and "内涝</em>" not in hit.highlight
    # no positive text: nothing to mark
    assert all(h.highlight is None for h in loaded.search(PostQuery(text="-内涝 platform:weibo")).hits)


@pytest.mark.parametrize("text, message", [
    ("十里河 OR", "OR at 5 needs a term after it"),
    ("(暴雨 OR 内涝", "( at 1 is never closed"),
    ("暴雨)", ") at 3 has no matching ("),
    ("platform:", "platform: at 1 needs a value"),
    ("colour:red", "unknown field 'colour' at 1"),
])
def test_query_syntax_errors_name_the_problem_and_position(loaded: Store, text: str, message: str):
    for ask in (lambda q: loaded.search(q), loaded.count, lambda q: loaded.terms(q, "platform"),
                lambda q: loaded.histogram(q, "day")):
        with pytest.raises(QuerySyntaxError, match=message.replace("(", r"\(").replace(")", r"\)")):
            ask(PostQuery(text=text, start=T0, end=T0 + timedelta(days=3)))


# --- count ------------------------------------------------------------------------------
def test_count_with_filters(loaded: Store):
    assert loaded.count() == 7
    assert loaded.count(PostQuery(text="暴雨")) == 4
    assert loaded.count(PostQuery(sentiments=("负面",))) == 3
    assert loaded.count(PostQuery(sentiments=("负面", "正面"))) == 4
    assert loaded.count(PostQuery(polarities=("负面",))) == 4
    assert loaded.count(PostQuery(polarities=("负面",), sentiments=("中性",))) == 1
    assert loaded.count(PostQuery(platforms=("weibo", "rss"))) == 3
    assert loaded.count(PostQuery(sources=("metro_news",))) == 2
    assert loaded.count(PostQuery(event_ids=("evt-rain",))) == 2
    assert loaded.count(PostQuery(ids=("weibo:1", "news:5", "missing"))) == 2
    assert loaded.count(PostQuery(enriched=True)) == 6
    assert loaded.count(PostQuery(enriched=False)) == 1
    assert loaded.count(PostQuery(topics=("环境保护",), text="废气")) == 1


def test_region_codes_match_province_city_or_district(loaded: Store):
    assert loaded.count(PostQuery(region_codes=("36",))) == 6
    assert loaded.count(PostQuery(region_codes=("3604",))) == 5
    assert loaded.count(PostQuery(region_codes=("360402",))) == 2
    assert loaded.count(PostQuery(region_codes=("360403", "3601"))) == 2
    assert loaded.count(PostQuery(region_codes=("42",))) == 0


def test_time_range_is_half_open(loaded: Store):
    at_p1, at_p2 = T0 + timedelta(hours=1), T0 + timedelta(hours=2)
    assert ids_of(loaded.iter_posts(PostQuery(start=at_p1, end=at_p2))) == ["weibo:1"]
    assert loaded.count(PostQuery(start=at_p1, end=at_p2)) == 1
    assert loaded.count(PostQuery(start=at_p1 + timedelta(microseconds=1), end=at_p2)) == 0
    assert loaded.count(PostQuery(start=at_p1, end=at_p2 + timedelta(microseconds=1))) == 2
    assert loaded.count(PostQuery(end=T0 + timedelta(days=1))) == 3
    # the same instants given in UTC select the same posts
    assert loaded.count(PostQuery(start=at_p1.astimezone(timezone.utc), end=at_p2.astimezone(timezone.utc))) == 1


# --- histogram --------------------------------------------------------------------------
def test_histogram_hour_buckets_are_aligned_and_include_empty_ones(loaded: Store):
    buckets = loaded.histogram(PostQuery(start=T0, end=T0 + timedelta(hours=4)), "hour")
    assert [b.start for b in buckets] == [T0 + timedelta(hours=h) for h in range(4)]
    assert [b.counts for b in buckets] == [{"_all": 0}, {"_all": 1}, {"_all": 1}, {"_all": 0}]
    for b in buckets:
        assert_local(b.start)


def test_histogram_days_start_at_shanghai_midnight(loaded: Store):
    # weibo:4 at 00:30 on 05-07 local is still 05-06 in UTC; it belongs to 05-07 here.
    buckets = loaded.histogram(PostQuery(start=T0 - timedelta(days=1), end=T0 + timedelta(days=4)), "day")
    assert [b.start for b in buckets] == [T0 + timedelta(days=d) for d in range(-1, 4)]
    assert [b.total for b in buckets] == [0, 3, 2, 2, 0]
    for b in buckets:
        assert_local(b.start)
        assert (b.start.hour, b.start.minute) == (0, 0)


@pytest.mark.parametrize("interval,days", [("hour", 1), ("day", 5)])
@pytest.mark.parametrize("filtered", [False, True])
@pytest.mark.parametrize("start_at", [timedelta(hours=-5), timedelta(hours=-4, minutes=-22, seconds=-0.5),
                                      timedelta(minutes=70), timedelta(hours=1, minutes=55)])
def test_overview_agrees_with_count_terms_and_histogram(loaded: Store, interval, days, filtered, start_at):
    """The backend's one-pass overview (SQLite: its hourly rollup and covering index) equals what
    count, terms and histogram say separately, at whole or ragged hours, after posts change."""
    changed = [p.model_copy(update={"polarity": None if p.polarity else Sentiment(label="正面", score=0.9),
                                    "topics": [], "published_at": p.published_at + timedelta(minutes=50)})
               for p in loaded.get_posts(["weibo:1", "weibo:2"])]
    loaded.upsert_posts(changed)                     # the rollup follows updates, not only inserts
    ragged = start_at.total_seconds() % 3600 != 0
    query = PostQuery(start=T0 + start_at, end=T0 + timedelta(days=days) - (timedelta(minutes=23) if ragged else timedelta(0)),
                      platforms=("weibo",) if filtered else ())
    sizes = {"topic": 3, "district": 2, "platform": 5}
    got = loaded.overview(query, interval, sizes)
    want = Store.overview(loaded, query, interval, sizes)      # the composition every backend has
    assert got.total == want.total and (filtered or want.total > 0)
    assert got.polarity == want.polarity
    assert [(b.start, b.counts) for b in got.histogram] == [(b.start, b.counts) for b in want.histogram]
    assert got.breakdowns == want.breakdowns
    assert {f: {k: v for k, v in got.negative[f].items() if k in {b.key for b in got.breakdowns[f]}}
            for f in sizes} == {f: {k: v for k, v in want.negative[f].items() if k in {b.key for b in want.breakdowns[f]}}
                                for f in sizes}


def test_histogram_start_inside_a_bucket_starts_at_that_bucket(loaded: Store):
    buckets = loaded.histogram(PostQuery(start=T0 + timedelta(hours=1, minutes=20),
                                         end=T0 + timedelta(hours=2, minutes=10)), "hour")
    assert [b.start for b in buckets] == [T0 + timedelta(hours=1), T0 + timedelta(hours=2)]
    assert [b.total for b in buckets] == [0, 1]


def test_histogram_half_open_bounds(loaded: Store):
    buckets = loaded.histogram(PostQuery(start=T0 + timedelta(hours=1), end=T0 + timedelta(hours=2)), "hour")
    assert [(b.start, b.total) for b in buckets] == [(T0 + timedelta(hours=1), 1)]


def test_histogram_without_bounds_spans_the_data(loaded: Store):
    buckets = loaded.histogram(PostQuery(), "day")
    assert [b.start for b in buckets] == [T0, T0 + timedelta(days=1), T0 + timedelta(days=2)]
    assert sum(b.total for b in buckets) == 7
    assert loaded.histogram(PostQuery(text="台风"), "day") == []


def test_histogram_week_and_sub_hour_alignment(loaded: Store):
    weeks = loaded.histogram(PostQuery(), "week")
    assert [(b.start, b.total) for b in weeks] == [(T0, 7)]          # Monday 00:00 local
    six = loaded.histogram(PostQuery(start=T0 + timedelta(hours=18), end=T0 + timedelta(days=1, hours=6)), "6h")
    assert [(b.start.hour, b.total) for b in six] == [(18, 1), (0, 1)]
    for interval, minutes in (("15m", 15), ("30m", 30)):
        buckets = loaded.histogram(PostQuery(start=T0 + timedelta(hours=23), end=T0 + timedelta(days=1, hours=1)),
                                   interval)
        assert len(buckets) == 120 // minutes
        assert all(b.start.minute % minutes == 0 and b.start.second == 0 for b in buckets)
        busy = [(b.start, b.total) for b in buckets if b.total]
        assert busy == [(T0 + timedelta(hours=23, minutes=30), 1), (T0 + timedelta(days=1, minutes=30), 1)]


def test_histogram_group_by_sentiment_and_topic(loaded: Store):
    query = PostQuery(start=T0, end=T0 + timedelta(days=3))
    by_sentiment = [b.counts for b in loaded.histogram(query, "day", group_by="sentiment")]
    assert by_sentiment == [{"负面": 2, "中性": 1}, {"负面": 1, "正面": 1}, {"中性": 1}]
    by_topic = [b.counts for b in loaded.histogram(query, "day", group_by="topic")]
    assert by_topic == [{"城乡建设": 2, "环境保护": 1}, {"环境保护": 1, "交通运输": 1}, {"城乡建设": 1}]


def test_histogram_group_by_region_fields(loaded: Store):
    query = PostQuery(start=T0, end=T0 + timedelta(days=3))
    by_district = [b.counts for b in loaded.histogram(query, "day", group_by="district")]
    assert by_district == [{"濂溪区": 1, "浔阳区": 1}, {"濂溪区": 1}, {}]
    by_code = [b.counts for b in loaded.histogram(query, "day", group_by="region_code")]
    assert by_code == [{"360402": 1, "3604": 1, "360403": 1}, {"360402": 1, "3601": 1}, {"3604": 1}]
    by_city = loaded.histogram(PostQuery(region_codes=("3604",), start=T0, end=T0 + timedelta(days=1)),
                               "day", group_by="city")
    assert [b.counts for b in by_city] == [{"九江市": 3}]


def test_histogram_rejects_unknown_interval_and_field(loaded: Store):
    with pytest.raises(ValueError):
        loaded.histogram(PostQuery(), "minute")  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        loaded.histogram(PostQuery(), "day", group_by="colour")


# --- terms ------------------------------------------------------------------------------
def test_terms_of_keyword_fields(loaded: Store):
    assert loaded.terms(PostQuery(), "sentiment") == [Bucket("负面", 3), Bucket("中性", 2), Bucket("正面", 1)]
    assert loaded.terms(PostQuery(), "polarity") == [Bucket("负面", 4), Bucket("正面", 1)]
    assert loaded.terms(PostQuery(), "topic", size=2) == [Bucket("城乡建设", 3), Bucket("环境保护", 2)]
    # ties are ordered by key
    assert loaded.terms(PostQuery(), "platform") == [
        Bucket("news", 2), Bucket("weibo", 2), Bucket("forum", 1), Bucket("gov_board", 1), Bucket("rss", 1)]
    assert loaded.terms(PostQuery(region_codes=("3604",)), "district") == [Bucket("濂溪区", 2), Bucket("浔阳区", 1)]
    assert loaded.terms(PostQuery(), "city") == [Bucket("九江市", 5), Bucket("南昌市", 1)]
    assert loaded.terms(PostQuery(), "province") == [Bucket("江西省", 6)]
    assert loaded.terms(PostQuery(), "region_code", size=1) == [Bucket("3604", 2)]
    assert loaded.terms(PostQuery(), "event_id") == [Bucket("evt-rain", 2)]
    assert loaded.terms(PostQuery(), "dup_group") == [Bucket("dup-gas", 1)]
    assert loaded.terms(PostQuery(), "emotion") == [Bucket("angry", 2), Bucket("fear", 1)]
    assert loaded.terms(PostQuery(text="暴雨"), "author") == [Bucket("九江日报", 1), Bucket("九江热心市民", 1)]
    assert loaded.terms(PostQuery(sources=("metro_news",), start=T0 + timedelta(days=1)), "source") == [
        Bucket("metro_news", 1)]


def test_terms_of_tokens_and_keywords_count_posts(loaded: Store):
    tokens = {b.key: b.count for b in loaded.terms(PostQuery(), "tokens", size=200)}
    assert tokens["暴雨"] == 2 and tokens["市民"] == 2
    assert tokens["会议"] == 1 and tokens["小区"] == 1        # repeated within one post: counted once
    top = loaded.terms(PostQuery(), "tokens", size=2)
    assert {b.key for b in top} == {"暴雨", "市民"} and all(b.count == 2 for b in top)
    assert loaded.terms(PostQuery(), "keywords", size=1) == [Bucket("暴雨", 3)]
    weibo = {b.key for b in loaded.terms(PostQuery(platforms=("weibo",)), "tokens", size=200)}
    assert {"内涝", "废气"} <= weibo and "会议" not in weibo
    assert loaded.terms(PostQuery(start=T0 + timedelta(days=2)), "keywords") == [Bucket("暴雨", 1), Bucket("预警", 1)]


def test_terms_rejects_unknown_fields(loaded: Store):
    with pytest.raises(ValueError):
        loaded.terms(PostQuery(), "title")


# --- repost cascades ---------------------------------------------------------------------
def cascade() -> list[Post]:
    """An original, two reposts of it and a repost of a repost (parent = the repost, root = the original)."""
    original = make_post("weibo:100", "weibo", "weibo_search", T0, content="十里河大量死鱼，河水发黄",
                         tokens=["十里河", "死鱼", "河水", "发黄"], region=LIANXI)
    reposts = [make_post(f"weibo:10{i}", "weibo", "weibo_search", T0 + timedelta(minutes=i), content=text)
               for i, text in ((1, "转发微博"), (2, "[心]"), (3, "//@甲: 转发微博"))]
    for post, parent in zip(reposts, ("weibo:100", "weibo:100", "weibo:101")):
        post.parent_id, post.root_id = parent, "weibo:100"
    return [original, *reposts]


def test_repost_relations_round_trip_and_filter(store: Store):
    store.upsert_posts([*cascade(), *corpus()])
    got = {p.id: p for p in store.get_posts(["weibo:100", "weibo:101", "weibo:103"])}
    assert got["weibo:100"].parent_id is None and got["weibo:100"].root_id is None
    assert (got["weibo:103"].parent_id, got["weibo:103"].root_id) == ("weibo:101", "weibo:100")
    assert store.count(PostQuery(root_ids=("weibo:100",))) == 3
    assert store.count(PostQuery(root_ids=("weibo:100",), start=T0 + timedelta(minutes=2))) == 2
    assert store.count(PostQuery(root_ids=("weibo:missing",))) == 0
    assert ids_of(store.iter_posts(PostQuery(root_ids=("weibo:100",)))) == ["weibo:101", "weibo:102", "weibo:103"]
    assert hit_ids(store.search(PostQuery(root_ids=("weibo:100",)), sort="oldest")) == [
        "weibo:101", "weibo:102", "weibo:103"]
    assert store.terms(PostQuery(), "root_id") == [Bucket("weibo:100", 3)]
    assert store.histogram(PostQuery(start=T0, end=T0 + timedelta(hours=1)), "hour", group_by="root_id")[0].counts \
        == {"weibo:100": 3}


def test_repost_relation_update_replaces_the_indexed_root(store: Store):
    store.upsert_posts(cascade())
    moved = store.get_posts(["weibo:102"])[0].model_copy(update={"root_id": "weibo:200", "parent_id": "weibo:200"})
    store.upsert_posts([moved])
    assert store.count(PostQuery(root_ids=("weibo:100",))) == 2
    assert ids_of(store.iter_posts(PostQuery(root_ids=("weibo:200",)))) == ["weibo:102"]
    assert store.get_posts(["weibo:102"])[0].parent_id == "weibo:200"


def test_any_terms_match_posts_with_at_least_one(store: Store):
    """Sensitive-word lists ask "any of these words" in one query (PostQuery.any_terms)."""
    texts = ("化工厂发生爆炸", "工地塔吊坍塌", "化工厂爆炸后又发生坍塌", "今天天气不错", "爆米花很好吃")
    store.upsert_posts([make_post(f"news:40{i}", "news", "metro_news", T0 + timedelta(minutes=i), content=t)
                        for i, t in enumerate(texts)])
    assert store.count(PostQuery(any_terms=("爆炸", "坍塌"))) == 3
    assert store.count(PostQuery(any_terms=("爆炸",), start=T0 + timedelta(minutes=1))) == 1
    assert store.count(PostQuery(text="化工厂", any_terms=("坍塌", "泄漏"))) == 1
    assert store.count(PostQuery(any_terms=("泄漏",))) == 0
    assert hit_ids(store.search(PostQuery(any_terms=("坍塌", "天气")), sort="oldest")) == [
        "news:401", "news:402", "news:403"]
    assert {b.key for b in store.terms(PostQuery(any_terms=("爆炸",)), "platform")} == {"news"}


def test_author_reach_filters(store: Store):
    """Big accounts and verified accounts, asked of the store (the influencer rule)."""
    authors = (Author(name="大V", followers=2_000_000), Author(name="九江日报", followers=80_000, verified=True),
               Author(name="网友", followers=300), Author(name="无粉丝数"))
    store.upsert_posts([make_post(f"weibo:50{i}", "weibo", "weibo_search", T0 + timedelta(minutes=i),
                                  content="化工厂排污").model_copy(update={"author": a})
                        for i, a in enumerate(authors)])
    assert ids_of(store.iter_posts(PostQuery(min_followers=100_000))) == ["weibo:500"]
    assert ids_of(store.iter_posts(PostQuery(min_followers=300))) == ["weibo:500", "weibo:501", "weibo:502"]
    assert ids_of(store.iter_posts(PostQuery(verified=True))) == ["weibo:501"]
    assert store.count(PostQuery(verified=False)) == 3
    assert store.count(PostQuery(min_followers=50_000, verified=True, start=T0)) == 1
    moved = store.get_posts(["weibo:502"])[0]
    store.upsert_posts([moved.model_copy(update={"author": Author(name="网友", followers=150_000)})])
    assert store.count(PostQuery(min_followers=100_000)) == 2


def test_scheme_tags_round_trip_filter_and_count(store: Store):
    """Monitoring-scheme tags (multi-valued): stored, filtered (any of), counted per scheme."""
    tagged = [make_post(f"weibo:30{i}", "weibo", "weibo_search", T0 + timedelta(minutes=i), content=f"十里河死鱼{i}")
              for i in range(4)]
    for post, schemes in zip(tagged, (["十里河水环境"], ["十里河水环境", "安全生产"], ["安全生产"], [])):
        post.schemes = schemes
    store.upsert_posts([*tagged, *corpus()])
    assert store.get_posts(["weibo:301"])[0].schemes == ["十里河水环境", "安全生产"]
    assert store.count(PostQuery(schemes=("十里河水环境",))) == 2
    assert store.count(PostQuery(schemes=("十里河水环境", "安全生产"))) == 3
    assert store.count(PostQuery(schemes=("安全生产",), start=T0 + timedelta(minutes=2))) == 1
    assert store.count(PostQuery(schemes=("未定义",))) == 0
    assert ids_of(store.iter_posts(PostQuery(schemes=("安全生产",)))) == ["weibo:301", "weibo:302"]
    assert hit_ids(store.search(PostQuery(text="死鱼", schemes=("十里河水环境",)), sort="oldest")) == [
        "weibo:300", "weibo:301"]
    assert store.terms(PostQuery(), "schemes") == [Bucket("十里河水环境", 2), Bucket("安全生产", 2)]
    assert store.terms(PostQuery(start=T0 + timedelta(minutes=1)), "schemes") == [
        Bucket("安全生产", 2), Bucket("十里河水环境", 1)]


def test_scheme_tags_are_replaced_on_update(store: Store):
    post = make_post("weibo:310", "weibo", "weibo_search", T0, content="化工厂爆炸")
    post.schemes = ["安全生产"]
    store.upsert_posts([post])
    store.upsert_posts([post.model_copy(update={"schemes": ["十里河水环境"]})])
    assert store.count(PostQuery(schemes=("安全生产",))) == 0
    assert store.count(PostQuery(schemes=("十里河水环境",))) == 1
    store.upsert_posts([post.model_copy(update={"schemes": []})])
    assert store.terms(PostQuery(), "schemes") == []


# --- alerts -------------------------------------------------------------------------------
def test_alert_upsert_get_and_update(store: Store):
    alert = make_alert("volume:env", level="红")
    store.upsert_alert(alert)
    got = store.get_alert("volume:env")
    assert got is not None and got.model_dump() == alert.model_dump()
    assert got.level == "红" and got.status == "new"
    for dt in (got.window_start, got.window_end, got.first_seen, got.last_seen):
        assert_local(dt)
    store.upsert_alert(alert.model_copy(update={"status": "resolved", "last_seen": T0 + timedelta(hours=5)}))
    assert store.get_alert("volume:env").status == "resolved"
    assert len(store.list_alerts()) == 1
    assert store.get_alert("missing") is None


def test_alert_examples_basis_peak_and_end_are_kept(store: Store):
    """What an alert shows (example posts, why its level, the peak, when it ended) comes back whole."""
    example = AlertExample(post_id="weibo:4", platform="weibo", platform_label="微博", published_at=T0,
                           url="https://weibo.example.org/status/4", text="化工厂<script>排放废气，电话138****5678…",
                           author="网友139****5678", followers=1_200_000, engagement=500, sentiment="负面")
    basis = AlertBasis(rule="volume", rule_type="volume_spike", description="发帖量突增", value_key="ratio",
                       value=5.3, thresholds={"蓝": 2.0, "橙": 5.0, "红": 8.0}, rule_level="橙", threshold=5.0,
                       next_level="红", next_threshold=8.0, level="红", text="相对基线倍数 5.3倍…",
                       adjustments=[LevelAdjustment(kind="reach", change=1, reason="粉丝120万", level="红")])
    alert = make_alert("volume:shown", level="红").model_copy(update={
        "examples": [example], "basis": basis, "ended_at": T0 + timedelta(hours=7),
        "peak": AlertPeak(at=T0 - timedelta(hours=1), level="红", value_key="ratio", value=9.7, summary="峰值",
                          metrics={"ratio": 9.7, "count": 33.0}, basis=basis)})
    store.upsert_alert(alert)
    got = store.get_alert("volume:shown")
    assert got is not None and got.model_dump() == alert.model_dump()
    assert got.examples[0].text == example.text and got.basis.adjustments[0].kind == "reach"
    assert_local(got.ended_at)
    assert [a.id for a in store.list_alerts()] == ["volume:shown"]


def test_list_alerts_filters_and_orders_newest_first(store: Store):
    store.upsert_alert(make_alert("a", last_seen=T0 + timedelta(hours=1), agency="env"))
    store.upsert_alert(make_alert("b", last_seen=T0 + timedelta(hours=3), agency="traffic", status="acknowledged"))
    store.upsert_alert(make_alert("c", last_seen=T0 + timedelta(hours=2), agency="env", status="resolved"))
    store.upsert_alert(make_alert("d", last_seen=T0 + timedelta(hours=4), agency=None))
    assert [a.id for a in store.list_alerts()] == ["d", "b", "c", "a"]
    assert [a.id for a in store.list_alerts(statuses=("new",))] == ["d", "a"]
    assert [a.id for a in store.list_alerts(statuses=("new", "resolved"))] == ["d", "c", "a"]
    assert [a.id for a in store.list_alerts(agency="env")] == ["c", "a"]
    assert [a.id for a in store.list_alerts(since=T0 + timedelta(hours=2))] == ["d", "b", "c"]
    assert [a.id for a in store.list_alerts(limit=2)] == ["d", "b"]
    assert store.list_alerts(statuses=("handling",)) == []


def test_alert_lifecycle_fields_round_trip_and_legacy_statuses_still_match(store: Store):
    """Assignee, 直报 targets, deadlines and silence come back whole; an alert written before the
    lifecycle existed ('open' / 'closed') is read, and filtered, as new / resolved."""
    alert = make_alert("volume:loop", level="红").model_copy(update={
        "status": "handling", "assignee": "hjj_chen", "reported_to": ["city_gov"],
        "ack_due": T0 + timedelta(minutes=30), "resolve_due": T0 + timedelta(hours=5),
        "silenced_until": T0 + timedelta(hours=1)})
    alert.history.append({"at": T0.isoformat(), "event": "handling", "by": "hjj_chen", "from": "new",
                          "to": "handling", "note": "已联系企业<script>x</script>"})
    store.upsert_alert(alert)
    got = store.get_alert("volume:loop")
    assert got is not None and got.model_dump() == alert.model_dump()
    for dt in (got.ack_due, got.resolve_due, got.silenced_until):
        assert_local(dt)
    # as an earlier version wrote them (model_copy does not validate, so the old spelling is stored)
    store.upsert_alert(make_alert("old-open", last_seen=T0 + timedelta(hours=1)).model_copy(update={"status": "open"}))
    store.upsert_alert(make_alert("old-closed", last_seen=T0 + timedelta(hours=2)).model_copy(update={"status": "closed"}))
    assert store.get_alert("old-open").status == "new" and store.get_alert("old-closed").status == "resolved"
    assert [a.id for a in store.list_alerts(statuses=("new",))] == ["old-open"]
    assert [a.id for a in store.list_alerts(statuses=("resolved",))] == ["old-closed"]
    assert [a.id for a in store.list_alerts(statuses=("handling",))] == ["volume:loop"]


# --- events -------------------------------------------------------------------------------
def make_event(eid: str, *, last_seen: datetime, topic: str | None = "环境保护", posts: int = 3) -> Event:
    return Event(id=eid, title=f"事件{eid}", keywords=["十里河", "死鱼"], first_post_id=f"weibo:{eid}",
                 first_seen=T0, last_seen=last_seen, post_count=posts, negative_count=1,
                 platforms={"weibo": posts}, topic=topic,
                 region=Region(province="江西省", province_code="36", city="九江市", city_code="3604"),
                 extra={"centroid": {"十里河": 0.5}})


def test_event_upsert_get_and_update(store: Store):
    event = make_event("e1", last_seen=T0 + timedelta(hours=2))
    store.upsert_events([event])
    [got] = store.get_events(["e1"])
    assert got.model_dump() == event.model_dump()
    assert_local(got.first_seen)
    store.upsert_events([event.model_copy(update={"post_count": 9, "last_seen": T0 + timedelta(hours=6)})])
    [got] = store.get_events(["e1"])
    assert got.post_count == 9 and got.last_seen == T0 + timedelta(hours=6)
    assert store.get_events(["missing"]) == []
    store.upsert_events([])


def test_get_events_keeps_order_and_list_events_filters(store: Store):
    store.upsert_events([make_event("a", last_seen=T0 + timedelta(hours=1), posts=1),
                         make_event("b", last_seen=T0 + timedelta(hours=3), topic="交通运输"),
                         make_event("c", last_seen=T0 + timedelta(hours=2), posts=5)])
    assert [e.id for e in store.get_events(["c", "x", "a"])] == ["c", "a"]
    assert [e.id for e in store.list_events()] == ["b", "c", "a"]
    assert [e.id for e in store.list_events(active_since=T0 + timedelta(hours=2))] == ["b", "c"]
    assert [e.id for e in store.list_events(topic="环境保护")] == ["c", "a"]
    assert [e.id for e in store.list_events(min_posts=3)] == ["b", "c"]
    assert [e.id for e in store.list_events(limit=1)] == ["b"]


# --- state ------------------------------------------------------------------------------
def test_state_get_and_set(store: Store):
    assert store.get_state("cursor:enrich") is None
    store.set_state("cursor:enrich", "2024-05-06T00:00:00+08:00")
    store.set_state("crawl:九江", "第3页")
    store.set_state("cursor:enrich", "2024-05-07T00:00:00+08:00")
    assert store.get_state("cursor:enrich") == "2024-05-07T00:00:00+08:00"
    assert store.get_state("crawl:九江") == "第3页"


# --- lifecycle --------------------------------------------------------------------------
def test_open_is_idempotent(store: Store):
    store.open()
    store.upsert_posts(corpus()[:1])
    store.open()
    assert store.count() == 1


def test_reopen_after_close_keeps_data(store_maker):
    first = store_maker()
    with first:
        first.upsert_posts(corpus())
        first.upsert_alert(make_alert("kept"))
        first.set_state("k", "v")
    second = store_maker()
    with second:
        assert second.count() == 7
        assert second.search(PostQuery(text="废气")).total == 1
        assert second.get_alert("kept") is not None
        assert second.get_state("k") == "v"
        assert second.terms(PostQuery(), "keywords", size=1) == [Bucket("暴雨", 3)]


# --- time zones -------------------------------------------------------------------------
def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=timezone.utc)


def zoned_posts() -> list[Post]:
    """Three instants that fall on different local days depending on the zone."""
    return [
        make_post("news:z1", "news", "metro_news", utc(2026, 11, 18, 15, 30), title="甲"),  # 23:30 Shanghai, 16:30 Berlin
        make_post("news:z2", "news", "metro_news", utc(2026, 11, 18, 23, 30), title="乙"),  # 07:30+1d Shanghai, 00:30+1d Berlin
        make_post("news:z3", "news", "metro_news", utc(2026, 11, 18, 21, 0), title="丙"),   # 05:00+1d Shanghai, 22:00 Berlin
    ]


@pytest.mark.parametrize("zone, days", [
    ("Asia/Shanghai", [(datetime(2026, 11, 18), 1), (datetime(2026, 11, 19), 2)]),
    ("Europe/Berlin", [(datetime(2026, 11, 18), 2), (datetime(2026, 11, 19), 1)]),
    ("America/New_York", [(datetime(2026, 11, 18), 3)]),
])
def test_day_buckets_follow_the_store_time_zone(store_maker, zone: str, days):
    tz = ZoneInfo(zone)
    with store_maker(timezone=zone) as store:
        store.upsert_posts(zoned_posts())
        buckets = store.histogram(PostQuery(), "day")
        assert [(b.start, b.total) for b in buckets] == [(d.replace(tzinfo=tz), n) for d, n in days]
        for b in buckets:
            assert b.start.utcoffset() == tz.utcoffset(b.start.replace(tzinfo=None))
            assert (b.start.hour, b.start.minute) == (0, 0)
        assert store.get_posts(["news:z1"])[0].published_at.utcoffset() == tz.utcoffset(datetime(2026, 11, 18))


def test_day_buckets_across_a_daylight_saving_change(store_maker):
    # Berlin springs forward on 2026-03-29 at 02:00 (UTC+1 → UTC+2): that day has 23 hours.
    berlin = ZoneInfo("Europe/Berlin")
    with store_maker(timezone="Europe/Berlin") as store:
        store.upsert_posts([
            make_post("news:d1", "news", "metro_news", datetime(2026, 3, 29, 0, 30, tzinfo=berlin), title="甲"),
            make_post("news:d2", "news", "metro_news", datetime(2026, 3, 29, 23, 30, tzinfo=berlin), title="乙"),
            make_post("news:d3", "news", "metro_news", datetime(2026, 3, 30, 0, 30, tzinfo=berlin), title="丙"),
        ])
        query = PostQuery(start=datetime(2026, 3, 28, tzinfo=berlin), end=datetime(2026, 3, 31, tzinfo=berlin))
        buckets = store.histogram(query, "day")
        assert [(b.start, b.total) for b in buckets] == [
            (datetime(2026, 3, 28, tzinfo=berlin), 0), (datetime(2026, 3, 29, tzinfo=berlin), 2),
            (datetime(2026, 3, 30, tzinfo=berlin), 1)]
        assert [b.start.utcoffset() for b in buckets] == [timedelta(hours=1), timedelta(hours=1), timedelta(hours=2)]
        weeks = store.histogram(query, "week")    # Mondays: 03-23 00:00 CET and 03-30 00:00 CEST
        assert [(b.start, b.total) for b in weeks] == [(datetime(2026, 3, 23, tzinfo=berlin), 2),
                                                       (datetime(2026, 3, 30, tzinfo=berlin), 1)]


def test_hour_buckets_keep_the_repeated_hour_apart(store_maker):
    # Berlin falls back on 2026-10-25 at 03:00 CEST → 02:00 CET: 02:00-03:00 local happens twice.
    with store_maker(timezone="Europe/Berlin") as store:
        store.upsert_posts([make_post("news:h1", "news", "metro_news", utc(2026, 10, 25, 0, 30), title="甲"),
                            make_post("news:h2", "news", "metro_news", utc(2026, 10, 25, 1, 30), title="乙")])
        buckets = store.histogram(PostQuery(start=utc(2026, 10, 24, 23), end=utc(2026, 10, 25, 2)), "hour")
        # (compared as instants: PEP 495 makes a repeated-hour time unequal to any other zone's)
        assert [(b.start.timestamp(), b.total) for b in buckets] == [
            (utc(2026, 10, 24, 23).timestamp(), 0), (utc(2026, 10, 25, 0).timestamp(), 1),
            (utc(2026, 10, 25, 1).timestamp(), 1)]
        assert [(b.start.hour, b.start.utcoffset()) for b in buckets] == [
            (1, timedelta(hours=2)), (2, timedelta(hours=2)), (2, timedelta(hours=1))]
