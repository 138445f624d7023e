"""Online event clustering: joining, opening, dormancy, duplicates, late posts, restarts."""
from datetime import datetime, timedelta

import pytest

from index.schema import DEFAULT_TZ, Event, Post, Region, Sentiment, Topic
from nlp.events import MERGED_INTO, EventConfig, EventTracker, TermWeights, event_id_for
from nlp.keywords import KeywordExtractor
from nlp.regions import Gazetteer

T0 = datetime(2026, 11, 18, 8, 0, tzinfo=DEFAULT_TZ)
LIANXI = Region(province="江西省", province_code="36", city="九江市", city_code="3604", district="濂溪区",
                district_code="360402", source="text")

INCIDENT = [
    "#九江十里河大量死鱼# 今天清晨濂溪区十里河河面漂满死鱼，河水发黄，岸边气味刺鼻，附近化工厂疑似排污",
    "十里河的死鱼越来越多了，河边的化工厂气味刺鼻，环保部门快来管管 #九江十里河大量死鱼#",
    "濂溪区十里河死鱼事件：环保部门已到现场取样，化工厂排污问题正在调查",
    "十里河边刺鼻的化工味熏得人头疼，河里死鱼一片，希望尽快查清排污源头",
]
UNRELATED = [
    "九江市区5家二级以上医院推出夜间门诊，开设内科、儿科等科室，服务时间延长至晚上九点",
    "今天带孩子去图书馆参加亲子阅读活动，故事讲得真好，下周还来",
]


@pytest.fixture(scope="module")
def weights(segmenter):
    keywords = KeywordExtractor(segmenter)
    gazetteer = Gazetteer.default()
    return TermWeights(keywords.idf, keywords.median_idf, lambda w: bool(gazetteer.lookup(w)), EventConfig())


@pytest.fixture()
def tracker(weights):
    return EventTracker(weights)


@pytest.fixture(scope="module")
def make(segmenter):
    def make(pid: str, text: str, hours: float = 0, platform: str = "weibo", title: str = "",
             negative: bool = False, region: Region | None = LIANXI, topic: str = "环境保护") -> Post:
        return Post(id=f"{platform}:{pid}", platform=platform, source="t", title=title, content=text,
                    published_at=T0 + timedelta(hours=hours), tokens=segmenter.tokens(f"{title}\n{text}"),
                    sentiment=Sentiment(label="负面" if negative else "中性", score=0.9),
                    topics=[Topic(label=topic, score=0.9)], region=region)
    return make


def test_posts_about_one_incident_form_one_event(tracker, make):
    posts = [make(f"i{i}", text, hours=i, negative=i % 2 == 0) for i, text in enumerate(INCIDENT)]
    posts.append(make("n1", "濂溪区十里河死鱼 化工厂排污调查进展", hours=5, platform="news",
                      title="十里河死鱼事件追踪：环保部门连夜取样"))
    ids = {tracker.assign(p).event_id for p in posts}
    assert ids == {event_id_for("weibo:i0")}
    [event] = tracker.take_touched()
    assert event.post_count == 5 and event.negative_count == 2
    assert event.platforms == {"weibo": 4, "news": 1}
    assert event.first_post_id == "weibo:i0" and event.first_seen == T0 and event.last_seen == T0 + timedelta(hours=5)
    assert event.title == "九江十里河大量死鱼"                        # a hashtag shared by two posts
    assert "死鱼" in event.keywords and "十里" in event.keywords and len(event.keywords) <= 8
    assert event.topic == "环境保护" and event.region.district_code == "360402"
    assert tracker.take_touched() == []


def test_unrelated_posts_open_their_own_events(tracker, make):
    first = tracker.assign(make("i0", INCIDENT[0]))
    others = [tracker.assign(make(f"u{i}", text, hours=1, region=None, topic="卫生计生"))
              for i, text in enumerate(UNRELATED)]
    assert first.new_event and all(o.new_event for o in others)
    assert len({first.event_id, *(o.event_id for o in others)}) == 3


def test_title_falls_back_to_headline_then_first_sentence(tracker, make):
    tracker.assign(make("w", "【突发】濂溪区某小区今晚停电了！物业说明天才能修好。好热"))
    [event] = tracker.take_touched()
    assert event.title == "濂溪区某小区今晚停电了"
    tracker.assign(make("n", "濂溪区小区停电 物业明天抢修", hours=1, platform="news",
                        title="濂溪区一小区夜间停电 物业称明日抢修"))
    [event] = tracker.take_touched()
    assert event.title == "濂溪区一小区夜间停电 物业称明日抢修" and event.post_count == 2


