"""What the workbench pages and the open API show, assembled once for both: the overview, alert rows,
the event page, search hits — always through the principal's masker (personal data hidden for every
role except admin) and the alert directory's visibility rules (warning.lifecycle.Directory).

Templates escape every text (Jinja2 autoescape); the only markup passed through is what this module
builds itself: search highlights (escaped text with <em> marks) and the trend SVG (no post text).
"""
from __future__ import annotations

import base64
import binascii
import csv
import dataclasses
import html
import io
import json
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from index.schema import ACTIVE_STATUSES, Alert, AlertLevel, Event, Post, aware
from index.store import PostQuery, Store
from warning.labels import (LEVEL_COLOURS, LEVEL_NAMES, SENTIMENT_COLOURS, SENTIMENT_ORDER, STATUS_LABELS,
                            platform_label)
from warning.lifecycle import Directory, Person, is_overdue, overdue_kinds
from warning.privacy import mask, safe_link

NEGATIVE = "负面"
RANGES = {"24h": timedelta(hours=24), "3d": timedelta(days=3), "7d": timedelta(days=7), "30d": timedelta(days=30)}
_TAG = re.compile(r"</?em>")


@dataclass(frozen=True)
class Principal:
    """Who is asking: a signed-in account or an API token (name `api:<token>`)."""
    name: str
    role: str                        # admin | analyst | agency
    agency: str | None = None
    scopes: tuple[str, ...] = ("read", "act")
    via_token: bool = False

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"

    @property
    def person(self) -> Person:
        return Person(self.name, self.role, self.agency)

    def mask(self, text: str | None) -> str:
        """Personal data (phone, ID-card, bank-card numbers, e-mail) hidden for every role but admin."""
        if self.is_admin:
            return text or ""
        return mask(text)

    def link(self, url: str | None) -> str | None:
        if self.is_admin:
            url = url if url and url.startswith(("http://", "https://")) and not re.search(r"[\s<>\"'`\\]", url) else None
            return url
        return safe_link(url)


class BadRequest(ValueError):
    """A parameter the user can fix; the message says which and why."""


# --- time ranges ------------------------------------------------------------
def parse_when(value: str | None, tz, *, end_of_day: bool = False) -> datetime | None:
    """'2026-11-19' or '2026-11-19T08:00' (office time zone unless an offset is given)."""
    if not value:
        return None
    try:
        dt = datetime.fromisoformat(value)
    except ValueError:
        raise BadRequest(f"time {value!r}: use YYYY-MM-DD or YYYY-MM-DDTHH:MM") from None
    if end_of_day and len(value) == 10:
        dt += timedelta(days=1)
    return aware(dt, tz)


def time_range(now: datetime, tz, range_name: str | None, start: str | None, end: str | None
               ) -> tuple[datetime, datetime, str]:
    """[start, end) from a named range before now, or explicit dates (end date inclusive)."""
    if start or end:
        s = parse_when(start, tz)
        e = parse_when(end, tz, end_of_day=True) or now
        s = s or e - RANGES["24h"]
        if e <= s:
            raise BadRequest("the end of the time range must come after its start")
        return s, e, "custom"
    name = range_name or "24h"
    if name not in RANGES:
        raise BadRequest(f"range {name!r}: use one of {', '.join(RANGES)}")
    return now - RANGES[name], now, name


def _share(part: int, whole: int) -> float | None:
    return part / whole if whole else None


# --- alerts -----------------------------------------------------------------
def alert_row(alert: Alert, who: Principal, now: datetime, tz) -> dict[str, Any]:
    level = AlertLevel.parse(alert.level).value
    return {
        "id": alert.id, "level": level, "level_name": LEVEL_NAMES[level], "colour": LEVEL_COLOURS[level],
        "title": who.mask(alert.title), "summary": who.mask(alert.summary),
        "status": alert.status, "status_label": STATUS_LABELS.get(alert.status, alert.status),
        "agency": alert.agency, "agency_name": alert.agency_name or alert.agency or "未分派",
        "assignee": alert.assignee, "reported_to": list(alert.reported_to),
        "topic": alert.topic, "region": alert.region.name if alert.region else None,
        "first_seen": alert.first_seen.astimezone(tz), "last_seen": alert.last_seen.astimezone(tz),
        "ack_due": alert.ack_due.astimezone(tz) if alert.ack_due else None,
        "resolve_due": alert.resolve_due.astimezone(tz) if alert.resolve_due else None,
        "overdue": overdue_kinds(alert, now),
    }


