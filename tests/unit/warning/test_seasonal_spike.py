"""volume_spike with a seasonal baseline: same hour of the day / week, robust statistics, fallbacks."""
from __future__ import annotations

import math
from datetime import timedelta

import pytest

from index.configbase import ConfigError
from index.schema import AlertLevel
from warning.detectors.volume_spike import poisson_score, robust_z
from warning.rules import build_rules, validate_rules
from warning_support import T0, RecordingStore, spread
from yuqing.config import RulesFile

Z_LEVELS = {"蓝": 4.0, "黄": 6.0, "橙": 9.0, "红": 14.0}


def rule(**params):
    config = {"name": "s", "type": "volume_spike", "window": "1h", "baseline": "24h", "group_by": "topic",
              "min_count": 5, "seasonality": "daily", "history": "14d", "min_seasons": 3,
              "statistic": "zscore", "levels": Z_LEVELS} | params
    return build_rules(RulesFile.model_validate({"rules": [config]}))[0]


def daily_pattern(store, days: int, *, rush: int = 20, other: int = 2, rush_hour: int = 7, topic="交通运输"):
    """`days` days from T0: `rush` posts in the rush hour, `other` in every other hour."""
    for day in range(days):
        for hour in range(24):
            start = T0 + timedelta(days=day, hours=hour)
            n = rush if hour == rush_hour else other
            store.upsert_posts(spread(start, start + timedelta(hours=1), n, topic=topic, text="九江大道早高峰拥堵"))


def test_a_daily_rush_hour_is_normal_for_the_seasonal_baseline_but_not_for_the_recent_one():
    store = RecordingStore()
    daily_pattern(store, 6)
    now = T0 + timedelta(days=5, hours=8)          # judging the 6th day's 07:00–08:00 rush
    assert rule().evaluate(store, now) == []
    recent = rule(seasonality="none", statistic="ratio", levels={"蓝": 2.0, "红": 8.0})
    [finding] = recent.evaluate(store, now)        # against the whole day's average rate, a rush is a spike
    assert finding.metrics["seasons"] == 0 and finding.metrics["baseline_hours"] == 24


def test_a_real_spike_fires_against_the_same_hour_of_earlier_days():
    store = RecordingStore()
    daily_pattern(store, 5)
    burst_start = T0 + timedelta(days=5, hours=14)
    store.upsert_posts(spread(burst_start, burst_start + timedelta(hours=1), 40, topic="交通运输"))
    [finding] = rule().evaluate(store, burst_start + timedelta(hours=1))
    assert finding.metrics["seasons"] == 5 and finding.metrics["expected"] == 2
    assert finding.value_key == "zscore"
    # spread = max(MAD·1.4826, √(2+1)) = √3 → z = (40 − 2)/√3 ≈ 21.9: 红
    assert finding.value == pytest.approx(38 / math.sqrt(3), rel=1e-3) and finding.level is AlertLevel.red
    assert "过去5天同时段中位数2条" in finding.summary and "稳健z分数21.9" in finding.summary
    assert f"{finding.metrics['count']:.0f}条" in finding.summary


def test_levels_follow_the_chosen_statistic():
    store = RecordingStore()
    daily_pattern(store, 5)
    burst_start = T0 + timedelta(days=5, hours=14)
    store.upsert_posts(spread(burst_start, burst_start + timedelta(hours=1), 12, topic="交通运输"))
    now = burst_start + timedelta(hours=1)
    [z] = rule().evaluate(store, now)                                    # (12 − 2)/√3 ≈ 5.8 → 蓝
    assert z.level is AlertLevel.blue
    [p] = rule(statistic="poisson", levels={"蓝": 3.0, "黄": 4.0, "橙": 6.0, "红": 10.0}).evaluate(store, now)
    assert p.value_key == "poisson_score" and p.value == pytest.approx(poisson_score(12, 2.0), abs=1e-3)
    assert p.level is AlertLevel.yellow                                 # P(X ≥ 12 | λ=3) ≈ 7e-5
    [r] = rule(statistic="ratio", levels={"蓝": 2.0, "黄": 3.0, "橙": 5.0}).evaluate(store, now)
    assert r.value == pytest.approx(13 / 3, rel=1e-3) and r.level is AlertLevel.yellow


