"""The one place every stage asks "what time is it": the system clock, or a simulated one.

Crawl times (crawled_at, the seen-state stamps), enrichment stamps, event updates,
notification and briefing times and the shell's `Settings.now()` all read
`clock.now()`. The service never changes it. A simulation — `yuqing demo` replays
days of a demo internet in a minute — installs a `SimulatedClock` for its run, so
everything the jobs record carries the simulated time the service would have
recorded. The clock is process-wide (not per thread) on purpose: an in-process crawl
runs in Twisted's reactor thread and must read the same time as the job that started it.
"""
from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, tzinfo
from typing import Protocol


class Clock(Protocol):
    def now(self, tz: tzinfo) -> datetime: ...


class SystemClock:
    def now(self, tz: tzinfo) -> datetime:
        return datetime.now(tz)


class SimulatedClock:
    """Stands still at the time it was last set to; the simulation moves it forward."""

    def __init__(self, start: datetime):
        self._lock = threading.Lock()
        self._at = _checked(start)

    def set(self, when: datetime) -> None:
        when = _checked(when)
        with self._lock:
            if when < self._at:
                raise ValueError(f"a simulated clock only moves forward: {when.isoformat()} < {self._at.isoformat()}")
            self._at = when

    def now(self, tz: tzinfo) -> datetime:
        with self._lock:
            return self._at.astimezone(tz)


def _checked(when: datetime) -> datetime:
    if when.tzinfo is None:
        raise ValueError(f"a simulated time needs a zone: {when.isoformat()}")
    return when


_SYSTEM = SystemClock()
_current: Clock = _SYSTEM
_install_lock = threading.Lock()


def now(tz: tzinfo) -> datetime:
    """The current time in `tz` by the installed clock (the system clock unless a simulation runs)."""
    return _current.now(tz)


def simulated() -> bool:
    return _current is not _SYSTEM


@contextmanager
def use(clock: Clock) -> Iterator[Clock]:
    """Install `clock` for the block; one simulation at a time per process."""
    global _current
    with _install_lock:
        if _current is not _SYSTEM:
            raise RuntimeError("another clock is already installed in this process")
        _current = clock
    try:
        yield clock
    finally:
        with _install_lock:
            _current = _SYSTEM
