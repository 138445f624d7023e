"""Cross-process locks (flock on a file under data_dir/locks/) for work two processes must not do at once.

The service and a manual `yuqing warn` (or two cron'd ones) may evaluate the
rules at the same moment. Alert reconciliation reads an episode's state, decides
"new / escalated / notify", writes it back and sends: two processes interleaving
there would raise the same alert twice or send one notification twice. One
holder at a time makes each reconciliation atomic. flock is released by the
kernel when the holder dies, so a crash never leaves a stale lock behind.

Scope: processes sharing one data_dir on one machine (the embedded deployment,
and the service with its CLI next to it). Several hosts against one
Elasticsearch cluster need a lease in the store instead.
"""
from __future__ import annotations

import fcntl
import logging
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

log = logging.getLogger(__name__)


class LockTimeout(TimeoutError):
    """Another process held the lock for longer than we were willing to wait."""


@contextmanager
def process_lock(path: str | os.PathLike[str], *, timeout_s: float = 600.0, poll_s: float = 0.05) -> Iterator[None]:
    """Hold an exclusive lock on `path` (created if needed); wait up to timeout_s for it."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        deadline = time.monotonic() + timeout_s
        waited = False
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if not waited:
                    log.info("waiting for lock held by another process", extra={"lock": str(path)})
                    waited = True
                if time.monotonic() >= deadline:
                    raise LockTimeout(f"{path}: still held by another process after {timeout_s:.0f} s") from None
                time.sleep(poll_s)
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        try:
            yield
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)
