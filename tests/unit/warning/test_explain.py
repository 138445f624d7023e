"""Alerts that explain themselves, on the real SQLite store: example posts (masked, escaped, linked),
the basis of the level (thresholds, raises for reach/spread/negativity, the region discount), summary
and numbers of one moment with the peak apart, and ended episodes shown as 已平息."""
from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from index.configbase import ConfigError
from index.schema import Author
from warning.alerts import AlertChange
from warning.engine import WarningEngine
from warning.explain import episode_state, level_reason
from warning.notifiers import FileNotifier
from warning.notifiers.text import alert_markdown, alert_text
from warning.reports import render_briefing
from warning_support import LIANXI, NANCHANG, T0, RecordingStore, make_post, spread
from yuqing.config import AgenciesFile, RulesFile, TopicsFile, load_model

REPO = Path(__file__).resolve().parents[3]
AGENCIES = load_model(REPO / "configs" / "agencies.yaml", AgenciesFile)
TOPICS = load_model(REPO / "configs" / "topics.yaml", TopicsFile)
SPIKE = {"name": "spike", "type": "volume_spike", "description": "某话题的发帖量相对基线突增", "window": "6h",
         "baseline": "48h", "group_by": "topic", "min_count": 5, "levels": {"蓝": 2.0, "黄": 3.0, "橙": 5.0, "红": 8.0}}
HOSTILE = "化工厂<script>alert(1)</script>偷排，举报电话13812345678，" + "河道发黑发臭" * 20


def hours(n: float) -> datetime:
    return T0 + timedelta(hours=n)


def engine(store, *notifiers, rules=(SPIKE,), grading=None, tz=ZoneInfo("Asia/Shanghai")) -> WarningEngine:
    data = {"rules": list(rules)} | ({"grading": grading} if grading is not None else {})
    return WarningEngine(store, RulesFile.model_validate(data), AGENCIES, TOPICS, list(notifiers), tz=tz)


def seed(store, *, region=LIANXI, platforms=("weibo",), followers: int | None = None, sentiment="负面") -> None:
    """A quiet baseline, then a burst of 20 posts over 5 hours; the loudest one is hostile text."""
    store.upsert_posts(spread(hours(0), hours(48), 24, region=region, text="濂溪区河道日常巡查"))
    burst = spread(hours(48), hours(53), 20, region=region, sentiment=sentiment, text="濂溪区河道死鱼 化工厂排污",
                   engagement=5)
    burst = [p.model_copy(update={"platform": platforms[i % len(platforms)]}) for i, p in enumerate(burst)]
    loud = make_post(hours(52.5), region=region, sentiment=sentiment, text=HOSTILE, engagement=900,
                     url="https://weibo.example.org/status/4231265311393455")
    loud = loud.model_copy(update={"author": Author(name="爆料人13912345678", followers=followers)})
    store.upsert_posts(burst + [loud])


def run(eng: WarningEngine, first: float, last: float) -> list[AlertChange]:
    changes, h = [], first
    while h <= last:
        changes += eng.evaluate(hours(h))
        h += 1
    return changes


# --- examples --------------------------------------------------------------------------
def test_examples_are_masked_excerpts_with_platform_time_and_link_and_survive_the_store():
    store = RecordingStore()
    seed(store)
    berlin = ZoneInfo("Europe/Berlin")
    run(engine(store, tz=berlin), 50, 53)
    [alert] = store.list_alerts()
    assert alert.examples and [e.post_id for e in alert.examples] == alert.post_ids   # same posts, both kept
    loud = next(e for e in alert.examples if e.engagement == 900)
    assert loud.text.startswith("化工厂<script>alert(1)</script>偷排，举报电话138****5678")
    assert len(loud.text) == 80 and loud.text.endswith("…") and "13812345678" not in loud.text
    assert loud.author == "爆料人139****5678"
    assert (loud.platform, loud.platform_label, loud.sentiment) == ("weibo", "微博", "负面")
    assert loud.url == "https://weibo.example.org/status/4231265311393455"
    assert loud.published_at.utcoffset() == timedelta(hours=1)         # the office's zone (Berlin here)
    assert loud.published_at == hours(52.5)


def test_a_link_carrying_personal_data_or_markup_is_not_shown():
    store = RecordingStore()
    seed(store)
    bad = [make_post(hours(52.9), sentiment="负面", engagement=999, text="偷排", url=url) for url in
           ("https://bbs.example.org/t?tel=13812345678", 'https://x.example.org/"><script>', "javascript:alert(1)")]
    store.upsert_posts(bad)
    run(engine(store), 53, 53)
    [alert] = store.list_alerts()
    shown = {e.post_id: e.url for e in alert.examples}
    assert all(shown[p.id] is None for p in bad)


