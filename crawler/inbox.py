"""The inbox: crawled posts wait here, as JSONL batch files, until enrichment stores them.

It decouples crawling (child processes, any time) from enrichment (the service),
and survives crashes: a batch file appears atomically (write, fsync, rename,
fsync of the folder) and is removed only after the store has committed it.
Replaying a batch is harmless because post ids are stable and stores upsert.

    inbox_dir/NAME.jsonl                       pending
    inbox_dir/claimed/<host>-<pid>/NAME.jsonl  being drained by that process (crawler.claims)
    inbox_dir/quarantine/NAME.jsonl            failed enrichment; NAME.reason.json says why
    inbox_dir/rejected/NAME.jsonl              stored, but some lines were invalid; NAME.reason.json lists them

A batch that fails for a reason of its own is quarantined so the queue never
jams behind it; `yuqing inbox retry` puts it back.
"""
from __future__ import annotations

import json
import logging
import os
import time
import traceback
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from index.schema import Post, now

from .claims import owner_name, stale_claim_dirs
from .inbox_lines import parse_batch

logger = logging.getLogger(__name__)

CLAIMED, QUARANTINE, REJECTED = "claimed", "quarantine", "rejected"
REASON_SUFFIX = ".reason.json"


@dataclass
class InboxBatch:
    path: Path
    posts: list[Post]
    rejected: list[tuple[int, str]]   # (line number, reason) for lines that failed decoding or validation

    @property
    def name(self) -> str:
        return self.path.name


@dataclass
class InboxStatus:
    """File names per state, for `yuqing inbox list`."""
    pending: list[str] = field(default_factory=list)
    claimed: list[str] = field(default_factory=list)       # "<host>-<pid>/NAME.jsonl"
    quarantined: list[str] = field(default_factory=list)
    rejected: list[str] = field(default_factory=list)

    def counts(self) -> dict[str, int]:
        return {k: len(v) for k, v in self.__dict__.items()}


def fsync_dir(folder: Path) -> None:
    """Make a rename in `folder` durable: without it a crash can bring the old name back."""
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def reason_path(batch_path: Path) -> Path:
    return batch_path.with_name(batch_path.name.removesuffix(".jsonl") + REASON_SUFFIX)


def _write_json(path: Path, data: dict) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    with tmp.open("w", encoding="utf-8") as fh:
        json.dump(data, fh, ensure_ascii=False, indent=2)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def _move(src: Path, dest_dir: Path) -> Path | None:
    """Atomic rename into dest_dir; None when src is already gone (another process took it)."""
    dest = dest_dir / src.name
    try:
        os.replace(src, dest)
    except FileNotFoundError:
        return None
    fsync_dir(dest_dir)
    return dest


