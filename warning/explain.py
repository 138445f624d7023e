"""Why an alert has its level, in numbers and in words, and how an episode's state reads.

The basis of an alert names the rule (type and rules.yaml description), the graded value
against the rule's thresholds (which one was reached, which is next) and every step from
the rule's level to the alert's: raises for reach, spread and negativity (rules.yaml
`grading:`) and the discount outside the home region. Notifiers and the briefing show the
text built here, so an explanation reads the same everywhere.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, tzinfo

from index.schema import DEFAULT_TZ, Alert, AlertBasis, AlertLevel, LevelAdjustment

from .labels import LEVEL_NAMES, metric_label, metric_value
from .rules import Finding

ENDED_LABEL = "已平息"
OPEN_LABEL = "进行中"


def _value(key: str, value: float) -> str:
    return metric_value(key, value)


def explain(finding: Finding, thresholds: Mapping[AlertLevel, float], description: str,
            adjustments: Sequence[LevelAdjustment], level: AlertLevel) -> AlertBasis:
    """The basis of a finding graded to `level` after `adjustments`."""
    rule_level = AlertLevel.parse(finding.level)
    ordered = sorted(((AlertLevel.parse(k), v) for k, v in thresholds.items()), key=lambda kv: kv[0].rank)
    threshold = next((v for k, v in ordered if k is rule_level), None)
    following = next(((k, v) for k, v in ordered if k.rank > rule_level.rank), None)
    basis = AlertBasis(
        rule=finding.rule, rule_type=finding.rule_type, description=description,
        value_key=finding.value_key, value=round(finding.value, 3),
        thresholds={k.value: v for k, v in ordered}, rule_level=rule_level, threshold=threshold,
        next_level=following[0] if following else None, next_threshold=following[1] if following else None,
        adjustments=list(adjustments), level=level,
    )
    basis.text = basis_text(basis)
    return basis


def basis_text(basis: AlertBasis) -> str:
    """One sentence: 规则 spike（…）：相对基线倍数 5.3倍，达到橙级阈值 5.0倍（红级 8.0倍），定为橙；…。"""
    key = basis.value_key
    rule = f"规则 {basis.rule}" + (f"（{basis.description}）" if basis.description else f"（{basis.rule_type}）")
    value = f"{metric_label(key)} {_value(key, basis.value)}"
    if basis.threshold is not None:
        graded = f"{value}，达到{basis.rule_level}级阈值 {_value(key, basis.threshold)}"
        if basis.next_level is not None and basis.next_threshold is not None:
            graded += f"（{basis.next_level}级 {_value(key, basis.next_threshold)}）"
    else:
        graded = value
    parts = [f"{rule}：{graded}，定为{basis.rule_level}级"]
    for step in basis.adjustments:
        if step.change > 0:
            parts.append(f"{step.reason}，上调一级至{step.level}")
        elif step.change < 0:
            parts.append(f"{step.reason}，下调一级" + (f"至{step.level}" if step.level else "，不予预警"))
        else:
            parts.append(step.reason)
    final = LEVEL_NAMES.get(str(basis.level), str(basis.level))
    return "；".join(parts) + f"。预警等级：{final}。"


def level_reason(alert: Alert) -> str:
    """Why the alert has its level now: the basis of the evaluation that set it (the peak), else the latest."""
    peak = alert.peak
    if peak is not None and peak.basis is not None and AlertLevel.parse(peak.level) is alert.level_enum:
        return peak.basis.text
    return alert.basis.text if alert.basis is not None else ""


def peak_is_past(alert: Alert) -> bool:
    """Whether the peak was an earlier evaluation than the latest (then both are shown, labelled)."""
    return alert.peak is not None and alert.peak.at != alert.last_seen


def ended_at(alert: Alert) -> datetime | None:
    """When the episode ended; older alerts only say so in their history."""
    if alert.ended_at is not None:
        return alert.ended_at
    for entry in alert.history:
        if entry.get("event") == "ended":
            try:
                return datetime.fromisoformat(entry["at"])
            except (KeyError, TypeError, ValueError):
                return alert.last_seen
    return None


def episode_state(alert: Alert, tz: tzinfo = DEFAULT_TZ) -> str:
    """进行中, or 已平息（11-18 02:00）."""
    at = ended_at(alert)
    return OPEN_LABEL if at is None else f"{ENDED_LABEL}（{at.astimezone(tz):%m-%d %H:%M}）"
