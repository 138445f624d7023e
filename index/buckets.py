"""Time buckets for histograms, aligned in the store's time zone; shared by every backend.

A bucket is named by the epoch second at which it starts. Hour and shorter buckets
start on the local clock's quarter hours, hours and 6-hour marks; day and week
buckets at local midnight (weeks on Mondays). In a zone with daylight saving a
local day is then 23 or 25 hours long, and the repeated hour of an autumn night is
two buckets; so bucket boundaries are computed with zoneinfo, never as fixed
multiples of a width. Both backends build their answer with `dense_buckets`, so
their histograms agree bucket for bucket.
"""
from __future__ import annotations

import functools
import math
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from .schema import DEFAULT_TZ, aware
from .store import TimeBucket

INTERVAL_SECONDS: dict[str, int] = {
    "15m": 15 * 60, "30m": 30 * 60, "hour": 3600, "6h": 6 * 3600, "day": 86400, "week": 7 * 86400,
}
# Buckets no longer than this follow the clock through a daylight-saving change (the
# repeated hour is two buckets); longer ones start at a local wall time, resolved with fold=0.
CLOCK_INTERVALS = ("15m", "30m", "hour")
MAX_BUCKETS = 100_000
WEEK_ANCHOR_S = 4 * 86400          # 1970-01-05, the first Monday after the epoch
_EPOCH = datetime(1970, 1, 1)


def time_zone(tz: str | ZoneInfo | None) -> ZoneInfo:
    """A ZoneInfo from an IANA name (None: Asia/Shanghai); an unknown name is a ValueError."""
    if tz is None:
        return DEFAULT_TZ
    if isinstance(tz, ZoneInfo):
        return tz
    try:
        return ZoneInfo(str(tz))
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(f"unknown time zone {tz!r}; use an IANA name such as 'Asia/Shanghai'") from exc


def check_interval(interval: str) -> int:
    if interval not in INTERVAL_SECONDS:
        raise ValueError(f"unknown interval {interval!r}; use one of {', '.join(INTERVAL_SECONDS)}")
    return INTERVAL_SECONDS[interval]


def bucket_start(instant: datetime | float, interval: str, tz: ZoneInfo) -> int:
    """Epoch second at which the bucket holding `instant` starts."""
    if not isinstance(instant, datetime):
        instant = datetime.fromtimestamp(math.floor(instant), timezone.utc)
    local = aware(instant).astimezone(tz)
    if interval in ("day", "week"):
        day = local.date() - timedelta(days=local.weekday() if interval == "week" else 0)
        return int(datetime(day.year, day.month, day.day, tzinfo=tz).timestamp())
    step = INTERVAL_SECONDS[interval] // 60
    minutes = (local.hour * 60 + local.minute) // step * step
    start = local.replace(hour=minutes // 60, minute=minutes % 60, second=0, microsecond=0)
    if interval not in CLOCK_INTERVALS:
        start = start.replace(fold=0)
    return int(start.timestamp())


def wall_bucket_epoch(wall_start: int, offset_s: int, interval: str, tz: ZoneInfo) -> int:
    """The bucket start for a local wall-clock bucket key (seconds since 1970-01-01 local) that a
    post with UTC offset `offset_s` fell into; the twin of `bucket_start` for SQL backends."""
    if interval in CLOCK_INTERVALS:
        return wall_start - offset_s
    return int((_EPOCH + timedelta(seconds=wall_start)).replace(tzinfo=tz).timestamp())


def next_bucket(start: int, interval: str, tz: ZoneInfo) -> int:
    """The bucket after the one starting at `start` (half a width past its nominal end, then
    floored: safe whether the local day had 23, 24 or 25 hours)."""
    return bucket_start(start + INTERVAL_SECONDS[interval] * 3 // 2, interval, tz)


def bucket_bounds(start: datetime | None, end: datetime | None, interval: str,
                  tz: ZoneInfo) -> tuple[int | None, int | None] | None:
    """First and last bucket that the half-open range [start, end) touches (None: unbounded on that
    side); None when the range is empty. Raises ValueError for more than MAX_BUCKETS buckets."""
    width = check_interval(interval)
    lo = bucket_start(start, interval, tz) if start is not None else None
    hi = bucket_start(aware(end) - timedelta(microseconds=1), interval, tz) if end is not None else None
    if lo is not None and hi is not None:
        if hi < lo:
            return None
        if (hi - lo) // width + 1 > MAX_BUCKETS:
            raise ValueError(f"{interval} buckets from {start} to {end} exceed {MAX_BUCKETS}")
    return lo, hi


def _starts(first: int, last: int, interval: str, tz: ZoneInfo) -> Iterator[int]:
    start = first
    while start <= last:
        yield start
        start = next_bucket(start, interval, tz)


def dense_buckets(counts: dict[int, dict[str, int]], lo: int | None, hi: int | None, interval: str,
                  tz: ZoneInfo, *, grouped: bool) -> list[TimeBucket]:
    """Every bucket from lo (or the first with posts) to hi (or the last), empty ones included,
    with local start times. `counts` maps bucket starts (epoch seconds) to counts per group."""
    if not counts and (lo is None or hi is None):
        return []
    first = lo if lo is not None else min(counts)
    last = hi if hi is not None else max(counts)
    # a day or week is at most an hour longer than its nominal width
    if (last - first) // INTERVAL_SECONDS[interval] + 1 > MAX_BUCKETS:
        raise ValueError(f"{interval} buckets over this range exceed {MAX_BUCKETS}; use a wider interval")
    empty = {} if grouped else {"_all": 0}
    return [TimeBucket(start=datetime.fromtimestamp(b, tz), counts=counts.get(b, dict(empty)))
            for b in _starts(first, last, interval, tz)]


def offset_spans(tz: ZoneInfo, lo: float, hi: float) -> tuple[tuple[float, int], ...]:
    """The zone's UTC offsets over [lo, hi] (epoch seconds): ((since, offset_s), ...), the first
    span open to the past and the last to the future. Asia/Shanghai gives one span."""
    return _offset_spans(tz, math.floor(lo / 86400), math.ceil(hi / 86400) + 1)


@functools.lru_cache(maxsize=256)
def _offset_spans(tz: ZoneInfo, first_day: int, last_day: int) -> tuple[tuple[float, int], ...]:
    def offset(epoch: float) -> int:
        return int(datetime.fromtimestamp(epoch, tz).utcoffset().total_seconds())

    spans = [(-math.inf, offset(first_day * 86400))]
    # Zones change offset at most a few times a year; sampling daily and bisecting finds each change.
    for day in range(first_day, last_day):
        a, b = day * 86400, (day + 1) * 86400
        if offset(b) == spans[-1][1]:
            continue
        while b - a > 1:
            mid = (a + b) // 2
            if offset(mid) == spans[-1][1]:
                a = mid
            else:
                b = mid
        spans.append((float(b), offset(b)))
    return tuple(spans)


__all__ = [
    "CLOCK_INTERVALS", "INTERVAL_SECONDS", "MAX_BUCKETS", "WEEK_ANCHOR_S", "bucket_bounds", "bucket_start",
    "check_interval", "dense_buckets", "next_bucket", "offset_spans", "time_zone", "wall_bucket_epoch",
]