def test_dormant_events_take_no_more_posts(tracker, make):
    a = tracker.assign(make("i0", INCIDENT[0]))
    b = tracker.assign(make("i1", INCIDENT[1], hours=24 * 5))       # five quiet days later
    assert b.new_event and b.event_id != a.event_id


def test_a_copy_follows_its_original(tracker, make):
    original = tracker.assign(make("i0", INCIDENT[0]))
    # A terse repost shares too little vocabulary to join on its own, but dedup says it copies i0.
    copy = tracker.assign(make("c", "扩散", hours=1), duplicate_of="weibo:i0")
    assert copy.event_id == original.event_id and copy.via_duplicate


def test_an_earlier_post_arriving_late_becomes_the_first_post(tracker, make):
    opened = tracker.assign(make("i1", INCIDENT[1], hours=3))
    late = tracker.assign(make("i0", INCIDENT[0], hours=0))
    assert late.event_id == opened.event_id == event_id_for("weibo:i1")      # the id stays
    [event] = tracker.take_touched()
    assert event.first_post_id == "weibo:i0" and event.first_seen == T0 and event.post_count == 2


def test_known_posts_are_not_counted_twice(tracker, make):
    posts = [make(f"i{i}", text, hours=i) for i, text in enumerate(INCIDENT[:2])]
    first = [tracker.assign(p).event_id for p in posts]
    tracker.take_touched()
    again = [tracker.assign(p).event_id for p in posts]
    assert again == first and tracker.take_touched() == []


def test_restart_from_stored_events_continues_identically(weights, make):
    posts = [make(f"i{i}", text, hours=i) for i, text in enumerate(INCIDENT)]
    posts += [make(f"u{i}", text, hours=i + 0.5, region=None, topic="其他") for i, text in enumerate(UNRELATED)]
    posts.sort(key=lambda p: p.published_at)

    straight = EventTracker(weights)
    expected = [straight.assign(p).event_id for p in posts]

    first_half = EventTracker(weights)
    got = [first_half.assign(p).event_id for p in posts[:3]]
    stored = [Event.model_validate_json(e.model_dump_json()) for e in first_half.take_touched()]
    restarted = EventTracker(weights)
    restarted.load_events(stored)
    restarted.remember([p.model_copy(update={"event_id": e}) for p, e in zip(posts[:3], got)])
    got += [restarted.assign(p).event_id for p in posts]          # replays the first half too
    assert got[3:] == expected and got[:3] == expected[:3]
    by_id = {e.id: e for e in straight.take_touched()}
    for event in restarted.take_touched():
        assert event.post_count == by_id[event.id].post_count
        assert event.extra["centroid"] == by_id[event.id].extra["centroid"]


def test_eviction_forgets_old_events(tracker, make):
    tracker.assign(make("i0", INCIDENT[0]))
    assert len(tracker) == 1
    assert tracker.evict((T0 + timedelta(days=1)).timestamp()) == 1
    assert len(tracker) == 0 and tracker.event_of("weibo:i0") == "ev:weibo:i0"
    assert tracker.forget_posts((T0 + timedelta(days=1)).timestamp()) == 1 and tracker.event_of("weibo:i0") is None


def test_event_round_trips_through_json(tracker, make):
    for i, text in enumerate(INCIDENT):
        tracker.assign(make(f"i{i}", text, hours=i))
    [event] = tracker.take_touched()
    assert Event.model_validate_json(event.model_dump_json()) == event


# --- repost cascades ------------------------------------------------------------------------
def repost(make, pid: str, text: str, hours: float, parent: str, root: str | None = None, **kw) -> Post:
    post = make(pid, text, hours=hours, **kw)
    return post.model_copy(update={"parent_id": parent, "root_id": root or parent})


