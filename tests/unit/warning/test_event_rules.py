"""The event rules (event_burst, cross_platform) and source_silent on the real SQLite store:
they fire, stay quiet, escalate and end an episode through the engine, scope by the common filter,
only aggregate, and reject bad parameters naming the field."""
from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import pytest

from index.store import PostQuery
from index.schema import AlertLevel, Event, Post
from warning.detectors.event_burst import smoothed_growth
from warning.engine import WarningEngine
from warning.labels import event_subject, metric_label, metric_value
from warning.rules import build_rules, validate_rules
from warning_support import LIANXI, NANCHANG, T0, RecordingStore, spread
from yuqing.config import AgenciesFile, ConfigError, RulesFile, TopicsFile, load_model

REPO = Path(__file__).resolve().parents[3]
AGENCIES = load_model(REPO / "configs" / "agencies.yaml", AgenciesFile)
TOPICS = load_model(REPO / "configs" / "topics.yaml", TopicsFile)
PATH = Path("configs/rules.yaml")
NOW = T0 + timedelta(days=3)
FISH = "ev:fish"
BURST = {"name": "burst", "type": "event_burst", "window": "1h", "min_posts": 5,
         "levels": {"蓝": 5, "黄": 10, "橙": 20, "红": 40}}
CROSS = {"name": "cross", "type": "cross_platform", "window": "6h", "min_platforms": 3, "min_posts": 5,
         "levels": {"蓝": 3, "黄": 4, "橙": 5}}
SILENT = {"name": "silent", "type": "source_silent", "window": "6h", "baseline": "2d", "min_baseline": 10}


def rule(base: dict, **params):
    return build_rules(RulesFile.model_validate({"rules": [base | params]}))[0]


def event(event_id: str = FISH, title: str = "十里河死鱼") -> Event:
    return Event(id=event_id, title=title, first_post_id=f"{event_id}:first", first_seen=T0, last_seen=NOW)


def posts(start: datetime, end: datetime, n: int, *, event_id: str | None = FISH, source: str = "weibo_search",
          **kwargs) -> list[Post]:
    """n posts of one event over [start, end), from one crawl source."""
    return [p.model_copy(update={"event_id": event_id, "source": source})
            for p in spread(start, end, n, text="十里河大量死鱼 附近化工厂排污", **kwargs)]


def ago(hours: float) -> datetime:
    return NOW - timedelta(hours=hours)


def fish_store(*, before: int, now: int, **kwargs) -> RecordingStore:
    """The event 十里河死鱼: `before` posts in the hour before the window, `now` posts in the last hour."""
    store = RecordingStore()
    store.upsert_events([event()])
    store.upsert_posts(posts(ago(2), ago(1), before, **kwargs) + posts(ago(1), NOW, now, **kwargs))
    return store


# --- event_burst ------------------------------------------------------------
@pytest.mark.parametrize("count, level", [(4, None), (5, AlertLevel.blue), (12, AlertLevel.yellow),
                                          (25, AlertLevel.orange), (40, AlertLevel.red)])
def test_event_burst_grades_posts_in_the_window(count, level):
    store = fish_store(before=2, now=count)
    findings = rule(BURST).evaluate(store, NOW)
    if level is None:
        assert findings == []
        return
    [finding] = findings
    assert finding.level is level
    assert (finding.group_by, finding.group_key, finding.group_id) == ("event", FISH, FISH)
    assert finding.topic is None and finding.region_code is None    # the describer finds them from the posts
    assert finding.subject == "「十里河死鱼」事件" and finding.headline == "热度攀升"
    assert finding.metrics["count"] == count and finding.metrics["previous_count"] == 2
    assert finding.metrics["growth"] == pytest.approx((count + 1) / 3, abs=1e-3)
    assert finding.metrics["platforms"] == 1
    assert finding.summary.startswith(f"「十里河死鱼」事件近1小时新增信息{count}条，"
                                      f"是此前1小时（2条）的{finding.metrics['growth']:.1f}倍，涉及微博1个平台")
    assert store.count(finding.query) == count                      # the finding's posts: this event, this window


