"""Department response metrics (考核评价): how each agency handled the alerts it received in a period.

Read from the alerts' audit trail (warning.lifecycle), never from counters kept on the side: an
alert counts for the agency that owned it, in the period its episode was raised. Times run from
the raise to the owner's first action (acknowledge, handle, resolve or false positive) and to the
last resolution; `overdue` counts alerts that missed a deadline (recorded by the deadline check,
or past one now while still open); reopened counts alerts reopened at least once.
"""
from __future__ import annotations

import csv
import io
import statistics
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta, tzinfo

from index.schema import DEFAULT_TZ, Alert
from index.store import Store

from ..config import AgenciesFile
from ..lifecycle import FALSE_POSITIVE, OVERDUE, REOPENED, is_overdue, response_times


@dataclass
class AgencyResponse:
    agency: str
    name: str
    received: int = 0
    acknowledged: int = 0
    resolved: int = 0
    open: int = 0
    ack_median_min: float | None = None
    ack_p90_min: float | None = None
    resolve_median_min: float | None = None
    resolve_p90_min: float | None = None
    overdue: int = 0
    false_positive_share: float | None = None
    reopened: int = 0


def _minutes(values: list[timedelta]) -> list[float]:
    return sorted(v.total_seconds() / 60 for v in values)


def _p(values: list[float], q: float) -> float | None:
    """Nearest-rank percentile (q in 0..1); None without values."""
    if not values:
        return None
    rank = max(1, int(-(-q * len(values) // 1)))     # ceil(q * n)
    return round(values[min(rank, len(values)) - 1], 1)


def period_bounds(period: str, tz: tzinfo = DEFAULT_TZ) -> tuple[datetime, datetime]:
    """'2026-11' → the month; '2026-11-19' → the day; '2026-W47' → the ISO week; in the office's zone."""
    try:
        if "-W" in period:
            start = datetime.strptime(period + "-1", "%G-W%V-%u").replace(tzinfo=tz)
            return start, start + timedelta(days=7)
        parts = period.split("-")
        if len(parts) == 2:
            start = datetime.strptime(period, "%Y-%m").replace(tzinfo=tz)
            end = start.replace(year=start.year + 1, month=1) if start.month == 12 else start.replace(month=start.month + 1)
            return start, end
        if len(parts) == 3:
            start = datetime.strptime(period, "%Y-%m-%d").replace(tzinfo=tz)
            return start, start + timedelta(days=1)
    except ValueError:
        pass
    raise ValueError(f"period {period!r}: use a month (2026-11), a day (2026-11-19) or an ISO week (2026-W47)")


def response_metrics(alerts: Iterable[Alert], agencies: AgenciesFile, start: datetime, end: datetime,
                     now: datetime) -> list[AgencyResponse]:
    """One row per agency of the directory (those that received nothing included), in directory order."""
    rows = {a.id: AgencyResponse(a.id, a.name) for a in agencies.agencies}
    acks: dict[str, list[timedelta]] = {k: [] for k in rows}
    dones: dict[str, list[timedelta]] = {k: [] for k in rows}
    false_positives: dict[str, int] = {k: 0 for k in rows}
    for alert in alerts:
        if not (start <= alert.first_seen < end):
            continue
        owner = alert.agency if alert.agency in rows else agencies.default_agency
        row = rows[owner]
        row.received += 1
        ack, done = response_times(alert)
        if ack is not None:
            row.acknowledged += 1
            acks[owner].append(ack)
        if alert.status in ("resolved", "false_positive"):
            row.resolved += 1
            if done is not None:        # closed before the lifecycle kept a record: no time to measure
                dones[owner].append(done)
        else:
            row.open += 1
        if alert.status == FALSE_POSITIVE:
            false_positives[owner] += 1
        if any(e.get("event") == OVERDUE for e in alert.history) or is_overdue(alert, now):
            row.overdue += 1
        if any(e.get("event") == REOPENED for e in alert.history):
            row.reopened += 1
    for key, row in rows.items():
        a, d = _minutes(acks[key]), _minutes(dones[key])
        row.ack_median_min = round(statistics.median(a), 1) if a else None
        row.ack_p90_min = _p(a, 0.9)
        row.resolve_median_min = round(statistics.median(d), 1) if d else None
        row.resolve_p90_min = _p(d, 0.9)
        row.false_positive_share = round(false_positives[key] / row.received, 3) if row.received else None
    return list(rows.values())


def collect(store: Store, agencies: AgenciesFile, start: datetime, end: datetime, now: datetime,
            limit: int = 100_000) -> list[AgencyResponse]:
    # alerts raised in the period may have been seen last long after it: filter on first_seen here
    return response_metrics(store.list_alerts(since=start, limit=limit), agencies, start, end, now)


HEADERS = {"agency": "单位编号", "name": "单位", "received": "收到预警", "acknowledged": "已签收", "resolved": "已办结",
           "open": "未办结", "ack_median_min": "签收用时中位数（分钟）", "ack_p90_min": "签收用时P90（分钟）",
           "resolve_median_min": "办结用时中位数（分钟）", "resolve_p90_min": "办结用时P90（分钟）",
           "overdue": "逾期", "false_positive_share": "误报占比", "reopened": "重新打开"}


def to_csv(rows: list[AgencyResponse]) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(HEADERS))
    writer.writerow(HEADERS)
    for row in rows:
        writer.writerow({k: ("" if v is None else v) for k, v in asdict(row).items()})
    return out.getvalue()


def to_table(rows: list[AgencyResponse]) -> str:
    """A fixed-width table for the terminal (— where there is nothing to measure)."""
    cols = ["name", "received", "acknowledged", "resolved", "overdue", "ack_median_min", "ack_p90_min",
            "resolve_median_min", "resolve_p90_min", "false_positive_share", "reopened"]
    short = {"name": "单位", "received": "收到", "acknowledged": "签收", "resolved": "办结", "overdue": "逾期",
             "ack_median_min": "签收中位(分)", "ack_p90_min": "签收P90(分)", "resolve_median_min": "办结中位(分)",
             "resolve_p90_min": "办结P90(分)", "false_positive_share": "误报占比", "reopened": "重开"}

    def cell(col: str, value) -> str:
        if value is None:
            return "—"
        if col == "false_positive_share":
            return f"{value:.0%}"
        return f"{value:g}" if isinstance(value, float) else str(value)

    table = [[short[c] for c in cols]] + [[cell(c, getattr(r, c)) for c in cols] for r in rows]

    def width(text: str) -> int:
        return sum(2 if ord(ch) > 0x2E80 else 1 for ch in text)

    widths = [max(width(line[i]) for line in table) for i in range(len(cols))]
    return "\n".join("  ".join(text + " " * (widths[i] - width(text)) for i, text in enumerate(line)).rstrip()
                     for line in table) + "\n"
