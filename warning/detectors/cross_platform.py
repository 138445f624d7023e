"""cross_platform: one event (事件) told on several platforms at once — it has left its first audience.

A complaint on a message board is one office's matter; the same event on weibo, news sites
and forums within hours is spreading. Per event: distinct platforms in the window, graded by
their number.
"""
from __future__ import annotations

import logging
from datetime import datetime

from pydantic import Field, ValidationInfo, field_validator

from index.schema import AlertLevel, aware
from index.store import PostIndex

from ..durations import Duration, humanize_duration
from ..grading import LevelThresholds, level_for
from ..rules import Finding, Rule, RuleParams, group_query
from ._events import busiest_events, event_subjects, negative_clause, negative_counts, platform_names, platforms_of

logger = logging.getLogger(__name__)


class CrossPlatformParams(RuleParams):
    window: Duration = Field(description="the recent period judged, e.g. 6h")
    min_platforms: int = Field(default=3, ge=2, description="fewest distinct platforms one event is seen on")
    min_posts: int = Field(default=5, ge=1, description="fewest posts of the event in the window")
    levels: LevelThresholds = Field(description="platforms per level, whole numbers, e.g. {蓝: 3, 黄: 4, 橙: 5}")
    max_events: int = Field(default=50, ge=1, le=1000, description="busiest events judged per evaluation")

    @field_validator("levels")
    @classmethod
    def _levels_fit(cls, levels: dict[AlertLevel, float], info: ValidationInfo) -> dict[AlertLevel, float]:
        min_platforms = info.data.get("min_platforms")   # validated before levels (if valid)
        for level, threshold in levels.items():
            name = AlertLevel.parse(level).value
            if threshold != int(threshold):
                raise ValueError(f"{name} must be a whole number of platforms, got {threshold:g}")
            if min_platforms is not None and threshold < min_platforms:
                raise ValueError(f"{name} ({threshold:g} platforms) is below min_platforms ({min_platforms}); "
                                 "no event on fewer platforms is judged")
        return levels


class CrossPlatformRule(Rule):
    type_name = "cross_platform"
    params_model = CrossPlatformParams
    params: CrossPlatformParams

    def evaluate(self, store: PostIndex, now: datetime) -> list[Finding]:
        p = self.params
        now = aware(now)
        window_start = now - p.window
        query = p.filter.query(window_start, now)
        current = busiest_events(store, query, p.max_events)

        graded = []
        for event_id, count in current.items():
            if count < p.min_posts or event_id in p.ignore_groups:
                continue
            platforms = platforms_of(store, query, event_id)
            if len(platforms) < p.min_platforms:
                continue
            level = level_for(len(platforms), p.levels)
            if level is not None:
                graded.append((event_id, level, count, platforms))

        ids = [event_id for event_id, *_ in graded]
        negative = negative_counts(store, query, ids)
        subjects = event_subjects(store, ids)
        findings = []
        for event_id, level, count, platforms in graded:
            neg = negative.get(event_id, 0)
            subject = subjects[event_id]
            findings.append(Finding(
                rule=self.name, rule_type=self.type_name, group_by="event", group_key=event_id,
                level=level, value=float(len(platforms)), value_key="platforms",
                metrics={"count": float(count), "platforms": float(len(platforms)),
                         "negative_count": float(neg), "negative_share": round(neg / count, 3)},
                window_start=window_start, window_end=now, query=group_query(query, "event", event_id),
                subject=subject, headline="多平台扩散",
                summary=(f"{subject}近{humanize_duration(p.window)}已在{platform_names(platforms)}"
                         f"{len(platforms)}个平台出现，共{count}条信息{negative_clause(neg, count)}。"),
            ))
        logger.debug("rule %s at %s: %d events, %d findings", self.name, now.isoformat(), len(current), len(findings))
        return findings
