"""negative_share: the share of 负面 posts in a group's recent posts.

Some groups are always negative: citizen messages about housing or wages are complaints by
nature, so their share passes 0.5 every day. With `baseline`, the window's share is also judged
against the group's usual share over the baseline period before it: the negative count must be
improbable under the usual share (a one-sided binomial test, −log10 p ≥ min_significance), so
the rule answers "more negative than usual", not "negative". The baseline ends `baseline_gap`
(default 1 day) before the window, so an incident that built up the day before is not its own norm.
"""
from __future__ import annotations

import dataclasses
import logging
import math
from datetime import datetime, timedelta

from pydantic import Field, field_validator, model_validator
from scipy.stats import binom

from index.schema import AlertLevel, aware
from index.store import PostIndex

from ..durations import Duration, humanize_duration
from ..grading import LevelThresholds, level_for
from ..labels import group_subject
from ..rules import Finding, GroupBy, Rule, RuleParams, group_query
from ._counting import counts_by_group, negatives

logger = logging.getLogger(__name__)


class NegativeShareParams(RuleParams):
    window: Duration = Field(description="the recent period judged, e.g. 6h")
    group_by: GroupBy = "none"
    min_count: int = Field(default=5, ge=1, description="fewest posts in the window before the share counts")
    min_negative: int = Field(default=1, ge=1, description="fewest negative posts in the window")
    levels: LevelThresholds = Field(description="negative share per level, e.g. {蓝: 0.5, 黄: 0.6, 橙: 0.7, 红: 0.8}")
    max_groups: int = Field(default=200, ge=1, le=10_000)
    baseline: Duration | None = Field(default=None, description="judge against the group's usual share over this "
                                                               "period before the window, e.g. 7d; unset: share alone")
    baseline_gap: Duration = Field(default=timedelta(days=1),
                                   description="the baseline ends this long before the window, so an incident "
                                               "building up over the day before does not raise its own bar")
    min_significance: float = Field(default=2.0, gt=0, description="with baseline: −log10 of the binomial tail "
                                                                  "probability of the negative count under the usual share")

    @model_validator(mode="after")
    def _baseline(self) -> "NegativeShareParams":
        if self.baseline is not None and self.baseline < self.window:
            raise ValueError(f"baseline ({humanize_duration(self.baseline)}) must be at least as long as "
                             f"window ({humanize_duration(self.window)})")
        for option in ("min_significance", "baseline_gap"):
            if self.baseline is None and option in self.model_fields_set:
                raise ValueError(f"{option} needs baseline (the usual share it is judged against)")
        return self

    @field_validator("levels")
    @classmethod
    def _shares(cls, levels: dict[AlertLevel, float]) -> dict[AlertLevel, float]:
        for level, share in levels.items():
            if not 0 < share <= 1:
                raise ValueError(f"share for {AlertLevel.parse(level).value} must be in (0, 1], got {share:g}")
        return levels


class NegativeShareRule(Rule):
    type_name = "negative_share"
    params_model = NegativeShareParams
    params: NegativeShareParams

    def evaluate(self, store: PostIndex, now: datetime) -> list[Finding]:
        p = self.params
        now = aware(now)
        window_start = now - p.window
        # Only enriched posts have a polarity; counting the rest would dilute the share.
        query = dataclasses.replace(p.filter.query(window_start, now), enriched=True)
        totals = counts_by_group(store, query, p.group_by, p.max_groups)
        negative = counts_by_group(store, negatives(query), p.group_by, p.max_groups)
        candidates = {}
        for key, total in totals.items():
            neg = negative.get(key, 0)
            if total < p.min_count or neg < p.min_negative or key in p.ignore_groups:
                continue
            level = level_for(neg / total, p.levels)
            if level is not None:
                candidates[key] = (total, neg, level)
        usual = self._usual_shares(store, query, candidates) if p.baseline is not None and candidates else {}

        findings = []
        for key, (total, neg, level) in candidates.items():
            share = neg / total
            metrics = {"count": float(total), "negative_count": float(neg), "negative_share": round(share, 3)}
            subject = group_subject(p.group_by, key)
            summary = f"近{humanize_duration(p.window)}{subject}信息{total}条，其中负面{neg}条，占{share:.0%}"
            if p.baseline is not None:
                usual_share, significance = usual[key]
                if significance < p.min_significance:
                    continue
                metrics |= {"usual_negative_share": round(usual_share, 3), "significance": significance}
                summary += f"，高于往常（此前{humanize_duration(p.baseline)}）的{usual_share:.0%}"
            findings.append(Finding(
                rule=self.name, rule_type=self.type_name, group_by=p.group_by, group_key=key,
                level=level, value=share, value_key="negative_share", metrics=metrics,
                window_start=window_start, window_end=now,
                query=group_query(query, p.group_by, key),
                subject=subject, headline="负面信息集中", summary=summary + "。", thresholds=p.levels,
            ))
        logger.debug("rule %s at %s: %d groups, %d findings", self.name, now.isoformat(), len(totals), len(findings))
        return findings

    def _usual_shares(self, store: PostIndex, query, candidates: dict) -> dict[str | None, tuple[float, float]]:
        """Per candidate group: (usual negative share over the baseline, −log10 P(X ≥ negatives) under it).

        The usual share is smoothed (Laplace: (neg + 1) / (n + 2)), so a group without history is
        judged against one half, and one with little history not against an accidental 0 or 1."""
        p = self.params
        assert p.baseline is not None
        end = query.start - p.baseline_gap
        before = dataclasses.replace(query, start=end - p.baseline, end=end)
        size = max(p.max_groups, len(candidates))
        totals = counts_by_group(store, before, p.group_by, size)
        negative = counts_by_group(store, negatives(before), p.group_by, size)
        out = {}
        for key, (total, neg, _) in candidates.items():
            usual = (negative.get(key, 0) + 1) / (totals.get(key, 0) + 2)
            tail = float(binom.sf(neg - 1, total, usual))
            out[key] = (usual, round(-math.log10(tail), 3) if tail > 0 else 300.0)
        return out