# --- basis -------------------------------------------------------------------------------
def test_basis_names_rule_value_and_the_threshold_reached():
    store = RecordingStore()
    seed(store)
    run(engine(store), 53, 53)
    [alert] = store.list_alerts()
    basis = alert.basis
    assert (basis.rule, basis.rule_type, basis.description) == ("spike", "volume_spike", "某话题的发帖量相对基线突增")
    assert basis.value_key == "ratio" and basis.value == alert.metrics["ratio"]
    assert basis.thresholds == {"蓝": 2.0, "黄": 3.0, "橙": 5.0, "红": 8.0}
    assert basis.rule_level == alert.level == basis.level and basis.adjustments == []
    assert basis.threshold == basis.thresholds[alert.level] <= basis.value
    assert basis.next_threshold is None or basis.value < basis.next_threshold
    assert f"相对基线倍数 {basis.value:.1f}倍，达到{alert.level}级阈值 {basis.threshold:.1f}倍" in basis.text
    assert "规则 spike（某话题的发帖量相对基线突增）" in basis.text and basis.text.endswith("。")
    assert level_reason(alert) == basis.text


def test_region_discount_is_part_of_the_basis():
    store = RecordingStore()
    seed(store, region=NANCHANG)
    run(engine(store), 53, 53)
    [alert] = store.list_alerts()
    [step] = alert.basis.adjustments
    assert (step.kind, step.change, step.level) == ("region", -1, alert.level)
    assert alert.basis.rule_level != alert.level
    assert "不在本辖区，下调一级至" in alert.basis.text


def test_reach_raises_one_level_and_says_why():
    plain, famous = RecordingStore(), RecordingStore()
    seed(plain, followers=5000)
    seed(famous, followers=2_000_000)
    grading = {"reach": {"min_followers": 1_000_000}}
    run(engine(plain, grading=grading), 53, 53)
    run(engine(famous, grading=grading), 53, 53)
    [base], [raised] = plain.list_alerts(), famous.list_alerts()
    assert base.basis.adjustments == []
    assert raised.basis.rule_level == base.level
    assert raised.level_enum.rank == base.level_enum.rank + 1
    [step] = raised.basis.adjustments
    assert (step.kind, step.change, step.level) == ("reach", 1, raised.level)
    assert "粉丝200万，达到100万" in step.reason and "爆料人139****5678" in step.reason
    assert f"上调一级至{raised.level}" in raised.basis.text


def test_spread_and_negativity_raise_within_max_raise():
    store = RecordingStore()
    seed(store, platforms=("weibo", "news", "forum"))
    grading = {"spread": {"min_platforms": 3, "min_posts_per_platform": 3},
               "negativity": {"min_share": 0.9, "min_negative": 10}}
    run(engine(store, grading=grading), 53, 53)
    [once] = store.list_alerts()
    kinds = [(s.kind, s.change) for s in once.basis.adjustments]
    assert kinds == [("spread", 1), ("negativity", 0)]              # max_raise 1: the second is noted, not applied
    assert "信息见于3个平台（微博、新闻网站、论坛）各至少3条" in once.basis.text and "已达上调上限 1 级" in once.basis.text

    store2 = RecordingStore()
    seed(store2, platforms=("weibo", "news", "forum"))
    run(engine(store2, grading={**grading, "max_raise": 2}), 51, 51)     # an earlier, lower stage
    [twice] = store2.list_alerts()
    assert twice.basis.rule_level in ("蓝", "黄")
    assert [(s.kind, s.change) for s in twice.basis.adjustments] == [("spread", 1), ("negativity", 1)]
    assert twice.level_enum.rank == ["蓝", "黄", "橙", "红"].index(twice.basis.rule_level) + 2


def test_conditions_not_met_leave_the_level_alone():
    store = RecordingStore()
    seed(store, platforms=("weibo", "news"), sentiment="中性")
    grading = {"spread": {"min_platforms": 3}, "negativity": {"min_share": 0.5}, "reach": {"min_engagement": 5000}}
    run(engine(store, grading=grading), 53, 53)
    [alert] = store.list_alerts()
    assert alert.basis.adjustments == [] and alert.level == alert.basis.rule_level


def test_a_rule_can_switch_off_a_global_raise():
    store = RecordingStore()
    seed(store, followers=2_000_000)
    rule = {**SPIKE, "grading": {"reach": None}}
    run(engine(store, rules=(rule,), grading={"reach": {"min_followers": 1000}}), 53, 53)
    [alert] = store.list_alerts()
    assert alert.basis.adjustments == []


def test_grading_config_errors_name_file_and_field(tmp_path):
    path = tmp_path / "rules.yaml"
    path.write_text("grading:\n  reach: {min_folowers: 10}\n  max_raise: 5\nrules: []\n", encoding="utf-8")
    with pytest.raises(ConfigError) as err:
        load_model(path, RulesFile)
    message = str(err.value)
    assert str(path) in message and "grading.reach.min_folowers" in message and "grading.max_raise" in message
    path.write_text("grading:\n  reach: {}\nrules:\n  - {name: a, type: volume_spike, grading: {spread: {min_platforms: 1}}}\n",
                    encoding="utf-8")
    with pytest.raises(ConfigError) as err:
        load_model(path, RulesFile)
    assert "grading.reach: give min_followers and/or min_engagement" in str(err.value)
    assert "rules.0.grading.spread.min_platforms" in str(err.value)


