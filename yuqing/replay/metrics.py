"""What a replay measured: which alert was about which cascade, detection delays, recall, false alerts.

Attribution uses the harness's ground truth only (post id → cascade), never the system's event
linking: a notification (an alert raised or escalated) is attributed to the cascade that holds at
least half of the alert's example posts (`Alert.post_ids`) at that moment; two cascades with half
each: the one with more, then the earlier placed. A cascade is detected at its first attributed
notification; its level is the highest level notified for it. An alert whose raise is attributed
to no cascade is a false alert.

Delays are in simulated minutes: from the original's publication (`delay_from_first_min`) and from
the moment its 100th repost appeared (`delay_after_100_min`; 0 when detected earlier). Medians and
p90 (linear interpolation) are over the detected cascades that reached 100 reposts (after_100) or
over all detected cascades (from_first); `recall_500` is the share of cascades reaching 500 reposts
on the timeline that were detected. Reach counts reposts that appeared on the timeline.
"""
from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field

import numpy as np

from index.schema import AlertLevel

from .timeline import PlacedCascade

REACH_EARLY, REACH_RECALL = 100, 500
NOTIFYING = ("new", "escalated")


@dataclass(frozen=True)
class Notification:
    at: float                     # epoch seconds of the evaluation tick
    alert_id: str
    rule: str
    kind: str                     # new | escalated
    level: str
    post_ids: tuple[str, ...]


@dataclass
class EventOutcome:
    cascade_id: str
    reach: int                            # reposts on the timeline
    published_at: float
    reached_100_at: float | None
    reached_500_at: float | None
    detected_at: float | None = None
    level: str | None = None
    alerts: list[str] = field(default_factory=list)

    @property
    def detected(self) -> bool:
        return self.detected_at is not None

    @property
    def delay_from_first_min(self) -> float | None:
        return None if self.detected_at is None else round((self.detected_at - self.published_at) / 60, 1)

    @property
    def delay_after_100_min(self) -> float | None:
        if self.detected_at is None or self.reached_100_at is None:
            return None
        return round(max(0.0, self.detected_at - self.reached_100_at) / 60, 1)

    def as_dict(self) -> dict:
        return {**asdict(self), "delay_from_first_min": self.delay_from_first_min,
                "delay_after_100_min": self.delay_after_100_min}


def attribute(post_ids: Sequence[str], truth: Mapping[str, int]) -> int | None:
    """The cascade holding at least half of `post_ids`, or None."""
    if not post_ids:
        return None
    counts = Counter(truth[p] for p in post_ids if p in truth)
    if not counts:
        return None
    cascade, n = min(counts.items(), key=lambda kv: (-kv[1], kv[0]))
    return cascade if 2 * n >= len(post_ids) else None


def outcomes(placed: Sequence[PlacedCascade], notifications: Iterable[Notification],
             truth: Mapping[str, int]) -> tuple[list[EventOutcome], list[str]]:
    """Per-cascade outcomes in placement order, and the ids of the false alerts."""
    events = [EventOutcome(pc.cascade.id, pc.reach, pc.start, pc.reach_time(REACH_EARLY), pc.reach_time(REACH_RECALL))
              for pc in placed]
    by_index = {pc.index: events[i] for i, pc in enumerate(placed)}
    false_alerts: list[str] = []
    for note in sorted(notifications, key=lambda n: (n.at, n.alert_id)):
        if note.kind not in NOTIFYING:
            continue
        cascade = attribute(note.post_ids, truth)
        event = by_index.get(cascade) if cascade is not None else None
        if event is None:
            if note.kind == "new":
                false_alerts.append(note.alert_id)
            continue
        if event.detected_at is None:
            event.detected_at = note.at
        if event.level is None or AlertLevel.parse(note.level).rank > AlertLevel.parse(event.level).rank:
            event.level = AlertLevel.parse(note.level).value
        if note.alert_id not in event.alerts:
            event.alerts.append(note.alert_id)
    return events, false_alerts


def percentile(values: Sequence[float], q: float) -> float | None:
    return round(float(np.percentile(values, q)), 1) if values else None


def summarize(events: Sequence[EventOutcome], false_alerts: Sequence[str], *, alerts_raised: int,
              sim_days: float) -> dict:
    """The overall figures (see the module docstring)."""
    reached_500 = [e for e in events if e.reached_500_at is not None]
    after_100 = [e.delay_after_100_min for e in events if e.delay_after_100_min is not None]
    from_first = [e.delay_from_first_min for e in events if e.delay_from_first_min is not None]
    detected_500 = sum(1 for e in reached_500 if e.detected)
    return {
        "cascades": len(events),
        "reached_100": sum(1 for e in events if e.reached_100_at is not None),
        "reached_500": len(reached_500),
        "detected": sum(1 for e in events if e.detected),
        "detected_500": detected_500,
        "recall_500": round(detected_500 / len(reached_500), 3) if reached_500 else None,
        "median_delay_after_100_min": percentile(after_100, 50),
        "p90_delay_after_100_min": percentile(after_100, 90),
        "median_delay_from_first_min": percentile(from_first, 50),
        "p90_delay_from_first_min": percentile(from_first, 90),
        "levels": dict(sorted(Counter(e.level for e in events if e.level).items(),
                              key=lambda kv: AlertLevel.parse(kv[0]).rank)),
        "alerts_raised": alerts_raised,
        "false_alerts": len(false_alerts),
        "false_alerts_per_day": round(len(false_alerts) / sim_days, 2) if sim_days else None,
    }
