"""Dup groups and events over a real SQLite store: replays, restarts, late originals, failures, the App job."""
from dataclasses import replace
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from crawler.inbox import Inbox
from index.schema import DEFAULT_TZ, Post
from index.sqlite.store import SQLiteStore
from index.store import PostQuery, StoreUnavailable
from nlp.enrich import Enricher
from nlp.events import EventConfig
from nlp.linking import StreamLinker, relation_order

T0 = datetime(2026, 11, 19, 6, 0, tzinfo=DEFAULT_TZ)
CRAWLED = datetime(2026, 11, 22, 12, 0, tzinfo=DEFAULT_TZ)

ORIGINAL = ("【视频】#九江十里河大量死鱼# 今天清晨，有网友拍到濂溪区十里河一段河面漂满死鱼，河水发黄，"
            "岸边气味刺鼻。网友称附近一家化工厂疑似排污，有居民反映孩子闻了之后头晕。")
TEXTS = [
    ORIGINAL,
    "转发：" + ORIGINAL[:60] + "[怒]",
    "十里河的死鱼越来越多了，河边的化工厂气味刺鼻，环保部门快来管管 #九江十里河大量死鱼#",
    "濂溪区十里河死鱼事件：环保部门已到现场取样，化工厂排污问题正在调查",
    "九江市区5家二级以上医院推出夜间门诊，开设内科、儿科等科室，服务时间延长至晚上九点",
    "搬运 " + ORIGINAL[:70],
    "今天带孩子去图书馆参加亲子阅读活动，故事讲得真好，下周还来",
    "十里河边刺鼻的化工味熏得人头疼，河里死鱼一片，希望尽快查清排污源头",
]


def make(i: int, text: str, hours: float, platform: str = "weibo") -> Post:
    return Post(id=f"{platform}:{i}", platform=platform, source="t", content=text,
                published_at=T0 + timedelta(hours=hours), crawled_at=CRAWLED)


STREAM = [make(i, t, hours=i * 0.5) for i, t in enumerate(TEXTS)]


@pytest.fixture(scope="module")
def enricher(models_dir):
    return Enricher.from_models_dir(models_dir, home_region=["3604"])


@pytest.fixture(scope="module")
def enriched(enricher):
    return enricher.enrich(STREAM)


def open_store(path: Path) -> SQLiteStore:
    store = SQLiteStore(path)
    store.open()
    return store


def feed(linker: StreamLinker, store, posts: list[Post]):
    batch = linker.link(posts)
    store.upsert_posts(batch.posts)
    store.upsert_posts(batch.updated)
    linker.commit(batch)
    return batch


def snapshot(store) -> dict[str, tuple]:
    return {p.id: (p.dup_group, p.is_first_report, p.event_id) for p in store.iter_posts(PostQuery())}


def events(store) -> dict[str, tuple]:
    return {e.id: (e.post_count, e.first_post_id, e.title) for e in store.list_events(limit=1000)}


def test_batch_gets_groups_and_events(tmp_path, enricher, enriched):
    store = open_store(tmp_path / "a.db")
    linker = StreamLinker.for_enricher(store, enricher)
    batch = feed(linker, store, enriched)
    by_id = {p.id: p for p in batch.posts}
    assert by_id["weibo:1"].dup_group == by_id["weibo:5"].dup_group == "weibo:0"
    assert by_id["weibo:0"].is_first_report and not by_id["weibo:1"].is_first_report
    assert batch.duplicates == 2
    incident = {by_id[f"weibo:{i}"].event_id for i in (0, 1, 2, 3, 5, 7)}
    assert incident == {"ev:weibo:0"}
    assert by_id["weibo:4"].event_id not in incident and by_id["weibo:6"].event_id not in incident
    [event] = store.get_events(["ev:weibo:0"])
    assert event.post_count == 6 and event.title == "九江十里河大量死鱼" and event.first_post_id == "weibo:0"


def test_replaying_a_batch_changes_nothing(tmp_path, enricher, enriched):
    store = open_store(tmp_path / "a.db")
    linker = StreamLinker.for_enricher(store, enricher)
    feed(linker, store, enriched)
    before, before_events = snapshot(store), events(store)
    again = feed(linker, store, list(reversed(enriched)))
    assert again.events == [] and again.updated == []
    assert snapshot(store) == before and events(store) == before_events
    # and after a restart (fresh linker over the same store)
    feed(StreamLinker.for_enricher(store, enricher), store, enriched)
    assert snapshot(store) == before and events(store) == before_events


