"""Alert levels: thresholds per level, and the one-level discount for far-away events."""
from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Annotated, Any

from pydantic import BeforeValidator, PlainSerializer

from index.schema import AlertLevel

LEVELS: tuple[AlertLevel, ...] = tuple(AlertLevel)


def _parse_thresholds(value: Any) -> dict[AlertLevel, float]:
    if not isinstance(value, Mapping) or not value:
        raise ValueError("give thresholds per level as a mapping, e.g. {蓝: 2.0, 黄: 3.0, 橙: 5.0, 红: 8.0}")
    parsed: dict[AlertLevel, float] = {}
    for key, raw in value.items():
        level = AlertLevel.parse(str(key))
        if isinstance(raw, bool) or not isinstance(raw, (int, float)):
            raise ValueError(f"threshold for {level.value} must be a number, got {raw!r}")
        parsed[level] = float(raw)
    ordered = sorted(parsed.items(), key=lambda item: item[0].rank)
    for (low, low_value), (high, high_value) in zip(ordered, ordered[1:], strict=False):
        if high_value <= low_value:
            raise ValueError(f"thresholds must rise with the level: {high.value} ({high_value:g}) "
                             f"is not above {low.value} ({low_value:g})")
    return dict(ordered)


def _dump_thresholds(value: dict[AlertLevel, float]) -> dict[str, float]:
    return {AlertLevel.parse(level).value: threshold for level, threshold in value.items()}


# A pydantic field type: {蓝: 2.0, 黄: 3.0, ...}; keys may also be blue/yellow/orange/red.
LevelThresholds = Annotated[dict[AlertLevel, float], BeforeValidator(_parse_thresholds),
                            PlainSerializer(_dump_thresholds)]


def level_for(value: float, thresholds: Mapping[AlertLevel, float]) -> AlertLevel | None:
    """The highest level whose threshold the value reaches; None below the lowest."""
    reached = [level for level, threshold in thresholds.items() if value >= threshold]
    return max(reached, key=lambda level: level.rank) if reached else None


def lower(level: AlertLevel | str) -> AlertLevel | None:
    """One level down; None below 蓝."""
    rank = AlertLevel.parse(level).rank
    return LEVELS[rank - 1] if rank > 0 else None


def higher_than(a: AlertLevel | str, b: AlertLevel | str) -> bool:
    return AlertLevel.parse(a).rank > AlertLevel.parse(b).rank


class RegionGrader:
    """Grades alerts outside the office's home region one level lower (a 蓝 outside drops).

    An alert whose region is unknown keeps its level: missing geography is no
    evidence that an event is far away.
    """

    def __init__(self, home_region: Iterable[str]):
        self.home_region = tuple(code for code in home_region if code)

    def is_home(self, region_code: str | None) -> bool:
        if not self.home_region or not region_code:
            return True
        return region_code.startswith(self.home_region)

    def grade(self, level: AlertLevel | str, region_code: str | None) -> AlertLevel | None:
        level = AlertLevel.parse(level)
        return level if self.is_home(region_code) else lower(level)
