"""The service's schedule replayed in simulated time: every job's fire times, in the order they fall.

`yuqing demo` uses this to run days of monitoring in a minute. The jobs are the
service's own (`service.job_specs`, the same `Schedule`s from sources.yaml and
app.yaml, the same APScheduler triggers via `service.trigger_for`); only time is
different: a `SimulatedClock` (index/clock.py) stands at each firing while its job
runs, so what the jobs record (crawled_at, seen-state stamps, enrichment and alert
times, the briefing's period) is what the service would have recorded then.

Differences from the service, on purpose: jobs take no simulated time and never
overlap (at one instant crawls run first, then enrichment, warnings, the briefing,
the way data flows); interval jitter is dropped so a replay is reproducible.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta, tzinfo
from itertools import groupby
from typing import Iterator

from .service import JobSpec, trigger_for

# At one instant, jobs run in the order data flows through them.
_RANK = {"crawl": 0, "enrich": 1, "warning": 2, "briefing": 3}


@dataclass(frozen=True, order=True)
class Firing:
    at: datetime
    rank: int
    job: str
    spec: JobSpec = field(compare=False)

    @property
    def kind(self) -> str:
        return self.job.split(":", 1)[0]


def fire_times(spec: JobSpec, tz: tzinfo, start: datetime, end: datetime) -> list[datetime]:
    """When the service, started at `start`, would run this job up to `end` (inclusive)."""
    trigger = trigger_for(spec.schedule, tz, start=start, jitter=False)
    times = [start] if spec.run_at_start else []
    previous = start if spec.run_at_start else None
    current = start
    while True:
        nxt = trigger.get_next_fire_time(previous, current)
        if nxt is None or nxt > end:
            return times
        if not times or nxt > times[-1]:
            times.append(nxt)
        previous, current = nxt, nxt + timedelta(microseconds=1)


def firings(specs: list[JobSpec], tz: tzinfo, start: datetime, end: datetime) -> list[Firing]:
    """All firings of all jobs between start and end, in time order (ties: crawl, enrich, warning, briefing)."""
    out = [Firing(at, _RANK.get(spec.id.split(":", 1)[0], len(_RANK)), spec.id, spec)
           for spec in specs for at in fire_times(spec, tz, start, end)]
    out.sort()
    return out


def instants(planned: list[Firing]) -> Iterator[tuple[datetime, list[Firing]]]:
    """The firings grouped by instant, each group in run order."""
    for at, group in groupby(planned, key=lambda f: f.at):
        yield at, list(group)