# What the API shows of an alert's history: the lifecycle's and the engine's own fields. Not a notifier's
# `error` (it may quote addresses and hosts); free text (note) is masked.
HISTORY_KEYS = frozenset({"event", "at", "by", "to", "from", "assignee", "previous", "level", "note", "until", "status",
                          "reason", "deadline", "due", "notifier", "change", "dead_letter", "quiet_since", "metrics"})


def alert_json(alert: Alert, who: Principal, now: datetime) -> dict[str, Any]:
    """An alert as the API returns it: every text field through the principal's masker."""
    data = alert.model_dump(mode="json")
    for key in ("title", "summary"):
        data[key] = who.mask(data.get(key))
    data["keywords"] = [who.mask(k) for k in data.get("keywords", [])]
    for example in data.get("examples", []):
        for key in ("text", "author", "title"):
            if example.get(key):
                example[key] = who.mask(example[key])
        if example.get("url"):
            example["url"] = who.link(example["url"])
    if data.get("basis") and data["basis"].get("text"):
        data["basis"]["text"] = who.mask(data["basis"]["text"])
    if data.get("peak") and data["peak"].get("summary"):
        data["peak"]["summary"] = who.mask(data["peak"]["summary"])
    # history: the lifecycle's own fields only (a notifier's error may quote addresses), notes masked
    data["history"] = [{k: (who.mask(v) if k == "note" else v) for k, v in entry.items() if k in HISTORY_KEYS}
                       for entry in data.get("history", [])]
    data["overdue"] = overdue_kinds(alert, now)
    return data


HISTORY_LABELS = {"raised": "触发", "escalated": "升级", "ended": "平息", "notified": "已通知", "notify_failed": "通知失败",
                  "dead_lettered": "通知未送达", "acknowledged": "签收", "handling": "开始处置", "resolved": "办结",
                  "false_positive": "标记误报", "reopened": "重新打开", "assigned": "指派", "commented": "备注",
                  "silenced": "静默", "overdue": "逾期", "reported": "上报"}


def history_rows(alert: Alert, who: Principal, tz) -> list[dict[str, Any]]:
    """The alert's handling record, oldest first, as the page shows it."""
    rows = []
    for entry in alert.history:
        at = entry.get("at")
        try:
            when = datetime.fromisoformat(at).astimezone(tz).strftime("%m-%d %H:%M") if isinstance(at, str) else ""
        except ValueError:
            when = str(at)
        event = str(entry.get("event", ""))
        detail = entry.get("to") or entry.get("assignee") or entry.get("notifier") or entry.get("agency") or ""
        rows.append({"at": when, "by": str(entry.get("by") or ""), "event": HISTORY_LABELS.get(event, event),
                     "detail": STATUS_LABELS.get(detail, detail) if isinstance(detail, str) else str(detail),
                     "note": who.mask(entry.get("note")) if entry.get("note") else ""})
    return rows


class AlertViews:
    def __init__(self, store: Store, directory: Directory, tz):
        self.store, self.directory, self.tz = store, directory, tz

    def visible(self, who: Principal, *, statuses: Iterable[str] = (), levels: Iterable[str] = (),
                agency: str | None = None, overdue: bool = False, now: datetime,
                since: datetime | None = None) -> list[Alert]:
        alerts = self.store.list_alerts(statuses=tuple(statuses), since=since, limit=100_000)
        alerts = self.directory.visible(who.name, alerts)
        levels = tuple(levels)
        if levels:
            alerts = [a for a in alerts if AlertLevel.parse(a.level).value in levels]
        if agency:
            alerts = [a for a in alerts if agency in self.directory.owners(a) or agency in a.reported_to]
        if overdue:
            alerts = [a for a in alerts if is_overdue(a, now)]
        alerts.sort(key=lambda a: (a.first_seen, a.id), reverse=True)
        return alerts

    def get(self, who: Principal, alert_id: str) -> Alert | None:
        """The alert, None when there is none; PermissionError when it exists but is not theirs."""
        alert = self.store.get_alert(alert_id)
        if alert is None:
            return None
        if not self.directory.can_see(who.name, alert):
            raise PermissionError(f"alert {alert_id} is not routed or reported to your agency")
        return alert

    def can_act(self, who: Principal, alert: Alert) -> bool:
        return "act" in who.scopes and self.directory.can_act(who.name, alert)


