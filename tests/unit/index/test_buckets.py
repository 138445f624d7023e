"""index.buckets: bucket boundaries in a zone, with and without daylight saving."""
from __future__ import annotations

from datetime import datetime, timezone
from zoneinfo import ZoneInfo

import pytest

from index.buckets import bucket_start, dense_buckets, next_bucket, offset_spans, time_zone, wall_bucket_epoch

BERLIN = ZoneInfo("Europe/Berlin")
SHANGHAI = ZoneInfo("Asia/Shanghai")


def ts(*args: int, tz=timezone.utc) -> int:
    return int(datetime(*args, tzinfo=tz).timestamp())


def test_offset_spans_find_each_change():
    assert offset_spans(SHANGHAI, ts(2026, 1, 1), ts(2027, 1, 1)) == ((float("-inf"), 8 * 3600),)
    spans = offset_spans(BERLIN, ts(2026, 1, 1), ts(2027, 1, 1))
    assert [(since, off) for since, off in spans[1:]] == [(ts(2026, 3, 29, 1), 7200), (ts(2026, 10, 25, 1), 3600)]
    assert spans[0][1] == 3600


def test_days_are_23_and_25_hours_long_across_changes():
    spring = ts(2026, 3, 29, tz=BERLIN)
    assert next_bucket(spring, "day", BERLIN) - spring == 23 * 3600
    autumn = ts(2026, 10, 25, tz=BERLIN)
    assert next_bucket(autumn, "day", BERLIN) - autumn == 25 * 3600
    assert bucket_start(datetime(2026, 3, 29, 23, 59, tzinfo=BERLIN), "day", BERLIN) == spring


def test_wall_keys_resolve_like_bucket_start():
    post = datetime(2026, 10, 25, 1, 30, tzinfo=timezone.utc)            # 02:30 CET, the second 02:30
    wall = ts(2026, 10, 25, 2)                                            # 02:00 on the local clock, as UTC digits
    assert wall_bucket_epoch(wall, 3600, "hour", BERLIN) == bucket_start(post, "hour", BERLIN) == ts(2026, 10, 25, 1)
    assert wall_bucket_epoch(ts(2026, 10, 25), 3600, "day", BERLIN) == bucket_start(post, "day", BERLIN)


def test_dense_buckets_step_in_local_time():
    lo, hi = ts(2026, 3, 28, tz=BERLIN), ts(2026, 3, 30, tz=BERLIN)
    buckets = dense_buckets({}, lo, hi, "day", BERLIN, grouped=False)
    assert [(b.start.day, b.start.hour) for b in buckets] == [(28, 0), (29, 0), (30, 0)]


def test_unknown_zone_is_a_clear_error():
    with pytest.raises(ValueError, match="unknown time zone 'Mars/Olympus'"):
        time_zone("Mars/Olympus")
