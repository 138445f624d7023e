"""Rule configuration: durations, level thresholds and validate_rules error messages."""
from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from index.schema import AlertLevel
from warning.durations import format_duration, humanize_duration, parse_duration
from warning.grading import level_for
from warning.rules import RULE_TYPES, build_rules, validate_rules
from yuqing.config import ConfigError, RulesFile, load_model, load_settings

REPO = Path(__file__).resolve().parents[3]
PATH = Path("configs/rules.yaml")


def rules(*items: dict) -> RulesFile:
    return RulesFile.model_validate({"rules": list(items)})


def spike(**overrides) -> dict:
    base = {"name": "volume_spike", "type": "volume_spike", "window": "6h", "baseline": "48h",
            "group_by": "topic", "min_count": 8, "levels": {"蓝": 2.0, "黄": 3.0, "橙": 5.0, "红": 8.0}}
    return base | overrides


def share(**overrides) -> dict:
    base = {"name": "negative_surge", "type": "negative_share", "window": "6h", "group_by": "topic",
            "min_count": 8, "levels": {"蓝": 0.5, "黄": 0.6, "橙": 0.7, "红": 0.8}}
    return base | overrides


@pytest.mark.parametrize("text, expected", [
    ("30m", timedelta(minutes=30)), ("6h", timedelta(hours=6)), ("2d", timedelta(days=2)),
    ("1w", timedelta(weeks=1)), (" 1.5h ", timedelta(minutes=90)),
])
def test_parse_duration(text, expected):
    assert parse_duration(text) == expected


@pytest.mark.parametrize("bad", ["6x", "", "h", "6", "-2h", "0h", 6, None])
def test_parse_duration_rejects(bad):
    with pytest.raises(ValueError, match="duration"):
        parse_duration(bad)


def test_duration_formats():
    assert format_duration(timedelta(hours=48)) == "2d"
    assert format_duration(timedelta(minutes=90)) == "90m"
    assert humanize_duration(timedelta(hours=6)) == "6小时"
    assert humanize_duration(timedelta(days=2)) == "2天"


def test_level_for_picks_highest_threshold_reached():
    levels = {AlertLevel.blue: 2.0, AlertLevel.yellow: 3.0, AlertLevel.orange: 5.0, AlertLevel.red: 8.0}
    assert level_for(1.99, levels) is None
    assert level_for(2.0, levels) is AlertLevel.blue
    assert level_for(4.9, levels) is AlertLevel.yellow
    assert level_for(5.0, levels) is AlertLevel.orange
    assert level_for(100, levels) is AlertLevel.red


def test_shipped_rules_file_is_valid():
    rules_file = load_model(REPO / "configs" / "rules.yaml", RulesFile)
    validate_rules(rules_file, REPO / "configs" / "rules.yaml")
    built = build_rules(rules_file)
    assert {r.type_name for r in built} == {"volume_spike", "negative_share", "event_burst", "cross_platform",
                                            "sensitive_terms", "influencer"}
    shipped_off = {r.type_name for r in build_rules(rules_file, include_disabled=True)} - {r.type_name for r in built}
    assert shipped_off == {"source_silent"}     # quiet nights would raise it every morning


def test_load_settings_runs_rule_validation(tmp_path):
    for name in ("sources.yaml", "topics.yaml", "agencies.yaml", "app.yaml"):
        (tmp_path / name).write_text((REPO / "configs" / name).read_text(encoding="utf-8"), encoding="utf-8")
    (tmp_path / "rules.yaml").write_text(
        "rules:\n  - {name: spike, type: volume_spike, window: 6x, baseline: 2d, levels: {蓝: 2}}\n", encoding="utf-8")
    with pytest.raises(ConfigError) as err:
        load_settings(tmp_path / "app.yaml")
    assert str(err.value) == (f"{tmp_path / 'rules.yaml'}: rules.0 (spike).window: "
                              "invalid duration '6x'; use e.g. 30m, 6h, 2d")


