"""source_silent: a crawl source that used to deliver and has gone quiet — collection health.

A broken spider (a changed page layout, a blocked IP, an expired cookie) fails quietly: the
crawl succeeds with zero items and the office sees calm where there is none. Per source
(Post.source): at least `min_baseline` posts in the baseline period, none in the last window
(by published_at). An operational alert: it names no topic or region, so it is routed to the
default agency.
"""
from __future__ import annotations

import dataclasses
import logging
from datetime import datetime, timedelta
from typing import Any

from pydantic import Field, field_validator

from index.schema import AlertLevel, aware
from index.store import PostIndex, PostQuery

from ..durations import Duration, humanize_duration
from ..labels import source_subject
from ..rules import Finding, Rule, RuleParams, group_query

logger = logging.getLogger(__name__)


class SourceSilentParams(RuleParams):
    window: Duration = Field(description="a source with no post published in this recent period is silent, e.g. 12h")
    baseline: Duration = Field(description="the period before the window in which the source must have delivered")
    min_baseline: int = Field(default=10, ge=1, description="fewest posts of the source in the baseline")
    sources: list[str] = Field(default_factory=list,
                               description="sources watched (sources.yaml names); empty: every source seen")
    level: AlertLevel = Field(default=AlertLevel.blue, description="the one level of the alert")
    max_sources: int = Field(default=200, ge=1, le=10_000, description="sources judged per evaluation")

    @field_validator("level", mode="before")
    @classmethod
    def _level(cls, value: Any) -> AlertLevel:
        return AlertLevel.parse(value)


class SourceSilentRule(Rule):
    type_name = "source_silent"
    params_model = SourceSilentParams
    params: SourceSilentParams

    def evaluate(self, store: PostIndex, now: datetime) -> list[Finding]:
        p = self.params
        now = aware(now)
        window_start = now - p.window
        baseline_start = window_start - p.baseline
        sources = tuple(p.sources)
        baseline_query = dataclasses.replace(p.filter.query(baseline_start, window_start), sources=sources)
        window_query = dataclasses.replace(p.filter.query(window_start, now), sources=sources)

        delivered = {b.key: b.count for b in store.terms(baseline_query, "source", size=p.max_sources)}
        watched = [s for s, n in delivered.items() if n >= p.min_baseline and s not in p.ignore_groups]
        if not watched:
            return []
        recent = dataclasses.replace(window_query, sources=tuple(watched))
        active = {b.key for b in store.terms(recent, "source", size=len(watched))}

        findings = []
        for source in (s for s in watched if s not in active):
            last = self._last_post_at(store, dataclasses.replace(baseline_query, sources=(source,)))
            silent_hours = round((now - last) / timedelta(hours=1), 1) if last else None
            subject = source_subject(source)
            metrics = {"count": 0.0, "baseline_count": float(delivered[source])}
            if silent_hours is not None:
                metrics["silent_hours"] = silent_hours
            findings.append(Finding(
                rule=self.name, rule_type=self.type_name, group_by="source", group_key=source,
                level=p.level, value=silent_hours or p.window / timedelta(hours=1), value_key="silent_hours",
                metrics=metrics, window_start=window_start, window_end=now,
                # The window's posts of the source: none, so the alert names no topic or region.
                query=group_query(window_query, "source", source),
                subject=subject, headline="停止更新",
                summary=(f"{subject}近{humanize_duration(p.window)}没有新发布的信息，此前"
                         f"{humanize_duration(p.baseline)}共{delivered[source]}条"
                         + (f"，最近一条发布于约{silent_hours:.0f}小时前" if silent_hours is not None else "")
                         + "。" + self._crawl_health(store, source, metrics)),
            ))
        logger.debug("rule %s at %s: %d sources watched, %d silent",
                     self.name, now.isoformat(), len(watched), len(findings))
        return findings

    @staticmethod
    def _crawl_health(store: PostIndex, source: str, metrics: dict[str, float]) -> str:
        """What the source's crawls said (index.health, when the store keeps state): a site that
        refuses us (403/429/captcha) or a crawl that keeps failing is named, else the advice."""
        from index import health
        if not hasattr(store, "get_state"):
            return "请检查采集任务和源站是否正常。"
        record = health.load(store, source)
        if record.last.blocked:
            metrics["blocked"] = float(record.last.blocked)
            return (f"最近一次采集被源站拒绝{record.last.blocked}次（{record.last_failure}），疑似封禁、登录墙或验证码，"
                    "请检查采集账号、代理或访问频率。")
        if record.consecutive_failures:
            metrics["failed_crawls"] = float(record.consecutive_failures)
            return f"最近{record.consecutive_failures}次采集失败（{record.last_failure}），请检查采集任务。"
        if record.runs:
            return "采集任务运行正常但没有新内容，请检查源站是否改版或停更。"
        return "请检查采集任务和源站是否正常。"

    @staticmethod
    def _last_post_at(store: PostIndex, query: PostQuery) -> datetime | None:
        hits = store.search(query, size=1, sort="newest").hits
        return hits[0].post.published_at if hits else None
