"""Publication times as Chinese pages write them, against a fixed `now`."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from crawler.extract.dates import find_datetime, parse_datetime
from index.schema import DEFAULT_TZ

NOW = datetime(2026, 11, 18, 12, 0, tzinfo=DEFAULT_TZ)


def at(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=DEFAULT_TZ)


@pytest.mark.parametrize("text, expected", [
    ("2026-11-18 09:12", at(2026, 11, 18, 9, 12)),
    ("2026-11-18 09:12:33", at(2026, 11, 18, 9, 12, 33)),
    ("2026年11月18日 09:12", at(2026, 11, 18, 9, 12)),
    ("2026年11月18日09时12分", at(2026, 11, 18, 9, 12)),
    ("2026/11/18", at(2026, 11, 18)),
    ("2026.11.18 09:12", at(2026, 11, 18, 9, 12)),
    ("发布时间：2026年11月18日 09:12", at(2026, 11, 18, 9, 12)),
    ("留言时间：2026-11-18 09:12:33", at(2026, 11, 18, 9, 12, 33)),
    ("11月18日", at(2026, 11, 18)),
    ("11月17日 20:05", at(2026, 11, 17, 20, 5)),
    ("11-17 08:30", at(2026, 11, 17, 8, 30)),
    ("昨天 09:12", at(2026, 11, 17, 9, 12)),
    ("前天 10:00", at(2026, 11, 16, 10, 0)),
    ("今天 08:00", at(2026, 11, 18, 8, 0)),
    ("3小时前", NOW - timedelta(hours=3)),
    ("5分钟前", NOW - timedelta(minutes=5)),
    ("半小时前", NOW - timedelta(minutes=30)),
    ("2天前", NOW - timedelta(days=2)),
    ("刚刚", NOW),
])
def test_chinese_forms(text, expected):
    assert parse_datetime(text, NOW) == expected


def test_machine_forms_keep_their_offset():
    assert parse_datetime("2026-11-18T01:12:00Z", NOW) == datetime(2026, 11, 18, 1, 12, tzinfo=timezone.utc)
    assert parse_datetime("2026-11-18T09:12:00+08:00", NOW) == at(2026, 11, 18, 9, 12)
    assert parse_datetime("Wed, 18 Nov 2026 09:12:00 +0800", NOW) == at(2026, 11, 18, 9, 12)
    # the weibo API form, whatever the process locale
    assert parse_datetime("Wed Nov 18 09:12:00 +0800 2026", NOW) == at(2026, 11, 18, 9, 12)


def test_naive_times_are_read_in_shanghai():
    value = parse_datetime("2026-11-18 09:12", NOW)
    assert value.utcoffset() == timedelta(hours=8)


def test_year_less_date_in_the_future_means_last_year():
    assert parse_datetime("12月30日", NOW) == at(2025, 12, 30)


@pytest.mark.parametrize("text", ["", None, "garbage", "2026-13-45", "第3期"])
def test_unparseable_is_none(text):
    assert parse_datetime(text, NOW) is None


def test_labelled_time_beats_header_date():
    text = "首页 > 本地 2026年11月24日 星期二 发布时间：2026年11月18日 09:12 来源：九江在线"
    assert find_datetime(text, NOW) == at(2026, 11, 18, 9, 12)


def test_year_less_dates_only_in_loose_mode():
    body = "11月17日，有居民反映十里河河水发黑"
    assert find_datetime(body, NOW) is None
    assert find_datetime(body, NOW, loose=True) == at(2026, 11, 17)


def test_first_full_date_in_an_info_line():
    assert find_datetime("2026-11-18 09:12 来源：浔阳晚报 作者：张三", NOW) == at(2026, 11, 18, 9, 12)