def test_event_burst_growth_condition_keeps_a_steady_event_quiet():
    store = fish_store(before=12, now=12)
    assert rule(BURST).evaluate(store, NOW)                          # busy, without a growth condition
    assert rule(BURST, growth=1.5).evaluate(store, NOW) == []        # but not accelerating
    store.upsert_posts(posts(ago(1), NOW, 8))                        # 20 now against 12 before: 21/13 = 1.6×
    [finding] = rule(BURST, growth=1.5).evaluate(store, NOW)
    assert finding.metrics["growth"] == pytest.approx(21 / 13, abs=1e-3)


def test_event_burst_new_event_growth_is_smoothed_and_said_so():
    assert smoothed_growth(20, 0, 1.0) == 21.0 and smoothed_growth(20, 0, 4.0) == pytest.approx(24 / 4)
    store = fish_store(before=0, now=6, sentiment="负面")
    [finding] = rule(BURST, growth=2.5).evaluate(store, NOW)
    assert finding.metrics["growth"] == 7.0
    assert "此前1小时没有相关信息" in finding.summary and "其中负面6条（100%）" in finding.summary
    assert finding.metrics["negative_count"] == 6 and finding.metrics["negative_share"] == 1.0
    assert rule(BURST, growth=2.5, smoothing=5.0).evaluate(store, NOW) == []   # (6+5)/(0+5) = 2.2


def test_event_burst_graded_on_growth():
    store = fish_store(before=3, now=15)                             # 16/4 = 4×
    [finding] = rule(BURST, level_on="growth", levels={"蓝": 2, "黄": 4, "橙": 8}).evaluate(store, NOW)
    assert finding.level is AlertLevel.yellow and finding.value_key == "growth" and finding.value == 4.0
    assert rule(BURST, level_on="growth", levels={"蓝": 5}).evaluate(store, NOW) == []


def test_event_burst_counts_only_posts_of_an_event_and_judges_each_event_alone():
    store = fish_store(before=0, now=4)
    store.upsert_posts(posts(ago(1), NOW, 30, event_id=None))        # busy, but no event
    store.upsert_events([event("ev:odour", "化工厂异味")])
    store.upsert_posts(posts(ago(1), NOW, 8, event_id="ev:odour"))
    findings = rule(BURST).evaluate(store, NOW)
    assert [(f.group_key, f.subject, f.metrics["count"]) for f in findings] == [("ev:odour", "「化工厂异味」事件", 8)]
    assert rule(BURST, ignore_groups=["ev:odour"]).evaluate(store, NOW) == []


def test_event_burst_stream_share_raises_the_bar_with_the_stream():
    """8 posts of one event among 400 others in the hour is a chance cluster; among 40 it is news."""
    store = fish_store(before=0, now=8)
    store.upsert_posts(posts(ago(1), NOW, 40, event_id=None))
    [finding] = rule(BURST, min_stream_share=0.1).evaluate(store, NOW)             # 8 of 48: 16.7%
    assert finding.metrics["stream_count"] == 48 and finding.metrics["stream_share"] == pytest.approx(8 / 48, abs=1e-4)
    store.upsert_posts(posts(ago(1), NOW, 360, event_id=None))
    assert rule(BURST, min_stream_share=0.1).evaluate(store, NOW) == []            # 8 of 408: 2%
    assert rule(BURST).evaluate(store, NOW)                                        # min_posts alone
    # a stream full of other incidents: the bar stops at stream_share_max_posts
    assert rule(BURST, min_stream_share=0.1, stream_share_max_posts=8).evaluate(store, NOW)
    assert rule(BURST, min_stream_share=0.1, stream_share_max_posts=9).evaluate(store, NOW) == []


