"""volume_spike: a group's post count in the last window against its own recent baseline."""
from __future__ import annotations

import logging
from datetime import datetime, timedelta

from pydantic import Field, field_validator, model_validator

from index.schema import AlertLevel, aware
from index.store import PostIndex, PostQuery

from ..durations import Duration, humanize_duration
from ..grading import LevelThresholds, level_for
from ..labels import group_subject
from ..rules import Finding, GroupBy, Rule, RuleParams, group_query
from ._counting import counts_by_group, negatives

logger = logging.getLogger(__name__)


class VolumeSpikeParams(RuleParams):
    window: Duration = Field(description="the recent period whose volume is judged, e.g. 6h")
    baseline: Duration = Field(description="the period before the window that sets the normal rate, e.g. 48h")
    min_history: Duration | None = Field(
        default=None, description="judge nothing until the baseline holds this much data; default: half the baseline")
    group_by: GroupBy = "none"
    min_count: int = Field(default=5, ge=1, description="fewest posts in the window before a spike counts")
    levels: LevelThresholds = Field(description="ratio to the baseline rate per level, e.g. {蓝: 2.0, 红: 8.0}")
    smoothing: float = Field(default=1.0, gt=0.0,
                             description="pseudo-count added to both sides so a near-empty baseline stays finite")
    max_groups: int = Field(default=200, ge=1, le=10_000)

    @model_validator(mode="after")
    def _baseline_covers_window(self) -> "VolumeSpikeParams":
        if self.baseline < self.window:
            raise ValueError(f"baseline ({humanize_duration(self.baseline)}) must be at least as long as "
                             f"window ({humanize_duration(self.window)})")
        if self.min_history is not None and self.min_history > self.baseline:
            raise ValueError(f"min_history ({humanize_duration(self.min_history)}) cannot exceed "
                             f"baseline ({humanize_duration(self.baseline)})")
        return self

    @field_validator("levels")
    @classmethod
    def _ratios(cls, levels: dict[AlertLevel, float]) -> dict[AlertLevel, float]:
        for level, ratio in levels.items():
            if ratio <= 1:
                raise ValueError(f"ratio for {AlertLevel.parse(level).value} must be above 1, got {ratio:g}")
        return levels

    @property
    def required_history(self) -> timedelta:
        return self.min_history or self.baseline / 2


def spike_ratio(count: int, baseline_count: int, window: timedelta, history: timedelta,
                smoothing: float) -> tuple[float, float]:
    """(expected posts per window from the baseline, smoothed ratio of observed to expected).

    `history` is how much of the baseline period actually held data. Add-k
    smoothing on both sides: with an empty baseline and k=1, eight posts give a
    ratio of 9 instead of infinity, and min_count keeps single posts out.
    """
    expected = baseline_count * (window / history)
    return expected, (count + smoothing) / (expected + smoothing)


def covered_history(store: PostIndex, baseline_query: PostQuery) -> timedelta:
    """How much of the baseline period has data at all (the stream may have started inside it).

    Without this, a freshly started system would compare a full window with a
    half-empty baseline and see spikes everywhere.
    """
    start, end = baseline_query.start, baseline_query.end
    interval = "hour" if end - start <= timedelta(days=7) else "day"
    buckets = store.histogram(baseline_query, interval)
    first = next((bucket.start for bucket in buckets if bucket.total), None)
    return timedelta(0) if first is None else end - max(first, start)


class VolumeSpikeRule(Rule):
    type_name = "volume_spike"
    params_model = VolumeSpikeParams
    params: VolumeSpikeParams

    def evaluate(self, store: PostIndex, now: datetime) -> list[Finding]:
        p = self.params
        now = aware(now)
        window_start = now - p.window
        current_query = p.filter.query(window_start, now)
        baseline_query = p.filter.query(window_start - p.baseline, window_start)

        history = covered_history(store, baseline_query)
        if history < p.required_history:
            logger.debug("rule %s at %s: only %s of baseline data, need %s; not judging yet",
                         self.name, now.isoformat(), history, p.required_history)
            return []
        current = counts_by_group(store, current_query, p.group_by, p.max_groups)
        baseline = counts_by_group(store, baseline_query, p.group_by, p.max_groups)
        negative = counts_by_group(store, negatives(current_query), p.group_by, p.max_groups)

        findings = []
        for key, count in current.items():
            if count < p.min_count or key in p.ignore_groups:
                continue
            expected, ratio = spike_ratio(count, baseline.get(key, 0), p.window, history, p.smoothing)
            level = level_for(ratio, p.levels)
            if level is None:
                continue
            neg = negative.get(key, 0)
            metrics = {"count": float(count), "baseline_count": float(baseline.get(key, 0)),
                       "baseline_hours": round(history / timedelta(hours=1), 2),
                       "expected": round(expected, 3), "ratio": round(ratio, 3),
                       "negative_count": float(neg), "negative_share": round(neg / count, 3)}
            subject = group_subject(p.group_by, key)
            findings.append(Finding(
                rule=self.name, rule_type=self.type_name, group_by=p.group_by, group_key=key,
                level=level, value=ratio, value_key="ratio", metrics=metrics,
                window_start=window_start, window_end=now, query=group_query(current_query, p.group_by, key),
                subject=subject, headline="信息量激增",
                summary=self._summary(subject, count, expected, ratio, neg, history), thresholds=p.levels,
            ))
        logger.debug("rule %s at %s: %d groups, %d findings", self.name, now.isoformat(), len(current), len(findings))
        return findings

    def _summary(self, subject: str, count: int, expected: float, ratio: float, negative: int,
                 history: timedelta) -> str:
        window = humanize_duration(self.params.window)
        before = humanize_duration(timedelta(hours=round(history / timedelta(hours=1))))
        text = (f"近{window}{subject}信息{count}条，是此前{before}平均水平（每{window}约{expected:.1f}条）"
                f"的{ratio:.1f}倍")
        if negative:
            text += f"，其中负面{negative}条（{negative / count:.0%}）"
        return text + "。"
