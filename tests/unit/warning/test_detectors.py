"""The two rule types: grouping, smoothing, thresholds, filters — and aggregations only."""
from __future__ import annotations

from datetime import timedelta

import pytest

from index.schema import AlertLevel
from warning.detectors.volume_spike import spike_ratio
from warning.rules import build_rules
from warning_support import LIANXI, NANCHANG, T0, XUNYANG, RecordingStore, spread
from yuqing.config import RulesFile

LEVELS = {"蓝": 2.0, "黄": 3.0, "橙": 5.0, "红": 8.0}
NOW = T0 + timedelta(days=3)


def rule(**params):
    config = {"name": "r", "type": "volume_spike", "window": "6h", "baseline": "48h", "group_by": "topic",
              "min_count": 5, "levels": LEVELS} | params
    return build_rules(RulesFile.model_validate({"rules": [config]}))[0]


def share_rule(**params):
    config = {"name": "n", "type": "negative_share", "window": "6h", "group_by": "topic", "min_count": 5,
              "levels": {"蓝": 0.5, "黄": 0.6, "橙": 0.7, "红": 0.8}} | params
    return build_rules(RulesFile.model_validate({"rules": [config]}))[0]


def baseline_and_burst(store: RecordingStore, burst: int, *, baseline: int = 12, **kwargs) -> None:
    """`baseline` posts over the 48h before the window, `burst` posts in the last 6h."""
    window_start = NOW - timedelta(hours=6)
    store.upsert_posts(spread(window_start - timedelta(hours=48), window_start, baseline, **kwargs))
    if burst:
        store.upsert_posts(spread(window_start, NOW, burst, **kwargs))


def test_spike_ratio_is_smoothed():
    expected, ratio = spike_ratio(8, 0, timedelta(hours=6), timedelta(hours=48), smoothing=1.0)
    assert expected == 0 and ratio == pytest.approx(9.0)      # finite with an empty baseline
    expected, ratio = spike_ratio(11, 12, timedelta(hours=6), timedelta(hours=48), smoothing=1.0)
    assert expected == pytest.approx(1.5) and ratio == pytest.approx(12 / 2.5)


@pytest.mark.parametrize("burst, level", [(4, None), (5, AlertLevel.blue), (8, AlertLevel.yellow),
                                          (12, AlertLevel.orange), (20, AlertLevel.red)])
def test_volume_spike_level_is_highest_threshold_reached(burst, level):
    store = RecordingStore()
    baseline_and_burst(store, burst)   # expected 1.5 per 6h → ratio (burst + 1) / 2.5
    findings = rule().evaluate(store, NOW)
    if level is None:
        assert findings == []
        return
    [finding] = findings
    assert finding.level is level
    assert finding.group_key == "环境保护" and finding.group_id == "环境保护"
    assert finding.metrics["count"] == burst
    assert finding.metrics["ratio"] == pytest.approx((burst + 1) / 2.5, abs=1e-3)
    assert finding.window_start == NOW - timedelta(hours=6) and finding.window_end == NOW
    assert finding.subject == "环境保护类" and finding.headline == "信息量激增"
    assert f"近6小时环境保护类信息{burst}条" in finding.summary


def other_news(store: RecordingStore, hours: int = 48) -> None:
    """Unrelated posts, so the stream has history while a topic's own baseline is empty."""
    store.upsert_posts(spread(NOW - timedelta(hours=6 + hours), NOW - timedelta(hours=6), 8, topic="其他",
                              text="九江天气晴"))


def test_volume_spike_min_count_blocks_tiny_groups():
    store = RecordingStore()
    other_news(store)
    baseline_and_burst(store, 4, baseline=0)   # ratio 5 but only 4 posts
    assert rule().evaluate(store, NOW) == []
    assert rule(min_count=3).evaluate(store, NOW)[0].level is AlertLevel.orange