# --- one moment, and the peak apart ---------------------------------------------------------
def test_summary_and_metrics_describe_the_same_moment_after_the_peak():
    store = RecordingStore()
    seed(store)
    eng = engine(store)
    run(eng, 50, 53)
    peak_alert = store.list_alerts()[0]
    eng.evaluate(hours(55))                 # part of the burst has left the 6h window
    [alert] = store.list_alerts()
    assert alert.metrics["ratio"] < peak_alert.metrics["ratio"]
    count, ratio = int(alert.metrics["count"]), alert.metrics["ratio"]
    assert f"信息{count}条" in alert.summary and f"的{ratio:.1f}倍" in alert.summary
    assert alert.basis.value == ratio
    peak = alert.peak
    assert peak.level == alert.level and peak.at == hours(53) and peak.value == peak_alert.metrics["ratio"]
    assert f"信息{int(peak.metrics['count'])}条" in peak.summary and f"的{peak.value:.1f}倍" in peak.summary
    assert level_reason(alert) == peak.basis.text                      # the level is explained by the peak

    text = alert_text(alert, AlertChange(alert, "new"))
    assert "峰值（2026-11-17 05:00，" in text and peak.summary in text
    assert f"最新研判（2026-11-17 07:00）\n\n{alert.summary}" in text


def test_ended_episode_reads_as_ended(tmp_path):
    store = RecordingStore()
    seed(store)
    files = FileNotifier(tmp_path)
    run(engine(store, files), 50, 66)
    [alert] = store.list_alerts()
    assert alert.ended_at is not None
    assert episode_state(alert) == f"已平息（{alert.ended_at:%m-%d %H:%M}）"
    page = next((tmp_path / "alerts").glob("*.md")).read_text(encoding="utf-8")
    assert f"预警状态：已平息（{alert.ended_at:%m-%d %H:%M}）" in page


# --- shown everywhere, escaped ----------------------------------------------------------------
def test_markdown_escapes_example_text_and_plain_text_keeps_it():
    store = RecordingStore()
    seed(store)
    run(engine(store), 53, 53)
    [alert] = store.list_alerts()
    markdown = alert_markdown(alert, AlertChange(alert, "new"))
    assert "<script>" not in markdown and "&lt;script&gt;alert\\(1\\)&lt;/script&gt;" in markdown
    assert "13812345678" not in markdown and "138\\*\\*\\*\\*5678" in markdown   # masked, then escaped
    assert "【微博 · 11-17 04:30 · 爆料人139\\*\\*\\*\\*5678 · 互动900 · 负面】" in markdown
    assert "链接：<https://weibo.example.org/status/4231265311393455>" in markdown
    assert "## 等级依据" in markdown and "达到" in markdown
    text = alert_text(alert, AlertChange(alert, "new"))
    assert "化工厂<script>alert(1)</script>偷排，举报电话138****5678" in text and "13812345678" not in text
    assert "链接：https://weibo.example.org/status/4231265311393455" in text
    assert "预警状态：进行中" in text


def test_briefing_shows_examples_basis_peak_and_ended_alerts_last(tmp_path):
    store = RecordingStore()
    seed(store)
    # a second, later incident on another topic that is still open at the end of the period
    store.upsert_posts(spread(hours(0), hours(60), 30, topic="交通运输", text="道路畅通", sentiment="中性"))
    store.upsert_posts(spread(hours(62), hours(66), 20, topic="交通运输", text="浔阳区道路塌陷", sentiment="负面"))
    eng = engine(store)
    run(eng, 50, 66)
    alerts = {a.topic: a for a in store.list_alerts()}
    assert alerts["环境保护"].ended_at is not None and alerts["交通运输"].ended_at is None
    path = render_briefing(store, start=hours(48), end=hours(67), out_dir=tmp_path, office_name="九江市委网信办",
                           agencies=AGENCIES, topics=TOPICS)
    html = path.read_text(encoding="utf-8")
    assert "<script" not in html and "13812345678" not in html and "13912345678" not in html
    assert "化工厂&lt;script&gt;alert(1)&lt;/script&gt;偷排，举报电话138****5678" in html
    assert '<a href="https://weibo.example.org/status/4231265311393455">' in html
    assert "微博 · 11-17 04:30 · 爆料人139****5678" in html
    assert "<b>等级依据</b>" in html and "达到" in html and "规则 spike（某话题的发帖量相对基线突增）" in html
    assert "峰值（11-17 06:00，橙色预警）" in html and "峰值相对基线倍数 <b>5.5倍</b>" in html
    ended = alerts["环境保护"]
    assert f"● 已平息 {ended.ended_at:%m-%d %H:%M}" in html and "预警状态：<b>进行中</b>" in html
    assert html.index(alerts["交通运输"].title) < html.index(ended.title)   # open first, ended after
    assert "已平息 1" in html
