"""volume_spike: a group's post count in the last window against its normal volume.

Two baselines:
- seasonal (`seasonality: weekly` or `daily`): the counts of the same window at
  the same hour of the week (or of the day) over the `history` before now — a
  07:00 rush is judged against earlier 07:00s, not against the night. The
  robust statistic is either a median/MAD z-score or a Poisson tail: how
  unlikely the count is if the group's normal rate is the seasonal median.
  Weekly falls back to daily, and daily to the recent baseline, while fewer
  than `min_seasons` comparable windows hold data (a freshly started system).
- recent (`seasonality: none`, and the short-history fallback): the average
  rate over the `baseline` before the window.

`statistic` picks what the level thresholds read: `ratio` (count over the
expected count, add-k smoothed), `zscore` (robust z) or `poisson` (−log10 of
the tail probability). All three are reported in the metrics either way.
"""
from __future__ import annotations

import dataclasses
import logging
import math
import statistics
from datetime import datetime, timedelta
from typing import Literal

from pydantic import Field, model_validator
from scipy.stats import poisson

from index.schema import AlertLevel, aware
from index.store import PostIndex, PostQuery

from ..durations import Duration, humanize_duration
from ..grading import LevelThresholds, level_for
from ..labels import group_subject
from ..rules import Finding, GroupBy, Rule, RuleParams, group_query
from ._counting import counts_by_group, negatives

logger = logging.getLogger(__name__)

Seasonality = Literal["none", "daily", "weekly"]
Statistic = Literal["ratio", "zscore", "poisson"]
SEASON_PERIODS = {"weekly": timedelta(weeks=1), "daily": timedelta(days=1)}
MAD_SCALE = 1.4826            # MAD × this estimates σ for normal data
VALUE_KEYS = {"ratio": "ratio", "zscore": "zscore", "poisson": "poisson_score"}


class VolumeSpikeParams(RuleParams):
    window: Duration = Field(description="the recent period whose volume is judged, e.g. 1h")
    baseline: Duration = Field(
        description="recent baseline: the period before the window that sets the normal rate, e.g. 48h; "
                    "with a seasonal baseline, the fallback while the history is short")
    min_history: Duration | None = Field(
        default=None, description="judge nothing until the baseline holds this much data; default: half the baseline")
    seasonality: Seasonality = Field(
        default="none", description="weekly: same hour of the week; daily: same hour of the day; none: recent rate")
    history: Duration = Field(default=timedelta(days=28),
                              description="how far back seasonal comparison windows are taken")
    min_seasons: int = Field(default=3, ge=1, le=60,
                             description="fewest comparable past windows with data before the seasonal baseline "
                                         "is used (else the next shorter seasonality, then the recent baseline)")
    statistic: Statistic = Field(default="ratio", description="what `levels` read: ratio, zscore or poisson")
    group_by: GroupBy = "none"
    min_count: int = Field(default=5, ge=1, description="fewest posts in the window before a spike counts")
    min_ratio: float = Field(default=1.0, ge=1.0,
                             description="the count must also be at least this many times the expected count")
    levels: LevelThresholds = Field(
        description="per level: ratio (>1) for statistic ratio, robust z for zscore, -log10 p for poisson")
    smoothing: float = Field(default=1.0, gt=0.0,
                             description="pseudo-count added to both sides so a near-empty baseline stays finite")
    max_groups: int = Field(default=200, ge=1, le=10_000)

    @model_validator(mode="after")
    def _consistent(self) -> "VolumeSpikeParams":
        if self.baseline < self.window:
            raise ValueError(f"baseline ({humanize_duration(self.baseline)}) must be at least as long as "
                             f"window ({humanize_duration(self.window)})")
        if self.min_history is not None and self.min_history > self.baseline:
            raise ValueError(f"min_history ({humanize_duration(self.min_history)}) cannot exceed "
                             f"baseline ({humanize_duration(self.baseline)})")
        if self.seasonality != "none":
            period = SEASON_PERIODS[self.seasonality]
            if self.window > period:
                raise ValueError(f"window ({humanize_duration(self.window)}) cannot be longer than the "
                                 f"{self.seasonality} season ({humanize_duration(period)})")
            if self.history < self.min_seasons * period:
                raise ValueError(f"history ({humanize_duration(self.history)}) is shorter than min_seasons "
                                 f"({self.min_seasons}) {self.seasonality} seasons")
        for level, threshold in self.levels.items():
            name = AlertLevel.parse(level).value
            if self.statistic == "ratio" and threshold <= 1:
                raise ValueError(f"levels: ratio for {name} must be above 1, got {threshold:g}")
            if self.statistic != "ratio" and threshold <= 0:
                raise ValueError(f"levels: {self.statistic} threshold for {name} must be positive, got {threshold:g}")
        return self

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