# --- posts ------------------------------------------------------------------
def _highlight(hit_html: str | None, who: Principal, post: Post | None = None) -> str | None:
    """The store's highlight (escaped text with <em> marks) if masking leaves it unchanged; a snippet
    of a post that holds personal data anywhere is dropped (the caller shows the masked text instead):
    a number cut at the snippet's edge is too short for the masker to know."""
    if not hit_html:
        return None
    if post is not None and not who.is_admin and (who.mask(post.content) != post.content
                                                  or who.mask(post.title) != post.title):
        return None
    plain = html.unescape(_TAG.sub("", hit_html))
    if who.mask(plain) != plain:
        return None
    # keep only our own marks: anything else in the store's snippet is escaped again
    parts = re.split(r"(</?em>)", hit_html)
    return "".join(p if p in ("<em>", "</em>") else html.escape(html.unescape(p), quote=False) for p in parts)


def post_json(post: Post, who: Principal, highlight: str | None = None, tz=None) -> dict[str, Any]:
    return {
        "id": post.id, "title": who.mask(post.title), "content": who.mask(post.content),
        "url": who.link(post.url), "platform": post.platform, "platform_label": platform_label(post.platform),
        "source": post.source,
        "author": {"name": who.mask(post.author.name) if post.author.name else None,
                   "followers": post.author.followers, "verified": post.author.verified},
        "published_at": post.published_at.astimezone(tz).isoformat() if tz else post.published_at.isoformat(),
        "polarity": post.polarity_label, "sentiment": post.sentiment.label if post.sentiment else None,
        "topic": post.topic, "region": post.region.name if post.region else None,
        "region_code": post.region.code if post.region else None,
        "event_id": post.event_id, "schemes": list(post.schemes),
        "engagement": post.engagement.total, "highlight": _highlight(highlight, who, post),
    }


@dataclass
class SearchForm:
    q: str = ""
    start: str | None = None
    end: str | None = None
    platform: str | None = None
    polarity: str | None = None
    topic: str | None = None
    region: str | None = None
    scheme: str | None = None
    sort: str = "newest"

    def query(self, tz) -> PostQuery:
        if self.sort not in ("newest", "oldest", "relevance", "engagement"):
            raise BadRequest(f"sort {self.sort!r}: use newest, oldest, relevance or engagement")
        start = parse_when(self.start, tz)
        end = parse_when(self.end, tz, end_of_day=True)
        if start and end and end <= start:
            raise BadRequest("the end date must not come before the start date")
        return PostQuery(text=self.q.strip() or None, start=start, end=end,
                         platforms=(self.platform,) if self.platform else (),
                         polarities=(self.polarity,) if self.polarity else (),
                         topics=(self.topic,) if self.topic else (),
                         region_codes=(self.region,) if self.region else (),
                         schemes=(self.scheme,) if self.scheme else ())

    def params(self) -> dict[str, str]:
        return {k: v for k, v in dataclasses.asdict(self).items() if v}


def search(store: Store, query: PostQuery, who: Principal, *, size: int, offset: int, sort: str, tz):
    """(total, hits as dicts); a query the syntax refuses raises BadRequest with its message."""
    try:
        result = store.search(query, size=size, offset=offset, sort=sort)   # type: ignore[arg-type]
    except ValueError as exc:   # index.querylang.QuerySyntaxError and friends
        raise BadRequest(str(exc)) from None
    return result.total, [post_json(h.post, who, h.highlight, tz) for h in result.hits]


CSV_COLUMNS = ("id", "published_at", "platform", "source", "author", "title", "content", "url", "polarity",
               "topic", "region", "event_id")
CSV_LIMIT = 10_000


def _cell(value: Any) -> str:
    """A CSV cell a spreadsheet will not run as a formula (=, +, -, @ at the start)."""
    text = "" if value is None else str(value)
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def search_csv(store: Store, query: PostQuery, who: Principal, sort: str, tz) -> Iterable[str]:
    """The search's posts (at most CSV_LIMIT) as CSV with a BOM, so Excel reads it as UTF-8."""
    buf = io.StringIO()
    writer = csv.writer(buf)
    yield "\ufeff"
    writer.writerow(CSV_COLUMNS)
    offset, page = 0, 500
    while offset < CSV_LIMIT:
        try:
            result = store.search(query, size=page, offset=offset, sort=sort)   # type: ignore[arg-type]
        except ValueError as exc:
            raise BadRequest(str(exc)) from None
        for hit in result.hits:
            row = post_json(hit.post, who, None, tz)
            writer.writerow([_cell(row["author"]["name"] if c == "author" else row[c]) for c in CSV_COLUMNS])
        yield buf.getvalue()
        buf.seek(0)
        buf.truncate()
        offset += page
        if len(result.hits) < page:
            break