def test_event_burst_max_events_judges_the_busiest():
    store = RecordingStore()
    for n, size in enumerate((9, 7, 6)):
        store.upsert_posts(posts(ago(1), NOW, size, event_id=f"ev:{n}"))
    assert [f.group_key for f in rule(BURST).evaluate(store, NOW)] == ["ev:0", "ev:1", "ev:2"]
    assert [f.group_key for f in rule(BURST, max_events=2).evaluate(store, NOW)] == ["ev:0", "ev:1"]


def test_event_titles_are_one_masked_line_and_a_missing_event_reads_by_id():
    store = RecordingStore()
    store.upsert_events([event(title="死鱼\n# 联系13812345678 " + "很长" * 30)])
    store.upsert_posts(posts(ago(1), NOW, 6) + posts(ago(1), NOW, 6, event_id="ev:gone"))
    subjects = {f.group_key: f.subject for f in rule(BURST).evaluate(store, NOW)}
    assert "\n" not in subjects[FISH] and "13812345678" not in subjects[FISH]
    assert subjects[FISH].startswith("「死鱼 # 联系") and subjects[FISH].endswith("…」事件")
    assert len(subjects[FISH]) == len("「」事件") + 30
    assert subjects["ev:gone"] == "「ev:gone」事件"
    assert event_subject("") == "「未命名」事件"


# --- cross_platform -----------------------------------------------------------
def spread_over(store: RecordingStore, platforms: dict[str, int], event_id: str = FISH) -> None:
    for platform, n in platforms.items():
        store.upsert_posts(posts(ago(5), NOW, n, event_id=event_id, platform=platform))


@pytest.mark.parametrize("platforms, level", [
    ({"weibo": 6, "gov_board": 2}, None),
    ({"weibo": 6, "gov_board": 2, "news": 1}, AlertLevel.blue),
    ({"weibo": 6, "gov_board": 2, "news": 1, "forum": 1}, AlertLevel.yellow),
    ({"weibo": 6, "gov_board": 2, "news": 1, "forum": 1, "rss": 1}, AlertLevel.orange),
])
def test_cross_platform_grades_distinct_platforms(platforms, level):
    store = RecordingStore()
    store.upsert_events([event()])
    spread_over(store, platforms)
    findings = rule(CROSS).evaluate(store, NOW)
    if level is None:
        assert findings == []
        return
    [finding] = findings
    assert finding.level is level and finding.group_by == "event" and finding.group_key == FISH
    assert finding.metrics["platforms"] == len(platforms) and finding.metrics["count"] == sum(platforms.values())
    assert finding.subject == "「十里河死鱼」事件" and finding.headline == "多平台扩散"
    assert finding.summary.startswith(f"「十里河死鱼」事件近6小时已在微博、政务留言板")
    assert f"{len(platforms)}个平台出现，共{sum(platforms.values())}条信息" in finding.summary


def test_cross_platform_needs_min_posts_and_the_window():
    store = RecordingStore()
    spread_over(store, {"weibo": 2, "gov_board": 1, "news": 1})       # 3 platforms, 4 posts
    assert rule(CROSS).evaluate(store, NOW) == []
    assert rule(CROSS, min_posts=4).evaluate(store, NOW)
    store2 = RecordingStore()
    for platform in ("weibo", "gov_board", "news"):                  # three platforms, but a day apart
        store2.upsert_posts(posts(ago(30), ago(24), 3, platform=platform))
    store2.upsert_posts(posts(ago(3), NOW, 6, platform="weibo"))
    assert rule(CROSS).evaluate(store2, NOW) == []


# --- source_silent -------------------------------------------------------------
def sources_store() -> RecordingStore:
    """Two crawl sources with a baseline; `board` stopped 9 hours ago, `weibo_search` goes on."""
    store = RecordingStore()
    store.upsert_posts(posts(ago(54), ago(9), 20, event_id=None, source="board", platform="gov_board"))
    store.upsert_posts(posts(ago(54), NOW, 30, event_id=None, source="weibo_search"))
    store.upsert_posts(posts(ago(54), ago(7), 3, event_id=None, source="tiny_feed", platform="rss"))
    return store


