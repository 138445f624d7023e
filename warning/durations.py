"""Durations written in configs as short strings: 30m, 6h, 2d, 1w."""
from __future__ import annotations

import re
from datetime import timedelta
from typing import Annotated, Any

from pydantic import BeforeValidator, PlainSerializer

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([mhdw])\s*$")
_UNITS = {"m": timedelta(minutes=1), "h": timedelta(hours=1), "d": timedelta(days=1), "w": timedelta(weeks=1)}
_CN_UNITS = (("w", timedelta(weeks=1), "周"), ("d", timedelta(days=1), "天"),
             ("h", timedelta(hours=1), "小时"), ("m", timedelta(minutes=1), "分钟"))


def parse_duration(value: str | timedelta) -> timedelta:
    """'30m' → 30 minutes, '6h' → 6 hours, '2d' → 2 days, '1w' → 1 week. Must be positive."""
    if isinstance(value, timedelta):
        delta = value
    elif isinstance(value, str) and (match := _DURATION.match(value)):
        delta = float(match.group(1)) * _UNITS[match.group(2)]
    else:
        raise ValueError(f"invalid duration {value!r}; use e.g. 30m, 6h, 2d")
    if delta <= timedelta(0):
        raise ValueError(f"duration {value!r} must be positive; use e.g. 30m, 6h, 2d")
    return delta


def format_duration(delta: timedelta) -> str:
    """The config spelling of a duration: 6h, 2d, 90m."""
    for suffix, unit, _ in _CN_UNITS:
        if delta % unit == timedelta(0):
            return f"{delta // unit}{suffix}"
    return f"{int(delta.total_seconds() // 60)}m"


def humanize_duration(delta: timedelta) -> str:
    """Chinese reading of a duration for titles and summaries: 6小时, 2天, 30分钟."""
    for _, unit, label in _CN_UNITS:
        if delta % unit == timedelta(0):
            return f"{delta // unit}{label}"
    return f"{int(delta.total_seconds() // 60)}分钟"


def _validate(value: Any) -> timedelta:
    return parse_duration(value)


# A pydantic field type: accepts '6h'-style strings, holds a timedelta, dumps back to '6h'.
Duration = Annotated[timedelta, BeforeValidator(_validate), PlainSerializer(format_duration, return_type=str)]
