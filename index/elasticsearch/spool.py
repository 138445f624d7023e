"""A local on-disk spool for posts the store could not write yet.

When Elasticsearch is unreachable the store appends the posts here, one JSONL
file per batch, and replays them, oldest first, once it answers again. Files
are written atomically (temporary name, fsync, rename), so a crash leaves
either a whole batch or none; a batch is deleted only after the store has
written it, and post ids are stable, so replaying a batch twice never
duplicates a post. A line that no longer validates is moved aside to
`rejected/`, never dropped.
"""
from __future__ import annotations

import fcntl
import itertools
import logging
import os
import threading
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from pydantic import ValidationError

from ..schema import Post
from ..store import StoreError

logger = logging.getLogger(__name__)

SUFFIX = ".jsonl"


@dataclass
class SpoolBatch:
    path: Path
    posts: list[Post] = field(default_factory=list)
    rejected: list[tuple[int, str]] = field(default_factory=list)   # (line number, reason)


class Spool:
    """FIFO of post batches in one folder. Safe across threads and processes."""

    def __init__(self, directory: str | os.PathLike[str]):
        self.directory = Path(directory)
        self._seq = itertools.count()
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"Spool({str(self.directory)!r})"

    def _ensure_dir(self) -> None:
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StoreError(f"cannot create the spool folder {self.directory}: {exc}") from exc

    def append(self, posts: Iterable[Post]) -> int:
        """Write posts as one batch; returns how many were spooled."""
        lines = [p.model_dump_json() for p in posts]
        if not lines:
            return 0
        self._ensure_dir()
        with self._lock:
            name = f"{time.time_ns():020d}-{os.getpid()}-{next(self._seq):06d}{SUFFIX}"
        final = self.directory / name
        partial = self.directory / f".{name}.tmp"
        try:
            with partial.open("w", encoding="utf-8") as f:
                f.write("\n".join(lines) + "\n")
                f.flush()
                os.fsync(f.fileno())
            partial.replace(final)
        except OSError as exc:
            partial.unlink(missing_ok=True)
            raise StoreError(f"cannot write to the spool {self.directory}: {exc}") from exc
        logger.warning("posts spooled; they will be written when the store is back",
                       extra={"posts": len(lines), "file": name})
        return len(lines)

    def files(self) -> list[Path]:
        if not self.directory.is_dir():
            return []
        return sorted(p for p in self.directory.iterdir() if p.is_file() and p.name.endswith(SUFFIX)
                      and not p.name.startswith("."))

    def pending(self) -> int:
        """Posts waiting in the spool."""
        total = 0
        for path in self.files():
            try:
                with path.open("rb") as f:
                    total += sum(1 for line in f if line.strip())
            except FileNotFoundError:   # replayed meanwhile by another process
                continue
        return total

    def __bool__(self) -> bool:
        return bool(self.files())

    def batches(self) -> Iterator[SpoolBatch]:
        """Spooled batches, oldest first. Call done(batch) once a batch is stored."""
        for path in self.files():
            try:
                text = path.read_text(encoding="utf-8")
            except FileNotFoundError:
                continue
            except (OSError, UnicodeDecodeError) as exc:
                self._reject_file(path, str(exc))
                continue
            batch = SpoolBatch(path)
            for lineno, line in enumerate(text.splitlines(), 1):
                if not line.strip():
                    continue
                try:
                    batch.posts.append(Post.model_validate_json(line))
                except ValidationError as exc:
                    batch.rejected.append((lineno, str(exc)[:500]))
            if batch.rejected:
                self._keep_rejected(batch, text)
            yield batch

    def done(self, batch: SpoolBatch) -> None:
        batch.path.unlink(missing_ok=True)

    @contextmanager
    def replay_lock(self) -> Iterator[bool]:
        """Yields True when this process may replay now (no other process is replaying)."""
        self._ensure_dir()
        with (self.directory / ".replay.lock").open("a") as handle:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                yield False
                return
            try:
                yield True
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    def _rejected_dir(self) -> Path:
        folder = self.directory / "rejected"
        folder.mkdir(parents=True, exist_ok=True)
        return folder

    def _keep_rejected(self, batch: SpoolBatch, text: str) -> None:
        lines = text.splitlines()
        bad = "\n".join(lines[n - 1] for n, _ in batch.rejected) + "\n"
        target = self._rejected_dir() / batch.path.name
        if not target.exists():
            target.write_text(bad, encoding="utf-8")
        for lineno, reason in batch.rejected:
            logger.error("spooled post no longer validates; moved aside",
                         extra={"file": str(target), "line": lineno, "reason": reason})

    def _reject_file(self, path: Path, reason: str) -> None:
        target = self._rejected_dir() / path.name
        try:
            path.replace(target)
        except OSError:
            return
        logger.error("unreadable spool file moved aside", extra={"file": str(target), "reason": reason})