def test_no_judgement_until_the_baseline_has_history():
    store = RecordingStore()
    store.upsert_posts(spread(NOW - timedelta(hours=6), NOW, 30))     # a fresh system: all data is new
    assert rule().evaluate(store, NOW) == []
    other_news(store, hours=20)                                        # 20h of history < 24h required
    assert rule().evaluate(store, NOW) == []
    assert rule(min_history="12h").evaluate(store, NOW)


def test_partial_history_scales_the_expected_rate():
    store = RecordingStore()
    baseline_and_burst(store, 0, baseline=0)
    window_start = NOW - timedelta(hours=6)
    store.upsert_posts(spread(window_start - timedelta(hours=24), window_start, 12))   # 24h of data, 3 per 6h
    store.upsert_posts(spread(window_start, NOW, 15))
    [finding] = rule().evaluate(store, NOW)
    assert finding.metrics["baseline_hours"] == 24
    assert finding.metrics["expected"] == pytest.approx(3.0)           # not 1.5: only 24h of the 48h had data
    assert finding.metrics["ratio"] == pytest.approx(16 / 4)
    assert "是此前1天平均水平" in finding.summary


def test_steady_volume_does_not_fire():
    store = RecordingStore()
    baseline_and_burst(store, 6, baseline=48)   # 6 per 6h, as before
    assert rule().evaluate(store, NOW) == []


def test_volume_spike_groups_independently():
    store = RecordingStore()
    baseline_and_burst(store, 20, topic="环境保护")
    baseline_and_burst(store, 6, baseline=48, topic="交通运输", text="九江大道拥堵")
    findings = rule().evaluate(store, NOW)
    assert [f.group_key for f in findings] == ["环境保护"]


def test_volume_spike_by_region_platform_and_none():
    store = RecordingStore()
    baseline_and_burst(store, 20, region=LIANXI, platform="weibo")
    baseline_and_burst(store, 6, baseline=48, region=XUNYANG, platform="news")
    by_region = rule(group_by="region").evaluate(store, NOW)
    assert [(f.group_key, f.region_code) for f in by_region] == [("360402", "360402")]
    assert by_region[0].query.region_codes == ("360402",)
    by_platform = rule(group_by="platform").evaluate(store, NOW)
    assert [f.group_key for f in by_platform] == ["weibo"] and by_platform[0].subject == "微博平台"
    [whole] = rule(group_by="none").evaluate(store, NOW)
    assert whole.group_key is None and whole.group_id == "all" and whole.metrics["count"] == 26


def test_filter_narrows_the_rule():
    store = RecordingStore()
    baseline_and_burst(store, 20, region=NANCHANG, text="南昌某小区异味")
    baseline_and_burst(store, 2, region=LIANXI)
    assert rule(filter={"region_codes": ["3604"]}).evaluate(store, NOW) == []
    assert rule(filter={"region_codes": ["3601"]}).evaluate(store, NOW)
    assert rule(filter={"text": "南昌 异味"}).evaluate(store, NOW)
    assert rule(filter={"platforms": ["news"]}).evaluate(store, NOW) == []


def test_scheme_scopes_and_groups_the_rule():
    """A rule narrowed to a monitoring scheme sees only posts tagged with it; group_by scheme judges
    each scheme on its own (a post tagged with two counts in both)."""
    store = RecordingStore()
    baseline_and_burst(store, 20, schemes=["十里河水环境"])
    baseline_and_burst(store, 20, baseline=80, schemes=["安全生产"], text="某工地塔吊倒塌")
    baseline_and_burst(store, 20)                                          # untagged burst
    [scoped] = rule(group_by="none", filter={"schemes": ["十里河水环境"]}).evaluate(store, NOW)
    assert scoped.metrics["count"] == 20 and scoped.query.schemes == ("十里河水环境",)
    assert rule(group_by="none", filter={"schemes": ["未命中方案"]}).evaluate(store, NOW) == []
    by_scheme = rule(group_by="scheme").evaluate(store, NOW)
    assert [f.group_key for f in by_scheme] == ["十里河水环境"]          # 安全生产 held its usual rate
    assert by_scheme[0].subject == "监测方案「十里河水环境」" and by_scheme[0].query.schemes == ("十里河水环境",)