# --- the overview -----------------------------------------------------------
HOT_WORDS_SPAN = timedelta(hours=24)


def overview(store: Store, who: Principal, start: datetime, end: datetime, tz) -> dict[str, Any]:
    """The overview page's numbers: one Store.overview call for the period (the SQLite store answers
    it from its hourly rollup and a covering index), the previous period's total, and hot words of the
    range's last 24 h (what is hot now; over 30 days they would say little and cost most)."""
    from warning.reports.chart import trend_svg
    period = PostQuery(start=start, end=end)
    span = end - start
    interval_name, interval = ("hour", timedelta(hours=1)) if span <= timedelta(days=3) else ("day", timedelta(days=1))
    sizes = {"topic": 10, "district": 10, "platform": 8}
    summary = store.overview(period, interval_name, sizes, negative=NEGATIVE)   # type: ignore[arg-type]
    total, polarity = summary.total, summary.polarity
    previous_total = store.count(PostQuery(start=start - span, end=start))

    def breakdown(field: str) -> list[dict[str, Any]]:
        totals, negatives = summary.breakdowns[field], summary.negative[field]
        top = max((b.count for b in totals), default=0)
        return [{"key": b.key, "label": who.mask(platform_label(b.key) if field == "platform" else b.key),
                 "count": b.count, "negative": negatives.get(b.key, 0),
                 "negative_share": _share(negatives.get(b.key, 0), b.count),
                 "width": round(100 * b.count / top) if top else 0} for b in totals]

    recent = PostQuery(start=max(start, end - HOT_WORDS_SPAN), end=end)
    words = store.terms(recent, "keywords", size=30) or [
        b for b in store.terms(recent, "tokens", size=90) if len(b.key) >= 2][:30]
    top_word = max((b.count for b in words), default=1)
    change = None if not previous_total else (total - previous_total) / previous_total
    return {
        "start": start.astimezone(tz), "end": end.astimezone(tz), "total": total, "previous_total": previous_total,
        "change": change,
        "polarity": [{"label": label, "count": polarity.get(label, 0), "share": _share(polarity.get(label, 0), total),
                      "colour": SENTIMENT_COLOURS[label]} for label in SENTIMENT_ORDER],
        "trend_svg": trend_svg(summary.histogram, interval, tz),
        "trend": [{"start": b.start.astimezone(tz).isoformat(), "counts": b.counts} for b in summary.histogram],
        "topics": breakdown("topic"), "regions": breakdown("district"), "platforms": breakdown("platform"),
        "hot_words": [{"word": who.mask(b.key), "count": b.count, "weight": 1 + round(4 * b.count / top_word)}
                      for b in words],
        "hot_words_since": recent.start.astimezone(tz),
    }


# --- events -----------------------------------------------------------------
def event_json(event: Event, who: Principal, tz) -> dict[str, Any]:
    return {"id": event.id, "title": who.mask(event.title), "keywords": [who.mask(k) for k in event.keywords],
            "first_post_id": event.first_post_id, "first_seen": event.first_seen.astimezone(tz).isoformat(),
            "last_seen": event.last_seen.astimezone(tz).isoformat(), "post_count": event.post_count,
            "negative_count": event.negative_count, "platforms": dict(event.platforms), "topic": event.topic,
            "region": event.region.name if event.region else None}


def data_uri(png: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")


# --- cursors ----------------------------------------------------------------
def encode_cursor(offset: int, pinned: datetime) -> str:
    """An opaque cursor: the next offset and the moment the first page was read (later pages stop
    there, so posts arriving meanwhile do not shift them)."""
    raw = json.dumps({"o": offset, "p": pinned.isoformat()}, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[int, datetime]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        data = json.loads(raw)
        offset, pinned = int(data["o"]), datetime.fromisoformat(data["p"])
    except (ValueError, KeyError, TypeError, binascii.Error, json.JSONDecodeError):
        raise BadRequest("cursor: not one this API returned") from None
    if offset < 0 or offset > 1_000_000:
        raise BadRequest("cursor: out of range")
    return offset, aware(pinned)


Masker = Callable[[str | None], str]
__all__ = ["ACTIVE_STATUSES", "AlertViews", "BadRequest", "Principal", "SearchForm", "alert_json", "alert_row",
           "data_uri", "decode_cursor", "encode_cursor", "event_json", "overview", "post_json", "search",
           "search_csv", "time_range"]
