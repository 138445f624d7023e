"""The inbox: crawled posts wait here, as JSONL batch files, until enrichment stores them.

It decouples crawling (child processes, any time) from enrichment (the service),
and survives crashes: a batch file appears atomically (write + rename) and is
removed only after the store has committed it. Replaying a batch is harmless
because post ids are stable and stores upsert.
"""
from __future__ import annotations

import json
import os
import time
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from pydantic import ValidationError

from index.schema import Post


@dataclass
class InboxBatch:
    path: Path
    posts: list[Post]
    rejected: list[tuple[int, str]]   # (line number, reason) for lines that failed validation


class Inbox:
    def __init__(self, directory: str | os.PathLike[str]):
        self.dir = Path(directory)
        self.dir.mkdir(parents=True, exist_ok=True)
        (self.dir / "rejected").mkdir(exist_ok=True)

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
        return final

    def pending(self) -> list[Path]:
        return sorted(self.dir.glob("*.jsonl"))

    def read(self, path: Path) -> InboxBatch:
        posts: list[Post] = []
        rejected: list[tuple[int, str]] = []
        with path.open(encoding="utf-8") as fh:
            for lineno, line in enumerate(fh, 1):
                if not line.strip():
                    continue
                try:
                    posts.append(Post.model_validate(json.loads(line)))
                except (json.JSONDecodeError, ValidationError) as exc:
                    rejected.append((lineno, str(exc).splitlines()[0]))
        return InboxBatch(path, posts, rejected)

    def batches(self) -> Iterator[InboxBatch]:
        for path in self.pending():
            yield self.read(path)

    def done(self, batch: InboxBatch) -> None:
        """Remove a committed batch; keep lines that failed validation for inspection."""
        if batch.rejected:
            kept = self.dir / "rejected" / batch.path.name
            os.replace(batch.path, kept)
        else:
            batch.path.unlink(missing_ok=True)