def test_restart_mid_stream_gives_the_same_assignments(tmp_path, enricher, enriched):
    straight = open_store(tmp_path / "straight.db")
    linker = StreamLinker.for_enricher(straight, enricher)
    for start in range(0, len(enriched), 3):
        feed(linker, straight, enriched[start:start + 3])

    restarted = open_store(tmp_path / "restarted.db")
    feed(StreamLinker.for_enricher(restarted, enricher), restarted, enriched[:3])
    feed(StreamLinker.for_enricher(restarted, enricher), restarted, enriched[3:6])
    feed(StreamLinker.for_enricher(restarted, enricher), restarted, enriched[6:])
    assert snapshot(restarted) == snapshot(straight)
    assert events(restarted) == events(straight)


def test_late_original_moves_the_first_report_flag_in_the_store(tmp_path, enricher, enriched):
    store = open_store(tmp_path / "a.db")
    linker = StreamLinker.for_enricher(store, enricher)
    copies = [p for p in enriched if p.id in ("weibo:1", "weibo:5")]
    feed(linker, store, copies)
    assert snapshot(store)["weibo:1"][:2] == ("weibo:1", True)
    batch = feed(linker, store, [p for p in enriched if p.id == "weibo:0"])
    assert sorted(p.id for p in batch.updated) == ["weibo:1", "weibo:5"]
    after = snapshot(store)
    assert after["weibo:0"][:2] == ("weibo:0", True)
    assert after["weibo:1"][:2] == after["weibo:5"][:2] == ("weibo:0", False)
    # the original also joined the copies' event
    assert after["weibo:0"][2] == after["weibo:1"][2]
    [event] = store.get_events([after["weibo:0"][2]])
    assert event.first_post_id == "weibo:0"


def test_wild_timestamps_do_not_flush_memory(tmp_path, enricher, enriched):
    store = open_store(tmp_path / "a.db")
    linker = StreamLinker.for_enricher(store, enricher, evict_every=1)
    feed(linker, store, enriched[:1])
    future = enriched[4].model_copy(update={"id": "weibo:future",
                                            "published_at": datetime(2099, 1, 1, tzinfo=DEFAULT_TZ)})
    feed(linker, store, [future])
    assert linker.newest == CRAWLED + timedelta(days=1)
    assert linker.dedup.knows("weibo:0")                 # T0 is within retention of the clamped time
    batch = feed(linker, store, enriched[1:2])
    assert batch.posts[0].dup_group == "weibo:0"


def test_backfill_and_eviction_do_not_change_assignments(tmp_path, enricher, enriched):
    """Old posts arriving after much newer ones (a backfill), with memory evicted after every batch,
    are linked exactly as in a run that saw them in order."""
    later = [p.model_copy(update={"id": f"{p.id}-later", "published_at": p.published_at + timedelta(days=20),
                                  "crawled_at": CRAWLED + timedelta(days=20)})
             for p in enriched]
    in_order = open_store(tmp_path / "in_order.db")
    linker = StreamLinker.for_enricher(in_order, enricher)
    for start in range(0, len(enriched), 2):
        feed(linker, in_order, enriched[start:start + 2])
    feed(linker, in_order, later)

    backfill = open_store(tmp_path / "backfill.db")
    linker = StreamLinker.for_enricher(backfill, enricher, evict_every=1)
    feed(linker, backfill, later)
    for start in range(0, len(enriched), 2):
        feed(linker, backfill, enriched[start:start + 2])
    assert not linker.dedup.knows("weibo:0")              # evicted after every batch, read back when needed
    assert snapshot(backfill) == snapshot(in_order)
    assert events(backfill) == events(in_order)
    assert snapshot(backfill)["weibo:1"][0] == "weibo:0"


def test_reset_forgets_what_was_never_stored(tmp_path, enricher, enriched):
    store = open_store(tmp_path / "a.db")
    linker = StreamLinker.for_enricher(store, enricher)
    linker.link(enriched[:2])          # the store write "failed": nothing stored
    linker.reset()
    batch = feed(linker, store, enriched[:2])
    assert batch.events and {e.post_count for e in batch.events} == {2}
    assert snapshot(store)["weibo:1"][0] == "weibo:0"


