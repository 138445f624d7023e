"""Alert levels: thresholds per level, raises for reach, spread and negativity, and the one-level
discount for far-away events."""
from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated, Any

from pydantic import BeforeValidator, PlainSerializer

from index.schema import AlertExample, AlertLevel
from index.store import PostIndex

from .config import GradingSettings
from .labels import platform_label

if TYPE_CHECKING:  # pragma: no cover
    from .rules import Finding

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


def higher(level: AlertLevel | str) -> AlertLevel | None:
    """One level up; None above 红."""
    rank = AlertLevel.parse(level).rank
    return LEVELS[rank + 1] if rank + 1 < len(LEVELS) else None


# --- raises for reach, spread and negativity (rules.yaml `grading:`) -------
NEGATIVE = "负面"


@dataclass(frozen=True)
class Raise:
    """A condition of `grading:` that a finding meets: one level up (within max_raise)."""
    kind: str        # reach / spread / negativity
    reason: str      # with the numbers, for the explanation


def count_text(n: float) -> str:
    """A head count as it reads: 8600, 1.2万, 350万."""
    if n >= 10_000:
        return f"{n / 10_000:.1f}".rstrip("0").rstrip(".") + "万"
    return f"{n:g}"


class LevelAdjuster:
    """Which `grading:` raises a finding earns. Store aggregations only (platform terms, two counts);
    reach reads the finding's example posts, which the describer already fetched."""

    def __init__(self, settings: GradingSettings):
        self.settings = settings

    def raises(self, store: PostIndex, finding: Finding, examples: Sequence[AlertExample]) -> list[Raise]:
        s = self.settings
        if not s.any:
            return []
        found = [r for r in (self._reach(examples), self._spread(store, finding), self._negativity(store, finding))
                 if r is not None]
        return found

    def _reach(self, examples: Sequence[AlertExample]) -> Raise | None:
        reach = self.settings.reach
        if reach is None or not examples:
            return None
        if reach.min_followers is not None:
            top = max(examples, key=lambda e: e.followers or 0)
            if (top.followers or 0) >= reach.min_followers:
                who = f"「{top.author}」" if top.author else ""
                return Raise("reach", f"传播力：代表性信息作者{who}粉丝{count_text(top.followers or 0)}，"
                                      f"达到{count_text(reach.min_followers)}")
        if reach.min_engagement is not None:
            top = max(examples, key=lambda e: e.engagement)
            if top.engagement >= reach.min_engagement:
                return Raise("reach", f"传播力：代表性信息互动{count_text(top.engagement)}次（转评赞），"
                                      f"达到{count_text(reach.min_engagement)}次")
        return None

    def _spread(self, store: PostIndex, finding: Finding) -> Raise | None:
        spread = self.settings.spread
        if spread is None:
            return None
        buckets = [b for b in store.terms(finding.query, "platform", size=20) if b.count >= spread.min_posts_per_platform]
        if len(buckets) < spread.min_platforms:
            return None
        names = "、".join(platform_label(b.key) for b in buckets)
        each = f"各至少{spread.min_posts_per_platform}条" if spread.min_posts_per_platform > 1 else ""
        return Raise("spread", f"扩散：信息见于{len(buckets)}个平台（{names}）{each}，达到{spread.min_platforms}个")

    def _negativity(self, store: PostIndex, finding: Finding) -> Raise | None:
        negativity = self.settings.negativity
        if negativity is None or finding.value_key == "negative_share":   # graded on it already
            return None
        enriched = dataclasses.replace(finding.query, enriched=True)
        total = store.count(enriched)
        negative = store.count(dataclasses.replace(enriched, polarities=(NEGATIVE,))) if total else 0
        if not total or negative < negativity.min_negative or negative / total < negativity.min_share:
            return None
        return Raise("negativity", f"负面程度：负面信息{negative}条，占{negative / total:.0%}，"
                                   f"达到{negativity.min_share:.0%}")