def test_source_silent_flags_a_source_that_stopped():
    store = sources_store()
    [finding] = rule(SILENT).evaluate(store, NOW)
    assert (finding.group_by, finding.group_key, finding.level) == ("source", "board", AlertLevel.blue)
    assert finding.subject == "采集源「board」" and finding.headline == "停止更新"
    assert finding.metrics["count"] == 0 and 10 <= finding.metrics["baseline_count"] <= 20
    assert 9 <= finding.metrics["silent_hours"] < 12
    assert finding.summary == (f"采集源「board」近6小时没有新发布的信息，此前2天共{finding.metrics['baseline_count']:.0f}条，"
                               f"最近一条发布于约{finding.metrics['silent_hours']:.0f}小时前。请检查采集任务和源站是否正常。")
    assert store.count(finding.query) == 0


def test_source_silent_names_what_the_crawls_said():
    from index import health
    store = sources_store()
    [finding] = rule(SILENT).evaluate(store, NOW)
    assert "请检查采集任务和源站是否正常" in finding.summary                 # no crawl recorded yet
    health.record(store, "board", {"ok": True, "pages": 3, "written": 0}, NOW - timedelta(hours=1))
    [finding] = rule(SILENT).evaluate(store, NOW)
    assert "采集任务运行正常但没有新内容" in finding.summary
    health.record(store, "board", {"ok": False, "pages": 1, "errors": 4, "error_kinds": {"http_403": 4}}, NOW)
    [finding] = rule(SILENT).evaluate(store, NOW)
    assert "被源站拒绝4次" in finding.summary and "http_403×4" in finding.summary
    assert finding.metrics["blocked"] == 4.0


def test_source_silent_scope_level_and_minimum():
    store = sources_store()
    assert rule(SILENT, sources=["weibo_search"]).evaluate(store, NOW) == []
    assert rule(SILENT, ignore_groups=["board"]).evaluate(store, NOW) == []
    assert rule(SILENT, min_baseline=21).evaluate(store, NOW) == []
    assert [f.group_key for f in rule(SILENT, min_baseline=2).evaluate(store, NOW)] == ["board", "tiny_feed"]
    assert rule(SILENT, level="yellow").evaluate(store, NOW)[0].level is AlertLevel.yellow
    assert rule(SILENT, filter={"platforms": ["weibo"]}).evaluate(store, NOW) == []
    assert rule(SILENT, window="12h").evaluate(store, NOW) == []     # board's last post is 9h old


def test_source_silent_alert_goes_to_the_default_agency():
    store = sources_store()
    [change] = engine(store, SILENT).evaluate(NOW)
    alert = change.alert
    assert alert.title == "采集源「board」停止更新" and alert.level == "蓝"
    assert alert.topic is None and alert.region is None and alert.post_ids == []
    assert (alert.agency, alert.agency_name) == (AGENCIES.default_agency, "九江市委网信办")


# --- the common filter ------------------------------------------------------------
def test_event_rules_are_scoped_by_the_filter():
    store = RecordingStore()
    store.upsert_events([event()])
    spread_over(store, {"weibo": 6, "gov_board": 3, "news": 2})
    store.upsert_posts(posts(ago(1), NOW, 8, region=NANCHANG, platform="weibo"))
    assert rule(BURST).evaluate(store, NOW)[0].metrics["count"] == 9   # 1 of the weibo posts, 8 from 南昌
    assert rule(BURST, filter={"region_codes": ["3604"]}).evaluate(store, NOW) == []
    assert rule(BURST, filter={"platforms": ["weibo"]}).evaluate(store, NOW)
    assert rule(BURST, filter={"topics": ["交通运输"]}).evaluate(store, NOW) == []
    assert rule(BURST, filter={"text": "死鱼"}).evaluate(store, NOW)
    assert rule(BURST, filter={"text": "暴雨"}).evaluate(store, NOW) == []
    assert rule(CROSS).evaluate(store, NOW)
    assert rule(CROSS, filter={"platforms": ["weibo", "news"]}).evaluate(store, NOW) == []


