"""event_burst: one event (事件) whose posts pile up fast — early warning before a topic-wide spike.

A topic's volume moves slowly when one incident starts; the incident's own event (nlp event
clustering, Post.event_id) shows it first. Per event: posts in the last window, optionally
against the window before (growth), graded by posts or by growth.

Text clustering of a busy stream forms small chance clusters (five 晚安 posts, ten 加油 posts in
two busy hours of a 3,000-a-day stream); `min_stream_share` scales the bar with the stream: the
event must also hold that share of all the window's posts (the rule's filter applies to both),
but never more than `stream_share_max_posts` posts: in a stream full of spreading incidents their
own posts would otherwise raise the bar above each of them.
"""
from __future__ import annotations

import logging
from datetime import datetime
from typing import Literal

from pydantic import Field, ValidationInfo, field_validator, model_validator

from index.schema import AlertLevel, aware
from index.store import PostIndex

from ..durations import Duration, humanize_duration
from ..grading import LevelThresholds, level_for
from ..rules import Finding, Rule, RuleParams, group_query
from ._events import (busiest_events, counts_of, event_subjects, negative_clause, negative_counts, platform_names,
                      platforms_of)

logger = logging.getLogger(__name__)


class EventBurstParams(RuleParams):
    window: Duration = Field(description="the recent period judged, e.g. 1h; growth compares it with the one before")
    min_posts: int = Field(default=20, ge=1, description="fewest posts of one event in the window")
    growth: float | None = Field(
        default=None, gt=1.0,
        description="also require the window to hold this many times the posts of the window before "
                    "(smoothed); unset: no growth condition")
    level_on: Literal["posts", "growth"] = Field(
        default="posts", description="what the levels grade: posts in the window, or growth")
    levels: LevelThresholds = Field(description="posts (or growth) per level, e.g. {蓝: 20, 黄: 40, 橙: 80, 红: 150}")
    smoothing: float = Field(default=1.0, gt=0.0,
                             description="pseudo-count added to both windows so a new event's growth stays finite")
    max_events: int = Field(default=50, ge=1, le=1000, description="busiest events judged per evaluation")
    min_stream_share: float | None = Field(
        default=None, gt=0.0, lt=1.0,
        description="also require the event to hold this share of all posts in the window (a bar that rises "
                    "with the stream); unset: min_posts alone")
    stream_share_max_posts: int | None = Field(
        default=None, ge=1, description="the min_stream_share bar asks at most this many posts; unset: no cap")

    @model_validator(mode="after")
    def _cap_needs_share(self) -> "EventBurstParams":
        if self.stream_share_max_posts is not None and self.min_stream_share is None:
            raise ValueError("stream_share_max_posts caps the min_stream_share bar; set min_stream_share too")
        return self

    @field_validator("levels")
    @classmethod
    def _levels_fit(cls, levels: dict[AlertLevel, float], info: ValidationInfo) -> dict[AlertLevel, float]:
        # min_posts, growth and level_on come before levels, so they are validated already (if valid).
        level_on, min_posts, growth = (info.data.get(k) for k in ("level_on", "min_posts", "growth"))
        for level, threshold in levels.items():
            name = AlertLevel.parse(level).value
            if level_on == "posts" and min_posts is not None and threshold < min_posts:
                raise ValueError(f"{name} ({threshold:g} posts) is below min_posts ({min_posts}); "
                                 "no event with fewer posts is judged")
            if level_on == "growth" and threshold <= 1:
                raise ValueError(f"growth for {name} must be above 1, got {threshold:g}")
            if level_on == "growth" and growth is not None and threshold < growth:
                raise ValueError(f"{name} ({threshold:g}×) is below growth ({growth:g}×); "
                                 "no event growing less is judged")
        return levels


def smoothed_growth(count: int, previous: int, smoothing: float) -> float:
    """(count + k) / (previous + k): with k=1 a new event of 20 posts grows 21×, not infinitely."""
    return (count + smoothing) / (previous + smoothing)


class EventBurstRule(Rule):
    type_name = "event_burst"
    params_model = EventBurstParams
    params: EventBurstParams

    def evaluate(self, store: PostIndex, now: datetime) -> list[Finding]:
        p = self.params
        now = aware(now)
        window_start = now - p.window
        query = p.filter.query(window_start, now)
        current = busiest_events(store, query, p.max_events)
        candidates = [e for e, n in current.items() if n >= p.min_posts and e not in p.ignore_groups]
        stream = store.count(query) if candidates and p.min_stream_share is not None else 0
        if p.min_stream_share is not None:
            bar = p.min_stream_share * stream
            if p.stream_share_max_posts is not None:
                bar = min(bar, p.stream_share_max_posts)
            candidates = [e for e in candidates if current[e] >= bar]
        previous = counts_of(store, p.filter.query(window_start - p.window, window_start), candidates)

        graded = []
        for event_id in candidates:
            count, before = current[event_id], previous.get(event_id, 0)
            growth = smoothed_growth(count, before, p.smoothing)
            if p.growth is not None and growth < p.growth:
                continue
            value = float(count) if p.level_on == "posts" else growth
            level = level_for(value, p.levels)
            if level is not None:
                graded.append((event_id, level, value, count, before, growth))

        ids = [event_id for event_id, *_ in graded]
        negative = negative_counts(store, query, ids)
        subjects = event_subjects(store, ids)
        findings = []
        for event_id, level, value, count, before, growth in graded:
            platforms = platforms_of(store, query, event_id)
            neg = negative.get(event_id, 0)
            metrics = {"count": float(count), "previous_count": float(before), "growth": round(growth, 3),
                       "platforms": float(len(platforms)), "negative_count": float(neg),
                       "negative_share": round(neg / count, 3)}
            if p.min_stream_share is not None:
                metrics |= {"stream_count": float(stream), "stream_share": round(count / stream, 4) if stream else 0.0}
            findings.append(Finding(
                rule=self.name, rule_type=self.type_name, group_by="event", group_key=event_id,
                level=level, value=value, value_key="count" if p.level_on == "posts" else "growth",
                metrics=metrics,
                window_start=window_start, window_end=now, query=group_query(query, "event", event_id),
                subject=subjects[event_id], headline="热度攀升",
                summary=self._summary(subjects[event_id], count, before, growth, platforms, neg),
            ))
        logger.debug("rule %s at %s: %d events, %d candidates, %d findings",
                     self.name, now.isoformat(), len(current), len(candidates), len(findings))
        return findings

    def _summary(self, subject: str, count: int, before: int, growth: float, platforms: dict[str, int],
                 negative: int) -> str:
        window = humanize_duration(self.params.window)
        text = f"{subject}近{window}新增信息{count}条"
        text += (f"，是此前{window}（{before}条）的{growth:.1f}倍" if before
                 else f"，此前{window}没有相关信息")
        if platforms:
            text += f"，涉及{platform_names(platforms)}{len(platforms)}个平台"
        return text + negative_clause(negative, count) + "。"