def robust_z(count: float, samples: list[float], smoothing: float = 1.0) -> tuple[float, float, float]:
    """(median, spread, z) of a count against past samples: z = (count − median) / spread.

    spread is MAD × 1.4826, floored at the Poisson σ √(median + k): counts are
    small integers, and a history of identical counts (MAD 0) must not turn
    one extra post into an infinite z.
    """
    median = statistics.median(samples)
    mad = statistics.median(abs(s - median) for s in samples)
    spread = max(MAD_SCALE * mad, math.sqrt(median + smoothing))
    return median, spread, (count - median) / spread


def poisson_score(count: int, expected: float, smoothing: float = 1.0) -> float:
    """−log10 P(X ≥ count) for X ~ Poisson(expected + k); 0 when the count is not above expectation."""
    rate = expected + smoothing
    if count <= rate:
        return 0.0
    tail = float(poisson.sf(count - 1, rate))
    if tail <= 0.0:
        tail = float(poisson.logsf(count - 1, rate))
        return round(-tail / math.log(10), 3)
    return round(-math.log10(tail), 3)


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


def first_post_time(store: PostIndex, query: PostQuery) -> datetime | None:
    """When the rule's stream begins (its oldest post before the query's end): one top hit, no scan."""
    hits = store.search(dataclasses.replace(query, start=None), size=1, sort="oldest").hits
    return hits[0].post.published_at if hits else None


@dataclasses.dataclass
class Baseline:
    kind: str                                  # weekly / daily / recent
    samples: dict[str | None, list[float]]     # seasonal: past window counts per group
    recent: dict[str | None, int]              # recent: baseline counts per group
    seasons: int = 0
    history: timedelta = timedelta(0)

    def expected(self, key: str | None, window: timedelta, smoothing: float, count: int) -> dict[str, float]:
        if self.kind == "recent":
            expected, ratio = spike_ratio(count, self.recent.get(key, 0), window, self.history, smoothing)
            spread = math.sqrt(expected + smoothing)
            return {"expected": expected, "spread": spread, "zscore": (count - expected) / spread, "ratio": ratio}
        samples = self.samples.get(key) or [0.0] * self.seasons
        median, spread, z = robust_z(count, samples, smoothing)
        return {"expected": median, "spread": spread, "zscore": z,
                "ratio": (count + smoothing) / (median + smoothing)}