def test_rules_only_aggregate():
    store = fish_store(before=2, now=12)
    spread_over(store, {"gov_board": 3, "news": 2})
    assert rule(BURST).evaluate(store, NOW) and rule(CROSS).evaluate(store, NOW)
    assert store.calls["iter_posts"] == store.calls["get_posts"] == store.calls["search"] == 0
    assert store.calls["terms"] > 0
    silent = sources_store()
    assert rule(SILENT).evaluate(silent, NOW)
    assert silent.calls["iter_posts"] == 0 and silent.calls["search"] == 1   # one top hit: the last post


# --- through the engine: raise, escalate, end --------------------------------------
def engine(store, *rules: dict) -> WarningEngine:
    return WarningEngine(store, RulesFile.model_validate({"rules": list(rules)}), AGENCIES, TOPICS)


def test_event_burst_episode_raises_escalates_and_ends():
    store = RecordingStore()
    store.upsert_events([event()])
    store.upsert_posts(posts(ago(3), ago(2), 1, sentiment="负面", region=LIANXI))
    store.upsert_posts(posts(ago(2), ago(1), 6, sentiment="负面", region=LIANXI))
    store.upsert_posts(posts(ago(1), NOW, 14, sentiment="负面", region=LIANXI))
    eng = engine(store, BURST | {"growth": 1.5, "quiet_period": "3h"})
    changes = {}
    for h in range(-1, 6):
        changes[h] = [(c.kind, c.alert.level) for c in eng.evaluate(NOW + timedelta(hours=h))]
    # at -1h: 6 posts vs 1 → 蓝; at 0: 14 vs 6 (2.1×) → 黄; at +1: nothing new, quiet; ended 3h after last seen
    assert changes[-1] == [("new", "蓝")] and changes[0] == [("escalated", "黄")]
    assert changes[1] == changes[2] == [] and changes[3] == [("ended", "黄")]
    [alert] = store.list_alerts()
    assert alert.title == "「十里河死鱼」事件热度攀升（濂溪区）"
    assert alert.topic == "环境保护" and alert.agency == "eco_env"        # from the event's posts
    assert alert.id == f"burst.ev_fish.{(NOW - timedelta(hours=1)):%Y%m%dT%H%M}"
    assert alert.peak.metrics["count"] == 14 and alert.metrics["previous_count"] == 6
    assert alert.summary.startswith("「十里河死鱼」事件近1小时新增信息14条，是此前1小时（6条）的2.1倍")
    assert store.get_state("warning.episodes.burst") == "{}"


def test_cross_platform_through_the_engine_routes_by_the_event_posts():
    store = RecordingStore()
    store.upsert_events([event()])
    spread_over(store, {"weibo": 6, "gov_board": 3, "news": 2})
    [change] = engine(store, CROSS).evaluate(NOW)
    assert change.kind == "new" and change.alert.title == "「十里河死鱼」事件多平台扩散（濂溪区）"
    assert change.alert.level == "蓝" and change.alert.agency == "eco_env"
    assert change.alert.peak.metrics["platforms"] == 3


# --- validation ---------------------------------------------------------------------
def problems(config: dict) -> str:
    with pytest.raises(ConfigError) as err:
        validate_rules(RulesFile.model_validate({"rules": [config]}), PATH)
    return str(err.value)