def test_a_repost_joins_its_original_whatever_its_text(tracker, make):
    original = tracker.assign(make("i0", INCIDENT[0]))
    [before] = tracker.take_touched()
    author_region = Region(province="广东省", province_code="44", city="广州市", city_code="4401", source="author")
    joined = [tracker.assign(repost(make, f"r{i}", text, 1 + i, "weibo:i0", region=author_region, topic="其他"))
              for i, text in enumerate(["转发微博", "[心]", "转发"])]
    # a repost of a repost follows its parent, even after the original's event went dormant
    late = tracker.assign(repost(make, "r9", "//@甲:转发微博", 24 * 10, "weibo:r0", "weibo:i0"))
    assert all(a.event_id == original.event_id and a.via_relation for a in [*joined, late])
    [event] = tracker.take_touched()
    assert event.post_count == 5 and event.platforms == {"weibo": 5}
    assert event.extra["centroid"] == before.extra["centroid"]          # empty reposts add nothing
    assert event.region.district_code == "360402" and event.topic == "环境保护"   # reposters' homes don't count
    assert event.last_seen == T0 + timedelta(days=10)
    # … but the span that takes posts by similarity did not stretch: a day-9 post opens its own event
    assert tracker.assign(make("i1", INCIDENT[1], hours=24 * 9)).new_event


def test_a_repost_with_words_moves_the_centroid_only_a_little(tracker, make):
    tracker.assign(make("i0", INCIDENT[0]))
    [before] = tracker.take_touched()
    for i in range(50):
        tracker.assign(repost(make, f"r{i}", "心疼小狗 小猫 早安打卡", 1 + i / 10, "weibo:i0"))
    [after] = tracker.take_touched()
    assert list(after.extra["centroid"])[:5] == list(before.extra["centroid"])[:5]
    # fifty reposts of one comment weigh less than the original's weakest word
    assert after.extra["centroid"]["小狗"] < min(before.extra["centroid"].values())
    assert after.extra["relations"] == 50


def test_an_unknown_original_falls_back_to_similarity(tracker, make):
    first = tracker.assign(make("i0", INCIDENT[0]))
    orphan = tracker.assign(repost(make, "r", INCIDENT[1], 1, "weibo:gone"))
    assert orphan.event_id == first.event_id and not orphan.via_relation
    assert tracker.assign(repost(make, "r2", "转发微博", 2, "weibo:gone")).new_event


# --- sub-story merge ------------------------------------------------------------------------
SUBSTORIES = [
    "十里河大量死鱼，河面漂满死鱼，河水发黄发臭",
    "十里河死鱼一片，河边化工厂气味刺鼻，疑似排污",
    "十里河边化工厂排污，刺鼻气味熏得头疼，死鱼越来越多",
    "十里河下游鱼塘也出现死鱼，养殖户损失惨重，化工厂排污谁来赔",
]


@pytest.fixture()
def strict(weights):
    """Posts never join each other by similarity: each opens an event, so only merges can unite them."""
    return lambda **kw: EventTracker(weights, EventConfig(threshold=0.99, single_term_threshold=0.99, **kw))


def test_sub_stories_of_one_incident_merge_into_the_older_event(strict, make):
    tracker = strict()
    got = [tracker.assign(make(f"s{i}", text, hours=i)) for i, text in enumerate(SUBSTORIES)]
    survivor = event_id_for("weibo:s0")
    assert {a.event_id for a in got} == {survivor}
    events = {e.id: e for e in tracker.take_touched()}
    assert events[survivor].post_count == 4 and events[survivor].first_post_id == "weibo:s0"
    merged = [e for e in events.values() if e.extra.get(MERGED_INTO)]
    assert merged and all(e.extra[MERGED_INTO] == survivor and e.post_count == 0 for e in merged)
    assert {tracker.event_of(f"weibo:s{i}") for i in range(4)} == {survivor}
    assert tracker.take_merged() == [e.id for e in merged]
    # a repost of a merged-away event's post goes to the survivor
    assert tracker.assign(repost(make, "r", "转发微博", 5, "weibo:s1")).event_id == survivor


def test_sub_stories_in_different_districts_stay_apart(strict, make):
    xunyang = Region(province="江西省", province_code="36", city="九江市", city_code="3604", district="浔阳区",
                     district_code="360403", source="text")
    tracker = strict()
    a = tracker.assign(make("s0", SUBSTORIES[0]))
    b = tracker.assign(make("s1", SUBSTORIES[1], hours=1, region=xunyang))
    c = tracker.assign(make("s2", SUBSTORIES[2], hours=2, region=None))
    assert len({a.event_id, b.event_id, c.event_id}) == 3 and tracker.take_merged() == []


