"""The simulated timeline: a diurnal posting profile, cascades placed on it, and the posts they become.

Placement keeps each cascade's own timing: the original lands at a random moment drawn with the
diurnal profile (seeded, so the same seed gives the same timeline) and every repost follows it by
the delay it had in the data; reposts past the end of the timeline are cut. The ground truth —
which post belongs to which cascade — is kept here, apart from anything the system computes, so
attribution never depends on the system's own event linking.

Post ids: the original is `weibo:<cascade id>`, a repost `weibo:<mid>` (`weibo:<mid>.<n>` if two
cascades share a mid). A repost's text is its comment, or 转发微博 when it has none, as Weibo shows
it; `parent_id` is the post it reposts (the original when `parent` is empty), `root_id` the original.
"""
from __future__ import annotations

import bisect
import random
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta, tzinfo

from index.schema import Author, Engagement, Post

from .cascades import Cascade

# Relative posting rate per hour of the day (office time), 00:00–23:00. Shaped after the hours of the
# CED reposts (../shared/data/weibo_propagation): quiet 02–06, a late-morning peak (10–11 h) and the
# day's highest rate in the evening (20–22 h). Normalised to shares of a day where used.
DIURNAL = (0.9, 0.5, 0.3, 0.2, 0.2, 0.3, 0.6, 1.0, 1.4, 1.7, 1.8, 1.8,
           1.5, 1.4, 1.4, 1.4, 1.4, 1.5, 1.5, 1.6, 1.8, 2.0, 2.0, 1.5)
REPOST_TEXT = "转发微博"
CASCADE_SOURCE = "replay_weibo"
PLATFORM = "weibo"


class DiurnalProfile:
    def __init__(self, weights: Sequence[float] = DIURNAL):
        if len(weights) != 24 or min(weights) < 0 or not sum(weights):
            raise ValueError("a diurnal profile needs 24 non-negative hourly weights, not all zero")
        total = float(sum(weights))
        self.shares = tuple(w / total for w in weights)
        self._cumulative = [sum(self.shares[: h + 1]) for h in range(24)]

    def draw(self, rng: random.Random, start: datetime, days: int) -> datetime:
        """A moment in [start, start + days), start being a local midnight: day uniform, hour by the profile."""
        day = rng.randrange(days)
        hour = min(23, bisect.bisect_left(self._cumulative, rng.random() * self._cumulative[-1]))
        return start + timedelta(days=day, hours=hour, seconds=rng.random() * 3600)

    def expected(self, per_day: float) -> list[float]:
        """Posts expected in each hour of a day with `per_day` posts."""
        return [per_day * s for s in self.shares]


@dataclass
class PlacedCascade:
    index: int
    cascade: Cascade
    start: float                         # epoch of the original on the simulated timeline
    times: list[float]                   # epochs of the reposts kept (inside the timeline), ascending
    original_id: str
    repost_ids: list[str] = field(default_factory=list)
    mids: dict[str, int] = field(default_factory=dict)     # mid → index of the kept repost

    def reach_time(self, n: int) -> float | None:
        """When the nth repost (1-based) appeared on the timeline, None if it never did."""
        return self.times[n - 1] if len(self.times) >= n else None

    @property
    def reach(self) -> int:
        return len(self.times)


def place_cascades(cascades: Sequence[Cascade], start: datetime, days: int, *, seed: int = 0,
                   profile: DiurnalProfile | None = None) -> list[PlacedCascade]:
    """Every cascade's original at a seeded random moment of [start, start + days); reposts after it
    by their own delays, cut at the end."""
    profile = profile or DiurnalProfile()
    rng = random.Random(f"cascades:{seed}")
    end = (start + timedelta(days=days)).timestamp()
    used: set[str] = set()
    placed = []
    for index, cascade in enumerate(cascades):
        t0 = profile.draw(rng, start, days).timestamp()
        original_id = _unique(f"{PLATFORM}:{cascade.id}", used)
        times, ids = [], []
        for repost in cascade.reposts:
            at = t0 + repost.offset_s
            if at >= end:
                break                        # sorted by offset: the rest are later still
            times.append(at)
            ids.append(_unique(f"{PLATFORM}:{repost.mid}", used))
        mids = {r.mid: i for i, r in enumerate(cascade.reposts[: len(ids)])}
        placed.append(PlacedCascade(index, cascade, t0, times, original_id, ids, mids))
    return placed


def _unique(candidate: str, used: set[str]) -> str:
    out, n = candidate, 1
    while out in used:
        n += 1
        out = f"{candidate}.{n}"
    used.add(out)
    return out


def ground_truth(placed: Sequence[PlacedCascade]) -> dict[str, int]:
    """post id → index of its cascade, for every post a cascade puts on the timeline."""
    truth: dict[str, int] = {}
    for pc in placed:
        truth[pc.original_id] = pc.index
        for post_id in pc.repost_ids:
            truth[post_id] = pc.index
    return truth


# --- posts ------------------------------------------------------------------------------
def original_post(pc: PlacedCascade, tz: tzinfo, crawled_at: datetime) -> Post:
    c = pc.cascade
    return Post(id=pc.original_id, platform=PLATFORM, source=CASCADE_SOURCE, content=c.text,
                author=Author(followers=c.followers, verified=c.verified, location=c.location),
                published_at=datetime.fromtimestamp(pc.start, tz), crawled_at=crawled_at,
                root_id=pc.original_id)


def repost_post(pc: PlacedCascade, i: int, tz: tzinfo, crawled_at: datetime) -> Post:
    repost = pc.cascade.reposts[i]
    parent = pc.original_id
    if repost.parent:
        parent = _parent_id(pc, repost.parent)
    return Post(id=pc.repost_ids[i], platform=PLATFORM, source=CASCADE_SOURCE, content=repost.text or REPOST_TEXT,
                author=Author(id=repost.uid), published_at=datetime.fromtimestamp(pc.times[i], tz),
                crawled_at=crawled_at, parent_id=parent, root_id=pc.original_id)


def _parent_id(pc: PlacedCascade, mid: str) -> str:
    index = pc.mids.get(mid)
    if index is None:                 # the parent was cut (stamped after its child, past the end)
        return f"{PLATFORM}:{mid}"
    return pc.repost_ids[index]


def engagement_at(pc: PlacedCascade, reposts_so_far: int) -> Engagement:
    """The original's counters as a re-crawl would see them: the reposts so far, comments and likes
    grown in the same proportion towards the counts the data reports."""
    final = max(pc.cascade.reposts_reported, len(pc.cascade.reposts), 1)
    share = min(1.0, reposts_so_far / final)
    return Engagement(reposts=reposts_so_far, comments=round(pc.cascade.comments_reported * share),
                      likes=round(pc.cascade.likes_reported * share))