@pytest.mark.parametrize("config, expected", [
    (BURST | {"levels": {"蓝": 3, "黄": 10}},
     "rules.0 (burst).levels: 蓝 (3 posts) is below min_posts (5); no event with fewer posts is judged"),
    (BURST | {"level_on": "growth", "levels": {"蓝": 1.0, "黄": 3}}, "rules.0 (burst).levels: growth for 蓝 must be above 1"),
    (BURST | {"level_on": "growth", "growth": 2.0, "levels": {"蓝": 1.5}},
     "rules.0 (burst).levels: 蓝 (1.5×) is below growth (2×)"),
    (BURST | {"growth": 1.0}, "rules.0 (burst).growth: Input should be greater than 1"),
    (BURST | {"level_on": "ratio"}, "rules.0 (burst).level_on: Input should be 'posts' or 'growth'"),
    (BURST | {"smoothing": 0}, "rules.0 (burst).smoothing: Input should be greater than 0"),
    (BURST | {"max_events": 0}, "rules.0 (burst).max_events: Input should be greater than or equal to 1"),
    ({k: v for k, v in BURST.items() if k != "window"}, "rules.0 (burst).window: required parameter is missing"),
    (BURST | {"min_post": 5}, "rules.0 (burst).min_post: unknown parameter; event_burst takes:"),
    (BURST | {"stream_share_max_posts": 30}, "rules.0 (burst): stream_share_max_posts caps the min_stream_share bar"),
    (CROSS | {"levels": {"蓝": 3.5}}, "rules.0 (cross).levels: 蓝 must be a whole number of platforms, got 3.5"),
    (CROSS | {"levels": {"蓝": 2, "黄": 4}}, "rules.0 (cross).levels: 蓝 (2 platforms) is below min_platforms (3)"),
    (CROSS | {"min_platforms": 1}, "rules.0 (cross).min_platforms: Input should be greater than or equal to 2"),
    (SILENT | {"level": "紫"}, "rules.0 (silent).level: unknown alert level '紫'"),
    (SILENT | {"min_baseline": 0}, "rules.0 (silent).min_baseline: Input should be greater than or equal to 1"),
    ({k: v for k, v in SILENT.items() if k != "baseline"}, "rules.0 (silent).baseline: required parameter is missing"),
    (SILENT | {"sources": "board"}, "rules.0 (silent).sources: Input should be a valid list"),
])
def test_bad_parameters_name_the_field(config, expected):
    message = problems(config)
    assert message.startswith("configs/rules.yaml: "), message
    assert expected in message, message


def test_metric_labels_cover_the_new_metrics():
    for key in ("previous_count", "growth", "platforms", "silent_hours", "stream_share", "stream_count",
                "usual_negative_share", "significance", "driver_share"):
        assert metric_label(key) != key and metric_label(f"peak_{key}").startswith("峰值")
    assert metric_value("growth", 2.04) == "2.0倍" and metric_value("platforms", 3.0) == "3"


def test_a_topic_finding_driven_by_one_event_says_so_and_shows_its_posts():
    """A topic-wide negative surge that is mostly one incident reads as that incident."""
    store = RecordingStore()
    store.upsert_events([event()])
    store.upsert_posts(posts(ago(5), NOW, 7, sentiment="负面", region=LIANXI))                   # the incident
    store.upsert_posts(posts(ago(5), NOW, 5, event_id=None, sentiment="负面", region=LIANXI, engagement=900))
    share = {"name": "neg", "type": "negative_share", "window": "6h", "group_by": "topic", "min_count": 5,
             "levels": {"蓝": 0.5}}
    [change] = engine(store, share).evaluate(NOW)
    alert = change.alert
    assert "来自「十里河死鱼」事件的信息7条，占58%。" in alert.summary and alert.metrics["driver_share"] == 0.583
    incident = {p.id for p in store.iter_posts(PostQuery(event_ids=(FISH,)))}
    assert sum(pid in incident for pid in alert.post_ids) >= len(alert.post_ids) / 2    # despite less engagement
    # no event holding 30%: no driver
    other = RecordingStore()
    other.upsert_posts(posts(ago(5), NOW, 12, event_id=None, sentiment="负面", region=LIANXI))
    [plain] = engine(other, share).evaluate(NOW)
    assert "事件的信息" not in plain.alert.summary and "driver_share" not in plain.alert.metrics
