"""The daily briefing (舆情日报): one self-contained, printable HTML page for the duty officer.

Everything comes from store aggregations and a few top hits; every text that
could carry personal data passes through the PII masker before rendering.
"""
from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta, tzinfo
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from index.schema import ACTIVE_STATUSES, DEFAULT_TZ, Alert, AlertLevel, Post, now as current_time
from index.store import Bucket, PostQuery, Store
from ..config import AgenciesFile, TopicsFile

from ..alerts import example_of, has_ended
from ..explain import ended_at, level_reason, peak_is_past
from ..grading import count_text
from ..labels import (LEVEL_COLOURS, LEVEL_NAMES, SENTIMENT_COLOURS, SENTIMENT_ORDER, STATUS_LABELS,
                      metric_label, metric_value, platform_label)
from ..lifecycle import is_overdue
from ..routing import Router
from .chart import trend_svg
from ..privacy import mask, safe_link

logger = logging.getLogger(__name__)

TEMPLATES = Path(__file__).parent / "templates"
NEGATIVE = "负面"
_INTERVALS = (("hour", timedelta(hours=1), timedelta(days=3)), ("6h", timedelta(hours=6), timedelta(days=21)),
              ("day", timedelta(days=1), timedelta.max))


def _environment(tz: tzinfo = DEFAULT_TZ) -> Environment:
    env = Environment(loader=FileSystemLoader(TEMPLATES), autoescape=select_autoescape(["html", "j2"]),
                      undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True)
    env.filters["pct"] = lambda value: "—" if value is None else f"{value:.1%}"
    env.filters["dt"] = lambda value, fmt="%m-%d %H:%M": value.astimezone(tz).strftime(fmt) if value else ""
    return env


def _share(part: int, whole: int) -> float | None:
    return part / whole if whole else None


def _change(current: int, previous: int) -> dict[str, Any]:
    """Period-over-period change, worded for the reader."""
    if previous == 0:
        return {"text": "上一时段为 0" if current else "与上一时段均为 0", "direction": "up" if current else "flat"}
    delta = (current - previous) / previous
    if abs(delta) < 0.005:
        return {"text": "与上一时段持平", "direction": "flat"}
    return {"text": f"较上一时段{'增加' if delta > 0 else '减少'} {abs(delta):.1%}",
            "direction": "up" if delta > 0 else "down"}