# --- the App job --------------------------------------------------------------------------------
class FlakyStore(SQLiteStore):
    """A real SQLite store whose next post write fails as if the backend were down."""
    fail_next = False

    def upsert_posts(self, posts):
        if self.fail_next:
            self.fail_next = False
            raise StoreUnavailable("backend down (test)")
        return super().upsert_posts(posts)


@pytest.fixture()
def app(tmp_path, models_dir):
    from yuqing.config import load_settings
    from yuqing.demo_flow import DEMO_CONFIG
    from yuqing.jobs import App
    settings = load_settings(DEMO_CONFIG, base_dir=tmp_path, overrides={
        "data_dir": str(tmp_path), "output_dir": str(tmp_path / "out"), "inbox_dir": str(tmp_path / "inbox"),
        "store": {"backend": "sqlite", "sqlite": {"path": str(tmp_path / "y.db")}}})
    app = App(settings)
    app._store = FlakyStore(tmp_path / "y.db")
    app._store.open()
    yield app
    app.close()


def test_enrich_pending_stores_groups_events_and_moves_flags(app):
    inbox = app.inbox
    inbox.write([p for p in STREAM if p.id in ("weibo:1", "weibo:5")], source="late")
    report = app.enrich_pending()
    assert report.posts == 2 and report.duplicates == 1 and report.events == 1
    inbox.write([p for p in STREAM if p.id not in ("weibo:1", "weibo:5")], source="rest")
    report = app.enrich_pending()
    assert report.posts == 6 and report.regrouped == 2
    stored = {p.id: p for p in app.store.iter_posts(PostQuery())}
    assert stored["weibo:0"].is_first_report and stored["weibo:1"].dup_group == "weibo:0"
    assert sum(p.is_first_report for p in stored.values() if p.dup_group == "weibo:0") == 1
    assert {stored[f"weibo:{i}"].event_id for i in (0, 1, 2, 3, 5, 7)} == {stored["weibo:1"].event_id}


def test_store_outage_keeps_the_batch_and_the_links_consistent(app):
    app.inbox.write(STREAM[:4], source="a")
    app.store.fail_next = True
    report = app.enrich_pending()
    assert report.failed_batches == 1 and len(app.inbox.pending()) == 1 and app.store.count() == 0
    report = app.enrich_pending()
    assert report.posts == 4 and not app.inbox.pending()
    [event] = app.store.get_events(["ev:weibo:0"])
    assert event.post_count == 4          # counted once, although linked twice
    assert isinstance(app.inbox, Inbox)


# --- repost cascades and sub-story merges -----------------------------------------------------
def cascade(enricher, original_hours: float = 0.0) -> list[Post]:
    """The original, two empty reposts and a repost of a repost; the first repost is dated before the original."""
    posts = [make(100, ORIGINAL, original_hours)]
    for i, (text, hours, parent) in enumerate((("转发微博", -0.5, "weibo:100"), ("[心]", 1, "weibo:100"),
                                               ("//@甲:转发微博", 2, "weibo:101")), start=101):
        posts.append(make(i, text, hours).model_copy(update={"parent_id": parent, "root_id": "weibo:100"}))
    return enricher.enrich(posts)


def test_orphan_reposts_before_their_original_in_one_batch_still_join_it(tmp_path, enricher):
    store = open_store(tmp_path / "a.db")
    batch = feed(StreamLinker.for_enricher(store, enricher), store, cascade(enricher))
    assert {p.event_id for p in batch.posts} == {"ev:weibo:100"}
    [event] = store.get_events(["ev:weibo:100"])
    assert event.post_count == 4 and event.first_post_id == "weibo:101"      # the earliest post, id stays


def test_a_repost_finds_its_stored_original_after_a_restart(tmp_path, enricher):
    store = open_store(tmp_path / "a.db")
    original, *reposts = cascade(enricher)
    feed(StreamLinker.for_enricher(store, enricher), store, [original])
    late = [p.model_copy(update={"published_at": p.published_at + timedelta(days=9)}) for p in reposts]
    batch = feed(StreamLinker.for_enricher(store, enricher), store, late)   # beyond dormancy, fresh process
    assert {p.event_id for p in batch.posts} == {"ev:weibo:100"}
    assert store.get_events(["ev:weibo:100"])[0].post_count == 4