def test_sub_stories_far_apart_in_time_or_disabled_do_not_merge(strict, make):
    tracker = strict()
    a = tracker.assign(make("s0", SUBSTORIES[0]))
    b = tracker.assign(make("s1", SUBSTORIES[1], hours=60))            # past the 48 h window
    assert a.event_id != b.event_id
    off = strict(merge=False)
    assert len({off.assign(make(f"s{i}", t, hours=i)).event_id for i, t in enumerate(SUBSTORIES)}) == 4


def test_merge_window_may_not_exceed_dormancy():
    with pytest.raises(ValueError, match="merge_window"):
        EventConfig(merge_window=timedelta(days=4))


def test_restart_after_a_merge_continues_identically(strict, make):
    posts = [make(f"s{i}", text, hours=i) for i, text in enumerate(SUBSTORIES)]
    posts.append(repost(make, "r", "[心]", 5, "weibo:s2"))
    straight = strict()
    expected = [straight.assign(p).event_id for p in posts]

    first_half = strict()
    got = [first_half.assign(p).event_id for p in posts[:2]]
    stored = {e.id: Event.model_validate_json(e.model_dump_json()) for e in first_half.take_touched()}
    restarted = strict()
    restarted.load_events(stored.values())
    restarted.remember([p.model_copy(update={"event_id": e}) for p, e in zip(posts[:2], got)])
    got += [restarted.assign(p).event_id for p in posts[2:]]
    assert got == expected
    by_id = {e.id: e for e in straight.take_touched()}
    for event in restarted.take_touched():
        if not event.extra.get(MERGED_INTO):
            assert event.post_count == by_id[event.id].post_count
            assert event.extra["centroid"] == by_id[event.id].extra["centroid"]


def test_a_stored_tombstone_redirects_to_its_survivor(strict, make):
    tracker = strict()
    for i, text in enumerate(SUBSTORIES[:2]):
        tracker.assign(make(f"s{i}", text, hours=i))
    stored = tracker.take_touched()
    [tombstone] = [e for e in stored if e.extra.get(MERGED_INTO)]
    fresh = strict()
    fresh.load_events(stored)
    assert fresh.resolve(tombstone.id) == event_id_for("weibo:s0") and len(fresh) == 1
    # a post still pointing at the merged-away event (stored before the merge) resolves too
    fresh.remember([make("s1", SUBSTORIES[1], hours=1).model_copy(update={"event_id": tombstone.id})])
    assert fresh.event_of("weibo:s1") == event_id_for("weibo:s0")


def test_a_repost_counts_only_its_own_words(tracker, make):
    tracker.assign(make("i0", INCIDENT[0]))
    tracker.assign(repost(make, "r", "太吓人了 @濂溪发布 //@王大锤:化工厂排污 养殖户 损失", 1, "weibo:i0"))
    [event] = tracker.take_touched()
    centroid = event.extra["centroid"]
    assert "吓人" in centroid and not {"王大锤", "养殖户", "濂溪", "发布"} & set(centroid)


PLANT = ("恒泰化工长期夜间偷排废水，多次举报无人处理，环保部门至今没有回应，自来水会不会被污染，"
         "附近居民都很担心")
FISH = ("十里河大量死鱼，河面漂满死鱼，网友怀疑化工厂偷排废水，环保部门已到现场取样，"
        "自来水是否被污染还不清楚，居民很担心")


def test_a_sub_story_in_other_words_merges_when_it_shares_many_words(strict, make):
    """The plant accused (恒泰化工) shares many of the dead-fish story's words but few of its strongest:
    enough shared words stand in for similarity (merge_strong_terms), never fewer than that."""
    def run(**kw):
        tracker = strict(**kw)
        a = tracker.assign(make("f", FISH))
        b = tracker.assign(make("p", PLANT, hours=3))
        return a.event_id == b.event_id
    assert run(merge_similarity=0.5, merge_strong_terms=5)
    assert not run(merge_similarity=0.5, merge_strong_terms=0)         # similarity alone is too low
    assert not run(merge_similarity=0.5, merge_strong_terms=50)        # they do not share 50 words


def test_titles_are_never_cut_inside_a_number():
    from nlp.events import cut
    text = "濂溪区某小区业主反映物业乱收费，联系人身份证号码为360402199001011234"
    assert cut(text, 40).endswith("号码为")
    assert cut("电话 139 8765 4321 请回电", 9) == "电话"
    assert cut("十里河死鱼", 40) == "十里河死鱼" and cut("abcdef", 3) == "abc"