def test_short_history_falls_back_to_the_recent_baseline():
    store = RecordingStore()
    daily_pattern(store, 2)                       # two days: fewer than min_seasons (3) earlier days
    burst_start = T0 + timedelta(days=2, hours=14)
    store.upsert_posts(spread(burst_start, burst_start + timedelta(hours=1), 40, topic="交通运输"))
    [finding] = rule().evaluate(store, burst_start + timedelta(hours=1))
    assert finding.metrics["seasons"] == 0 and "baseline_hours" in finding.metrics
    assert "平均水平" in finding.summary


def test_weekly_falls_back_to_daily_until_enough_weeks_exist():
    store = RecordingStore()
    daily_pattern(store, 5)
    burst_start = T0 + timedelta(days=5, hours=14)
    store.upsert_posts(spread(burst_start, burst_start + timedelta(hours=1), 40, topic="交通运输"))
    [finding] = rule(seasonality="weekly", history="28d").evaluate(store, burst_start + timedelta(hours=1))
    assert finding.metrics["seasons"] == 5 and "天同时段" in finding.summary


def test_weekly_seasonality_compares_the_same_hour_of_the_week():
    store = RecordingStore()
    # Three weeks where Mondays 09:00 (T0 is a Sunday, so day 1) carry 30 posts, other hours 1.
    for day in range(21):
        for hour in range(24):
            start = T0 + timedelta(days=day, hours=hour)
            n = 30 if (day % 7 == 1 and hour == 9) else 1
            store.upsert_posts(spread(start, start + timedelta(hours=1), n, topic="城乡建设"))
    monday = T0 + timedelta(days=22, hours=9)
    store.upsert_posts(spread(monday, monday + timedelta(hours=1), 30, topic="城乡建设"))
    weekly = rule(seasonality="weekly", history="21d")
    assert weekly.evaluate(store, monday + timedelta(hours=1)) == []          # a normal Monday
    [daily] = rule(history="21d").evaluate(store, monday + timedelta(hours=1))   # other days' 09:00 say 1
    assert daily.level is AlertLevel.red


def test_groups_without_history_count_zero_in_every_season():
    store = RecordingStore()
    daily_pattern(store, 4)
    start = T0 + timedelta(days=4, hours=10)
    store.upsert_posts(spread(start, start + timedelta(hours=1), 12, topic="环境保护"))
    [finding] = rule().evaluate(store, start + timedelta(hours=1))
    assert finding.group_key == "环境保护" and finding.metrics["expected"] == 0
    assert finding.value == pytest.approx(12.0)                     # (12 − 0) / √(0 + 1)


def test_seasonal_rule_only_aggregates():
    store = RecordingStore()
    daily_pattern(store, 4)
    rule().evaluate(store, T0 + timedelta(days=4))
    assert store.calls["iter_posts"] == 0 and store.calls["get_posts"] == 0
    assert store.calls["search"] <= 1                               # the stream's first post: one top hit


def test_robust_statistics():
    assert robust_z(10, [2, 2, 2, 2]) == (2, math.sqrt(3), pytest.approx(8 / math.sqrt(3)))
    median, spread, z = robust_z(50, [0, 10, 20, 10, 30])          # MAD 10 beats the Poisson floor √11
    assert median == 10 and spread == pytest.approx(14.826) and z == pytest.approx(40 / 14.826)
    assert robust_z(10, [0, 2, 10, 2, 3])[1] == pytest.approx(math.sqrt(3))   # MAD 1: floored
    assert poisson_score(2, 3.0) == 0.0
    assert poisson_score(400, 1.0) > 300                              # no underflow to infinity


@pytest.mark.parametrize("params, message", [
    ({"statistic": "zscore", "levels": {"蓝": 0}}, "zscore threshold for 蓝 must be positive"),
    ({"statistic": "ratio", "levels": {"蓝": 0.9}}, "ratio for 蓝 must be above 1"),
    ({"window": "2d", "baseline": "3d"}, "window (2天) cannot be longer than the daily season"),
    ({"history": "2d"}, "history (2天) is shorter than min_seasons (3) daily seasons"),
    ({"seasonality": "hourly"}, "seasonality"),
])
def test_invalid_seasonal_parameters_are_rejected(params, message):
    config = {"name": "s", "type": "volume_spike", "window": "1h", "baseline": "24h", "seasonality": "daily",
              "levels": Z_LEVELS} | params
    with pytest.raises(ConfigError) as info:
        validate_rules(RulesFile.model_validate({"rules": [config]}), "configs/rules.yaml")
    assert message in str(info.value) and "configs/rules.yaml: rules.0 (s)" in str(info.value)