class BriefingBuilder:
    """Collects the numbers, alerts and posts of one briefing period into template context."""

    def __init__(self, store: Store, agencies: AgenciesFile, topics: TopicsFile,
                 masker: Callable[[str | None], str] = mask, *, max_alerts: int = 30, max_posts: int = 10,
                 source_labels: Mapping[str, str] | None = None, tz: tzinfo = DEFAULT_TZ):
        self.store = store
        self.tz = tz
        self.source_labels = dict(source_labels or {})
        self.agencies = {a.id: a for a in agencies.agencies}
        self.router = Router(agencies)
        self.topics = topics
        self.mask = masker
        self.max_alerts = max_alerts
        self.max_posts = max_posts

    def context(self, start: datetime, end: datetime, office_name: str) -> dict[str, Any]:
        period = PostQuery(start=start, end=end)
        previous = PostQuery(start=start - (end - start), end=start)
        total = self.store.count(period)
        previous_total = self.store.count(previous)
        sentiments = self._counts(period, "polarity")   # 舆情倾向, not the writer's tone
        negative = sentiments.get(NEGATIVE, 0)
        previous_negative = self.store.count(dataclasses.replace(previous, polarities=(NEGATIVE,)))
        return {
            "office_name": office_name,
            "report_date": end.astimezone(self.tz),
            "start": start, "end": end,
            "generated_at": current_time().astimezone(self.tz),
            "overview": {
                "total": total, "previous_total": previous_total, "change": _change(total, previous_total),
                "negative": negative, "negative_share": _share(negative, total),
                "negative_change": _change(negative, previous_negative),
                "sentiments": [{"label": label, "count": sentiments.get(label, 0),
                                "share": _share(sentiments.get(label, 0), total),
                                "colour": SENTIMENT_COLOURS[label]} for label in SENTIMENT_ORDER],
                "platforms": [{"label": platform_label(b.key), "count": b.count, "share": _share(b.count, total)}
                              for b in self.store.terms(period, "platform", size=10)],
            },
            "chart_svg": self._chart(period, end - start),
            "alerts": self._alerts(start, end),
            "handling": self._handling(end),
            "topics": self._breakdown(period, "topic", size=12, with_agency=True),
            "schemes": self._schemes(period),
            "regions": self._breakdown(period, "district", size=15),
            "hot_words": self._hot_words(period),
            "negative_posts": [self._post(p) for p in self._latest_negative(period)],
            "level_colours": LEVEL_COLOURS,
        }

    # --- sections -------------------------------------------------------
    def _counts(self, query: PostQuery, field: str, size: int = 20) -> dict[str, int]:
        return {b.key: b.count for b in self.store.terms(query, field, size=size)}

    def _chart(self, period: PostQuery, span: timedelta) -> str:
        name, interval = next((n, i) for n, i, limit in _INTERVALS if span <= limit)
        buckets = self.store.histogram(period, name, group_by="polarity")   # type: ignore[arg-type]
        return trend_svg(buckets, interval, self.tz)

    def _alerts(self, start: datetime, end: datetime) -> list[dict[str, Any]]:
        alerts = [a for a in self.store.list_alerts(since=start, limit=500)
                  if a.first_seen < end and a.last_seen >= start]
        # Open episodes first, then those that ended (已平息); each by level, then first seen.
        alerts.sort(key=lambda a: (has_ended(a), -a.level_enum.rank, a.first_seen))
        return [self._alert(a) for a in alerts[: self.max_alerts]]

    def _handling(self, at: datetime) -> list[dict[str, Any]]:
        """Per agency, the alerts still being handled at the briefing's time and how many are past a
        deadline (the closed loop: warning.lifecycle); agencies with nothing open are left out."""
        rows: dict[str, dict[str, Any]] = {}
        for alert in self.store.list_alerts(statuses=ACTIVE_STATUSES, limit=5000):
            if alert.first_seen > at:
                continue
            agency = self.agencies.get(alert.agency or "")
            row = rows.setdefault(alert.agency or "", {"agency": agency.name if agency else (alert.agency_name or "未分派"),
                                                       "new": 0, "acknowledged": 0, "handling": 0, "overdue": 0,
                                                       "overdue_titles": []})
            row[alert.status] += 1
            if is_overdue(alert, at):
                row["overdue"] += 1
                if len(row["overdue_titles"]) < 3:
                    row["overdue_titles"].append(self.mask(alert.title))
        return sorted(rows.values(), key=lambda r: (-r["overdue"], -(r["new"] + r["acknowledged"] + r["handling"])))

    def _metrics(self, metrics: Mapping[str, float]) -> list[dict[str, str]]:
        return [{"label": metric_label(k), "value": metric_value(k, v)} for k, v in metrics.items()
                if k in ("count", "ratio", "negative_count", "negative_share")]

    def _alert(self, alert: Alert) -> dict[str, Any]:
        level = AlertLevel.parse(alert.level).value
        agency = self.agencies.get(alert.agency or "")
        return {
            "id": alert.id, "level": level, "level_name": LEVEL_NAMES[level], "colour": LEVEL_COLOURS[level],
            "title": self.mask(alert.title), "summary": self.mask(alert.summary),
            "agency": alert.agency_name or (agency.name if agency else "未分派"),
            "status": STATUS_LABELS.get(alert.status, alert.status), "ended": has_ended(alert),
            "ended_at": ended_at(alert),
            "topic": alert.topic, "region": alert.region.name if alert.region else "",
            "first_seen": alert.first_seen, "last_seen": alert.last_seen,
            "reason": self.mask(level_reason(alert)),
            "current_basis": self.mask(alert.basis.text) if alert.basis and peak_is_past(alert) else "",
            "metrics": self._metrics(alert.metrics),
            "peak": self._peak(alert),
            "keywords": [self.mask(k) for k in alert.keywords[:8]],
            "examples": self._examples(alert),
        }

    def _peak(self, alert: Alert) -> dict[str, Any] | None:
        """The episode's strongest evaluation, when it was not the latest one."""
        peak = alert.peak
        if peak is None or not peak_is_past(alert):
            return None
        level = AlertLevel.parse(peak.level).value
        return {"at": peak.at, "level_name": LEVEL_NAMES[level], "colour": LEVEL_COLOURS[level],
                "summary": self.mask(peak.summary), "metrics": self._metrics(peak.metrics)}

    def _examples(self, alert: Alert, limit: int = 3) -> list[dict[str, Any]]:
        """The alert's example posts; alerts stored before examples existed read their posts."""
        examples = alert.examples[:limit] or [example_of(p, self.tz) for p in self.store.get_posts(alert.post_ids[:limit])]
        return [{"text": self.mask(e.text), "platform": e.platform_label or platform_label(e.platform),
                 "published_at": e.published_at, "url": self._link(e.url),
                 "author": self.mask(e.author) if e.author else "",
                 "followers": count_text(e.followers) if e.followers else "",
                 "engagement": count_text(e.engagement) if e.engagement else "",
                 "sentiment": e.polarity or e.sentiment or ""} for e in examples]

    def _breakdown(self, period: PostQuery, field: str, size: int, with_agency: bool = False) -> list[dict[str, Any]]:
        totals = self.store.terms(period, field, size=size)
        negatives = self._counts(dataclasses.replace(period, polarities=(NEGATIVE,)), field, size=size * 3)
        rows = []
        for bucket in totals:
            neg = negatives.get(bucket.key, 0)
            row = {"label": self.mask(bucket.key), "count": bucket.count, "negative": neg,
                   "negative_share": _share(neg, bucket.count)}
            if with_agency:
                row["agency"] = self.router.agency_for(bucket.key, None).name
            rows.append(row)
        return rows

    def _schemes(self, period: PostQuery) -> list[dict[str, Any]]:
        """Every enabled monitoring scheme with the posts it tagged in the period (0 included)."""
        names = [s.name for s in self.topics.schemes if s.enabled]
        if not names:
            return []
        totals = self._counts(period, "schemes", size=len(names) + 20)
        negatives = self._counts(dataclasses.replace(period, polarities=(NEGATIVE,)), "schemes", size=len(names) + 20)
        return [{"label": name, "count": totals.get(name, 0), "negative": negatives.get(name, 0),
                 "negative_share": _share(negatives.get(name, 0), totals.get(name, 0))} for name in names]

    def _hot_words(self, period: PostQuery, size: int = 30) -> list[dict[str, Any]]:
        buckets: list[Bucket] = self.store.terms(period, "keywords", size=size)
        if not buckets:
            buckets = [b for b in self.store.terms(period, "tokens", size=size * 3) if len(b.key) >= 2][:size]
        if not buckets:
            return []
        top = max(b.count for b in buckets)
        return [{"word": self.mask(b.key), "count": b.count, "weight": 1 + round(4 * b.count / top)}
                for b in buckets]

    def _latest_negative(self, period: PostQuery) -> list[Post]:
        query = dataclasses.replace(period, polarities=(NEGATIVE,))
        return [hit.post for hit in self.store.search(query, size=self.max_posts, sort="newest").hits]

    def _link(self, url: str | None) -> str | None:
        """The post's link, unless it is not http(s) or carries something the masker would hide."""
        url = safe_link(url)
        return url if url and self.mask(url) == url else None

    def _post(self, post: Post) -> dict[str, Any]:
        body = " ".join(post.content.split())
        title = post.title.strip() or body[:40]
        if body.startswith(title):   # many sources repeat the title as the first line
            body = body[len(title):].lstrip(" ，,。.:：")
        return {
            "title": self.mask(title), "snippet": self.mask(body[:120] + ("…" if len(body) > 120 else "")),
            "source": self.source_labels.get(post.source) or post.source, "author": self.mask(post.author.name) if post.author.name else "",
            "platform": platform_label(post.platform), "published_at": post.published_at,
            "url": self._link(post.url),
            "engagement": post.engagement.total,
            "sentiment": post.polarity_label or "", "region": post.region.name if post.region else "",
        }
