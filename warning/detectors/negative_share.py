"""negative_share: the share of 负面 posts in a group's recent posts."""
from __future__ import annotations

import dataclasses
import logging
from datetime import datetime

from pydantic import Field, field_validator

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
        # Only enriched posts have a sentiment; counting the rest would dilute the share.
        query = dataclasses.replace(p.filter.query(window_start, now), enriched=True)
        totals = counts_by_group(store, query, p.group_by, p.max_groups)
        negative = counts_by_group(store, negatives(query), p.group_by, p.max_groups)

        findings = []
        for key, total in totals.items():
            neg = negative.get(key, 0)
            if total < p.min_count or neg < p.min_negative or key in p.ignore_groups:
                continue
            share = neg / total
            level = level_for(share, p.levels)
            if level is None:
                continue
            subject = group_subject(p.group_by, key)
            findings.append(Finding(
                rule=self.name, rule_type=self.type_name, group_by=p.group_by, group_key=key,
                level=level, value=share, value_key="negative_share",
                metrics={"count": float(total), "negative_count": float(neg), "negative_share": round(share, 3)},
                window_start=window_start, window_end=now,
                query=group_query(query, p.group_by, key),
                subject=subject, headline="负面信息集中",
                summary=(f"近{humanize_duration(p.window)}{subject}信息{total}条，其中负面{neg}条，"
                         f"占{share:.0%}。"), thresholds=p.levels,
            ))
        logger.debug("rule %s at %s: %d groups, %d findings", self.name, now.isoformat(), len(totals), len(findings))
        return findings