def test_bad_duration_names_file_rule_field_and_problem():
    with pytest.raises(ConfigError) as err:
        validate_rules(rules(spike(), share(window="6x")), PATH)
    assert str(err.value) == ("configs/rules.yaml: rules.1 (negative_surge).window: "
                              "invalid duration '6x'; use e.g. 30m, 6h, 2d")


def test_unknown_type_lists_known_types():
    with pytest.raises(ConfigError) as err:
        validate_rules(rules(spike(type="volume_spikes")), PATH)
    message = str(err.value)
    assert message.startswith("configs/rules.yaml: rules.0 (volume_spike).type: unknown rule type 'volume_spikes'")
    for known in RULE_TYPES.names():
        assert known in message


def test_unknown_parameter_lists_accepted_ones():
    with pytest.raises(ConfigError) as err:
        validate_rules(rules(spike(windw="6h")), PATH)
    message = str(err.value)
    assert "rules.0 (volume_spike).windw: unknown parameter; volume_spike takes:" in message
    assert "baseline" in message and "min_count" in message


def test_missing_and_badly_typed_parameters():
    broken = spike(min_count="many")
    del broken["baseline"]
    with pytest.raises(ConfigError) as err:
        validate_rules(rules(broken), PATH)
    lines = str(err.value).splitlines()
    assert "configs/rules.yaml: rules.0 (volume_spike).baseline: required parameter is missing" in lines
    assert any(line.startswith("configs/rules.yaml: rules.0 (volume_spike).min_count:") and "'many'" in line
               for line in lines)


def test_levels_must_rise_and_be_known():
    with pytest.raises(ConfigError, match=r"rules.0 \(volume_spike\).levels: thresholds must rise with the level: "
                                          r"黄 \(2\) is not above 蓝 \(3\)"):
        validate_rules(rules(spike(levels={"蓝": 3.0, "黄": 2.0})), PATH)
    with pytest.raises(ConfigError, match="unknown alert level 'purple'"):
        validate_rules(rules(spike(levels={"purple": 3.0})), PATH)
    with pytest.raises(ConfigError, match=r"negative_surge\).levels: share for 红 must be in \(0, 1\]"):
        validate_rules(rules(share(levels={"蓝": 0.5, "红": 1.5})), PATH)


def test_english_level_names_are_accepted():
    rule = build_rules(rules(spike(levels={"blue": 2, "red": 8})))[0]
    assert rule.params.levels == {AlertLevel.blue: 2.0, AlertLevel.red: 8.0}


def test_baseline_must_cover_window():
    with pytest.raises(ConfigError, match=r"rules.0 \(volume_spike\): baseline \(2小时\) must be at least as long as "
                                          r"window \(6小时\)"):
        validate_rules(rules(spike(baseline="2h")), PATH)


def test_bad_group_by_and_filter_field():
    with pytest.raises(ConfigError) as err:
        validate_rules(rules(spike(group_by="city", filter={"platform": ["weibo"]})), PATH)
    message = str(err.value)
    assert "rules.0 (volume_spike).group_by:" in message and "'city'" in message
    assert "rules.0 (volume_spike).filter.platform: unknown filter field; a filter takes: platforms" in message


def test_every_problem_is_reported_at_once():
    with pytest.raises(ConfigError) as err:
        validate_rules(rules(spike(window="soon"), share(type="nope")), PATH)
    lines = str(err.value).splitlines()
    assert len(lines) == 2
    assert lines[0].startswith("configs/rules.yaml: rules.0 (volume_spike).window:")
    assert lines[1].startswith("configs/rules.yaml: rules.1 (negative_surge).type:")


def test_disabled_rules_are_validated_but_not_built():
    file = rules(spike(enabled=False), share())
    validate_rules(file, PATH)
    assert [r.name for r in build_rules(file)] == ["negative_surge"]
    assert len(build_rules(file, include_disabled=True)) == 2