class VolumeSpikeRule(Rule):
    type_name = "volume_spike"
    params_model = VolumeSpikeParams
    params: VolumeSpikeParams

    def _seasonal(self, store: PostIndex, current_query: PostQuery, start_of_data: datetime) -> Baseline | None:
        p = self.params
        kinds = {"weekly": ("weekly", "daily"), "daily": ("daily",), "none": ()}[p.seasonality]
        for kind in kinds:
            period = SEASON_PERIODS[kind]
            offsets = [period * k for k in range(1, int(p.history / period) + 1)
                       if current_query.start - period * k >= start_of_data]
            if len(offsets) < p.min_seasons:
                continue
            samples: dict[str | None, list[float]] = {}
            for i, offset in enumerate(offsets):
                shifted = dataclasses.replace(current_query, start=current_query.start - offset,
                                              end=current_query.end - offset)
                for key, n in counts_by_group(store, shifted, p.group_by, p.max_groups).items():
                    samples.setdefault(key, [0.0] * i).append(float(n))
                for values in samples.values():      # groups absent from this window count zero
                    if len(values) < i + 1:
                        values.append(0.0)
            return Baseline(kind=kind, samples=samples, recent={}, seasons=len(offsets))
        return None

    def evaluate(self, store: PostIndex, now: datetime) -> list[Finding]:
        p = self.params
        now = aware(now)
        window_start = now - p.window
        current_query = p.filter.query(window_start, now)

        baseline: Baseline | None = None
        if p.seasonality != "none":
            start_of_data = first_post_time(store, current_query)
            if start_of_data is None:
                return []
            baseline = self._seasonal(store, current_query, start_of_data)
        if baseline is None:
            baseline_query = p.filter.query(window_start - p.baseline, window_start)
            history = covered_history(store, baseline_query)
            if history < p.required_history:
                logger.debug("rule %s at %s: only %s of baseline data, need %s; not judging yet",
                             self.name, now.isoformat(), history, p.required_history)
                return []
            baseline = Baseline(kind="recent", samples={}, history=history,
                                recent=counts_by_group(store, baseline_query, p.group_by, p.max_groups))

        current = counts_by_group(store, current_query, p.group_by, p.max_groups)
        candidates = {key: count for key, count in current.items()
                      if count >= p.min_count and key not in p.ignore_groups}
        negative = counts_by_group(store, negatives(current_query), p.group_by, p.max_groups) if candidates else {}

        findings = []
        for key, count in candidates.items():
            figures = baseline.expected(key, p.window, p.smoothing, count)
            figures["poisson_score"] = poisson_score(count, figures["expected"], p.smoothing)
            value_key = VALUE_KEYS[p.statistic]
            value = figures[value_key]
            if figures["ratio"] < p.min_ratio:
                continue
            level = level_for(value, p.levels)
            if level is None:
                continue
            neg = negative.get(key, 0)
            metrics = {"count": float(count), "expected": round(figures["expected"], 3),
                       "ratio": round(figures["ratio"], 3), "zscore": round(figures["zscore"], 2),
                       "poisson_score": figures["poisson_score"], "seasons": float(baseline.seasons),
                       "negative_count": float(neg), "negative_share": round(neg / count, 3)}
            if baseline.kind == "recent":
                metrics["baseline_count"] = float(baseline.recent.get(key, 0))
                metrics["baseline_hours"] = round(baseline.history / timedelta(hours=1), 2)
            subject = group_subject(p.group_by, key)
            findings.append(Finding(
                rule=self.name, rule_type=self.type_name, group_by=p.group_by, group_key=key,
                level=level, value=value, value_key=value_key, metrics=metrics,
                window_start=window_start, window_end=now, query=group_query(current_query, p.group_by, key),
                subject=subject, headline="信息量激增",
                summary=self._summary(subject, count, figures, neg, baseline), thresholds=p.levels,
            ))
        logger.debug("rule %s at %s (%s baseline): %d groups, %d findings", self.name, now.isoformat(),
                     baseline.kind, len(current), len(findings))
        return findings

    def _summary(self, subject: str, count: int, figures: dict[str, float], negative: int,
                 baseline: Baseline) -> str:
        p = self.params
        window = humanize_duration(p.window)
        if baseline.kind == "recent":
            before = humanize_duration(timedelta(hours=max(1, round(baseline.history / timedelta(hours=1)))))
            text = (f"近{window}{subject}信息{count}条，是此前{before}平均水平（每{window}约"
                    f"{figures['expected']:.1f}条）的{figures['ratio']:.1f}倍")
        else:
            same = "同星期同时段" if baseline.kind == "weekly" else "同时段"
            text = (f"近{window}{subject}信息{count}条，过去{baseline.seasons}"
                    f"{'周' if baseline.kind == 'weekly' else '天'}{same}中位数{figures['expected']:g}条，"
                    f"为其{figures['ratio']:.1f}倍")
        if p.statistic == "zscore":
            text += f"（稳健z分数{figures['zscore']:.1f}）"
        elif p.statistic == "poisson":
            text += f"（按泊松分布，出现概率约10^-{figures['poisson_score']:.1f}）"
        if negative:
            text += f"，其中负面{negative}条（{negative / count:.0%}）"
        return text + "。"