class Inbox:
    def __init__(self, directory: str | os.PathLike[str]):
        self.dir = Path(directory)
        self.dir.mkdir(parents=True, exist_ok=True)
        for sub in (REJECTED, QUARANTINE, CLAIMED):
            (self.dir / sub).mkdir(exist_ok=True)

    @property
    def claim_dir(self) -> Path:
        """This process's claim folder (created on first claim)."""
        return self.dir / CLAIMED / owner_name()

    # --- writing -------------------------------------------------------------
    def write(self, posts: Iterable[Post], source: str = "batch") -> Path | None:
        """Write posts as one batch file; returns its path (None when there was nothing)."""
        lines = [p.model_dump_json() for p in posts]
        if not lines:
            return None
        name = f"{time.strftime('%Y%m%dT%H%M%S')}-{source}-{uuid.uuid4().hex[:8]}.jsonl"
        tmp = self.dir / f".{name}.tmp"
        with tmp.open("w", encoding="utf-8") as fh:
            fh.write("\n".join(lines) + "\n")
            fh.flush()
            os.fsync(fh.fileno())
        final = self.dir / name
        os.replace(tmp, final)
        fsync_dir(self.dir)
        return final

    # --- reading -------------------------------------------------------------
    def pending(self) -> list[Path]:
        return sorted(self.dir.glob("*.jsonl"))

    def read(self, path: Path) -> InboxBatch:
        """Decode and validate line by line; bad lines are rejected with their number, never raised."""
        posts, rejected = parse_batch(Path(path).read_bytes())
        return InboxBatch(Path(path), posts, rejected)

    def batches(self) -> Iterator[InboxBatch]:
        """Pending batches read in place, unclaimed (for inspection; drainers use claim())."""
        for path in self.pending():
            yield self.read(path)

    # --- draining --------------------------------------------------------------
    def claim(self, path: Path) -> Path | None:
        """Move a pending batch into this process's claim folder; None if another process got it first."""
        self.claim_dir.mkdir(parents=True, exist_ok=True)
        return _move(Path(path), self.claim_dir)

    def recover_stale_claims(self) -> list[str]:
        """Return batches claimed by dead processes of this host to the inbox; their names."""
        recovered = []
        for folder in stale_claim_dirs(self.dir / CLAIMED):
            for path in sorted(folder.glob("*.jsonl")):
                if _move(path, self.dir) is not None:
                    recovered.append(path.name)
                    logger.warning("stale claim returned to the inbox",
                                   extra={"file": path.name, "owner": folder.name})
            try:
                folder.rmdir()
            except OSError:
                pass   # not empty (a file arrived meanwhile) or already removed by another drainer
        return recovered

    def release(self, batch: InboxBatch) -> None:
        """Put a claimed batch back, untouched, for a later run (store unavailable, interrupted)."""
        if batch.path.parent != self.dir:
            _move(batch.path, self.dir)

    def done(self, batch: InboxBatch) -> None:
        """Remove a committed batch; keep one with rejected lines in rejected/, with the reasons beside it."""
        stale_reason = reason_path(self.dir / QUARANTINE / batch.name)   # from an earlier quarantine
        if batch.rejected:
            kept = _move(batch.path, self.dir / REJECTED)
            if kept is not None:
                _write_json(reason_path(kept), {
                    "file": batch.name, "time": now().isoformat(),
                    "rejected": [{"line": n, "reason": why} for n, why in batch.rejected]})
        else:
            batch.path.unlink(missing_ok=True)
        stale_reason.unlink(missing_ok=True)

    def quarantine(self, path: Path, exc: BaseException) -> Path | None:
        """Set a batch aside with NAME.reason.json (error, message, traceback tail, time, attempts)."""
        folder = self.dir / QUARANTINE
        reason = reason_path(folder / Path(path).name)
        attempts = 1
        try:
            attempts = int(json.loads(reason.read_text(encoding="utf-8")).get("attempts", 0)) + 1
        except (OSError, ValueError, AttributeError):
            pass
        tail = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))[-4000:]
        _write_json(reason, {"file": Path(path).name, "error": type(exc).__name__, "message": str(exc)[:2000],
                             "traceback": tail, "time": now().isoformat(), "attempts": attempts})
        return _move(Path(path), folder)

    def retry(self, names: Iterable[str] = ()) -> list[str]:
        """Move quarantined batches (default: all) back into the inbox; their reason files stay as history.

        Raises KeyError naming any requested batch that is not in quarantine.
        """
        folder = self.dir / QUARANTINE
        available = {p.name: p for p in folder.glob("*.jsonl")}
        wanted = [n if n.endswith(".jsonl") else f"{n}.jsonl" for n in names] or sorted(available)
        missing = [n for n in wanted if n not in available]
        if missing:
            raise KeyError(f"not in {folder}: {', '.join(missing)}")
        return [n for n in wanted if _move(available[n], self.dir) is not None]

    def status(self) -> InboxStatus:
        claimed_root = self.dir / CLAIMED
        return InboxStatus(
            pending=[p.name for p in self.pending()],
            claimed=sorted(str(p.relative_to(claimed_root)) for p in claimed_root.glob("*/*.jsonl")),
            quarantined=sorted(p.name for p in (self.dir / QUARANTINE).glob("*.jsonl")),
            rejected=sorted(p.name for p in (self.dir / REJECTED).glob("*.jsonl")),
        )