def test_finding_query_selects_the_groups_posts_in_the_window():
    store = RecordingStore()
    baseline_and_burst(store, 20)
    baseline_and_burst(store, 20, topic="交通运输")
    finding = next(f for f in rule().evaluate(store, NOW) if f.group_key == "交通运输")
    assert store.count(finding.query) == 20
    assert {p.topic for p in store.iter_posts(finding.query)} == {"交通运输"}


def test_negative_share_levels_and_min_count():
    store = RecordingStore()
    start = NOW - timedelta(hours=5)
    store.upsert_posts(spread(start, NOW, 7, sentiment="负面"))
    store.upsert_posts(spread(start, NOW, 3, sentiment="中性"))
    [finding] = share_rule().evaluate(store, NOW)
    assert finding.level is AlertLevel.orange
    assert finding.metrics == {"count": 10.0, "negative_count": 7.0, "negative_share": 0.7}
    assert finding.headline == "负面信息集中" and "其中负面7条，占70%" in finding.summary
    assert share_rule(min_count=11).evaluate(store, NOW) == []
    assert share_rule(min_negative=8).evaluate(store, NOW) == []


def test_negative_share_counts_polarity_not_the_writers_tone():
    store = RecordingStore()
    start = NOW - timedelta(hours=5)
    # calm reports of an accident: 中性 in tone, 负面 in polarity — they are what the office must see
    store.upsert_posts(spread(start, NOW, 7, sentiment="中性", polarity="负面"))
    # angry chatter about nothing public: 负面 in tone, 中性 in polarity
    store.upsert_posts(spread(start, NOW, 3, sentiment="负面", polarity="中性"))
    [finding] = share_rule().evaluate(store, NOW)
    assert finding.metrics["negative_count"] == 7.0 and finding.metrics["negative_share"] == 0.7


def test_negative_share_below_lowest_level_and_outside_window():
    store = RecordingStore()
    store.upsert_posts(spread(NOW - timedelta(hours=5), NOW, 4, sentiment="负面"))
    store.upsert_posts(spread(NOW - timedelta(hours=5), NOW, 6, sentiment="正面"))
    store.upsert_posts(spread(NOW - timedelta(hours=30), NOW - timedelta(hours=7), 20, sentiment="负面"))
    assert share_rule().evaluate(store, NOW) == []      # 40% now; the old negative posts don't count


def test_negative_share_against_the_usual_share_of_the_group():
    """A complaint topic that is always ~75% negative stays quiet; one that is usually calm fires."""
    store = RecordingStore()
    window = NOW - timedelta(hours=5)
    before = NOW - timedelta(days=7)
    for topic, usual_negative in (("城乡建设", 0.75), ("环境保护", 0.2)):
        n = 100
        store.upsert_posts(spread(before, NOW - timedelta(hours=6), int(n * usual_negative), topic=topic,
                                  sentiment="负面"))
        store.upsert_posts(spread(before, NOW - timedelta(hours=6), n - int(n * usual_negative), topic=topic))
        store.upsert_posts(spread(window, NOW, 8, topic=topic, sentiment="负面"))
        store.upsert_posts(spread(window, NOW, 2, topic=topic))
    plain = share_rule().evaluate(store, NOW)
    assert sorted(f.group_key for f in plain) == ["城乡建设", "环境保护"]            # both are 80% negative now
    [finding] = share_rule(baseline="7d").evaluate(store, NOW)
    assert finding.group_key == "环境保护" and finding.level is AlertLevel.red
    assert finding.metrics["usual_negative_share"] == pytest.approx(0.21, abs=0.01)   # the week before, less the last day
    assert finding.metrics["significance"] > 3.5 and "高于往常（此前1周）的21%" in finding.summary
    assert share_rule(baseline="7d", min_significance=8).evaluate(store, NOW) == []