def test_short_reposts_take_their_events_topic_and_comments_keep_their_own(tmp_path, enricher):
    """转发微博 or an emoji says nothing the topic model can read: such a repost is about its original."""
    store = open_store(tmp_path / "a.db")
    posts = cascade(enricher)
    comment = enricher.enrich([make(104, "孩子今天去市第一人民医院儿科看病，医生说是呼吸道感染，要求住院观察三天，"
                                         "医院床位紧张，家长排队挂号等了四个小时，希望卫健委增加儿科医生和床位", 3)
                               .model_copy(update={"parent_id": "weibo:100", "root_id": "weibo:100"})])[0]
    original = posts[0]
    assert original.topic == "环境保护" and {p.topic for p in posts[1:]} == {"其他"}
    batch = feed(StreamLinker.for_enricher(store, enricher), store, [*posts, comment])
    topics = {p.id: p.topic for p in batch.posts}
    assert topics == {**{f"weibo:{i}": "环境保护" for i in (100, 101, 102, 103)}, "weibo:104": comment.topic}
    assert comment.topic != "环境保护"
    stored = store.get_posts(["weibo:102"])[0]
    assert stored.topic == "环境保护" and stored.topics[0].score == 1.0
    # switched off, a repost keeps what the model said
    off = StreamLinker.for_enricher(open_store(tmp_path / "b.db"), enricher,
                                    events=EventConfig(repost_topic_words=0))
    assert {p.id: p.topic for p in off.link(posts).posts}["weibo:102"] == posts[2].topic


def test_relation_order_puts_reposts_after_what_they_repost():
    a = make(1, "甲", 0)
    b = make(2, "乙", 0).model_copy(update={"parent_id": "weibo:3", "root_id": "weibo:1"})
    c = make(3, "丙", 1).model_copy(update={"parent_id": "weibo:1", "root_id": "weibo:1"})
    loop = make(4, "丁", 2).model_copy(update={"parent_id": "weibo:5"})
    back = make(5, "戊", 3).model_copy(update={"parent_id": "weibo:4"})
    assert [p.id for p in relation_order([b, a, c, loop, back])] == ["weibo:1", "weibo:3", "weibo:2",
                                                                      "weibo:4", "weibo:5"]


SUBSTORY_A = "十里河大量死鱼，河面漂满死鱼，河水发黄发臭，濂溪区"
SUBSTORY_B = "十里河下游鱼塘也出现死鱼，养殖户损失惨重，化工厂排污谁来赔，濂溪区"


def test_a_merge_re_points_the_stored_posts_of_the_merged_event(tmp_path, enricher):
    store = open_store(tmp_path / "a.db")
    config = EventConfig(threshold=0.99, single_term_threshold=0.99)   # posts never join: only merges unite
    linker = StreamLinker.for_enricher(store, enricher, events=config)
    first = enricher.enrich([make(1, SUBSTORY_A, 0), make(2, SUBSTORY_B, 1)])
    feed(linker, store, first[:1])
    with_merge = StreamLinker.for_enricher(store, enricher, events=replace(config, merge=False))
    feed(with_merge, store, first[1:])                                  # two events stored apart
    assert {p.event_id for p in store.iter_posts()} == {"ev:weibo:1", "ev:weibo:2"}
    third = enricher.enrich([make(3, "濂溪区十里河死鱼：养殖户要求化工厂赔偿鱼塘损失", 2)])
    batch = feed(StreamLinker.for_enricher(store, enricher, events=config), store, third)
    assert [p.id for p in batch.updated] == ["weibo:2"]
    assert {p.event_id for p in store.iter_posts()} == {"ev:weibo:1"}
    [tombstone] = store.get_events(["ev:weibo:2"])
    assert tombstone.extra["merged_into"] == "ev:weibo:1" and tombstone.post_count == 0
    assert [e.id for e in store.list_events()] == ["ev:weibo:1"]
    assert store.get_events(["ev:weibo:1"])[0].post_count == 3