def test_negative_share_baseline_leaves_out_the_day_before_the_window():
    """An incident that built up yesterday is not its own norm: the baseline ends baseline_gap before."""
    store = RecordingStore()
    store.upsert_posts(spread(NOW - timedelta(days=7), NOW - timedelta(days=2), 40, sentiment="中性"))
    store.upsert_posts(spread(NOW - timedelta(days=7), NOW - timedelta(days=2), 10, sentiment="负面"))
    store.upsert_posts(spread(NOW - timedelta(hours=20), NOW - timedelta(hours=6), 30, sentiment="负面"))
    store.upsert_posts(spread(NOW - timedelta(hours=5), NOW, 9, sentiment="负面"))
    store.upsert_posts(spread(NOW - timedelta(hours=5), NOW, 1, sentiment="中性"))
    [finding] = share_rule(baseline="7d").evaluate(store, NOW)
    assert finding.metrics["usual_negative_share"] == pytest.approx(11 / 52, abs=1e-3)
    assert share_rule(baseline="7d", baseline_gap="1m").evaluate(store, NOW) == []    # yesterday's 30 count


def test_negative_share_without_history_is_judged_against_one_half():
    store = RecordingStore()
    store.upsert_posts(spread(NOW - timedelta(hours=5), NOW, 9, sentiment="负面"))
    store.upsert_posts(spread(NOW - timedelta(hours=5), NOW, 1, sentiment="中性"))
    # P(X ≥ 9 | 10, ½) = 11/1024: −log10 = 1.97, just short of the default 2
    assert share_rule(baseline="7d").evaluate(store, NOW) == []
    [finding] = share_rule(baseline="7d", min_significance=1.5).evaluate(store, NOW)
    assert finding.metrics["usual_negative_share"] == 0.5 and finding.metrics["significance"] == pytest.approx(1.969)


@pytest.mark.parametrize("params, message", [({"baseline": "3h"}, "at least as long as window"),
                                             ({"min_significance": 3}, "min_significance needs baseline"),
                                             ({"baseline_gap": "1d"}, "baseline_gap needs baseline")])
def test_negative_share_baseline_options_are_validated(params, message):
    with pytest.raises(Exception, match=message):
        share_rule(**params)


def test_negative_share_ignores_unenriched_posts():
    store = RecordingStore()
    start = NOW - timedelta(hours=5)
    store.upsert_posts(spread(start, NOW, 6, sentiment="负面"))
    store.upsert_posts(spread(start, NOW, 4, sentiment="中性"))
    store.upsert_posts(spread(start, NOW, 30, enriched=False))
    [finding] = share_rule().evaluate(store, NOW)
    assert finding.metrics["count"] == 10 and finding.level is AlertLevel.yellow


def test_rules_only_aggregate():
    store = RecordingStore()
    baseline_and_burst(store, 20, sentiment="负面")
    assert rule().evaluate(store, NOW) and share_rule().evaluate(store, NOW)
    assert store.calls["iter_posts"] == 0 and store.calls["search"] == 0 and store.calls["get_posts"] == 0
    assert store.calls["terms"] > 0


def test_naive_now_is_read_as_shanghai_time():
    store = RecordingStore()
    baseline_and_burst(store, 20)
    naive = NOW.replace(tzinfo=None)
    [finding] = rule().evaluate(store, naive)
    assert finding.window_end == NOW


@pytest.mark.parametrize("make_rule", [rule, share_rule])
def test_ignored_groups_are_never_judged(make_rule):
    store = RecordingStore()
    baseline_and_burst(store, 20, topic="其他", sentiment="负面")
    assert make_rule().evaluate(store, NOW)                          # the burst is judged by default
    assert make_rule(ignore_groups=["其他"]).evaluate(store, NOW) == []
