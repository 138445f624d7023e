"""What earlier crawls already delivered: post id → content hash, in a small SQLite file.

A post is skipped only when it was seen *unchanged*; new engagement counts, a
new board reply or an edited article change the hash and pass again. Entries
are recorded only after their batch reached the inbox, so a crash before that
means the post is simply crawled again next time. Several crawl processes may
share the file (the scheduler runs sources in parallel): WAL mode and a busy
timeout let them take turns.
"""
from __future__ import annotations

import hashlib
import json
import logging
import os
import sqlite3
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from datetime import timezone
from pathlib import Path

from index import clock
from index.schema import Post

logger = logging.getLogger(__name__)

STATE_FILE = "crawl_state.sqlite3"
_SCHEMA = """
CREATE TABLE IF NOT EXISTS seen (
    post_id      TEXT PRIMARY KEY,
    content_hash TEXT NOT NULL,
    source       TEXT NOT NULL,
    first_seen   TEXT NOT NULL,
    last_changed TEXT NOT NULL
)
"""
# Incremental crawls (YUQING_INCREMENTAL): what each list row showed when its post was last
# delivered or found unchanged; a row that still shows the same needs no new fetch of its page.
_LISTED_SCHEMA = """
CREATE TABLE IF NOT EXISTS listed (
    url      TEXT PRIMARY KEY,
    row_hash TEXT NOT NULL,
    stamp    TEXT NOT NULL
)
"""
# Keys in Post.extra that describe the crawl, not the post; they must not make a post "changed".
_VOLATILE_EXTRA = frozenset({"date_missing", "date_raw"})


def content_hash(post: Post) -> str:
    """Hash of what a reader would see change. crawled_at never counts; neither does
    published_at when it was only a stand-in (date_missing), or every crawl would differ."""
    payload = post.model_dump(mode="json", include={"title", "content", "url", "author", "engagement",
                                                    "published_at", "extra"})
    if post.extra.get("date_missing"):
        payload.pop("published_at", None)
    payload["extra"] = {k: v for k, v in payload.get("extra", {}).items() if k not in _VOLATILE_EXTRA}
    blob = json.dumps(payload, ensure_ascii=False, sort_keys=True, default=str)
    return hashlib.sha1(blob.encode("utf-8")).hexdigest()


class SeenState:
    def __init__(self, path: str | os.PathLike[str], timeout: float = 30.0):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            self._db = sqlite3.connect(self.path, timeout=timeout, isolation_level=None)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.execute(_SCHEMA)
            self._db.execute(_LISTED_SCHEMA)
        except sqlite3.DatabaseError as exc:
            raise RuntimeError(f"crawl state file {self.path} is unusable ({exc}); "
                               f"delete it to start afresh (posts will be re-sent once)") from None

    def is_unchanged(self, post_id: str, digest: str) -> bool:
        row = self._db.execute("SELECT content_hash FROM seen WHERE post_id = ?", (post_id,)).fetchone()
        return row is not None and row[0] == digest

    def known_hash(self, post_id: str) -> str | None:
        row = self._db.execute("SELECT content_hash FROM seen WHERE post_id = ?", (post_id,)).fetchone()
        return row[0] if row else None

    def remember(self, entries: Iterable[tuple[str, str, str]]) -> int:
        """Record (post_id, content_hash, source) triples in one transaction; returns how many."""
        stamp = clock.now(timezone.utc).isoformat(timespec="seconds")
        rows = [(pid, digest, source, stamp, stamp) for pid, digest, source in entries]
        if not rows:
            return 0
        with self._transaction():
            self._db.executemany(
                "INSERT INTO seen (post_id, content_hash, source, first_seen, last_changed) VALUES (?, ?, ?, ?, ?) "
                "ON CONFLICT(post_id) DO UPDATE SET content_hash = excluded.content_hash, "
                "last_changed = excluded.last_changed WHERE seen.content_hash != excluded.content_hash",
                rows)
        return len(rows)

    def known_ids(self, post_ids: Iterable[str]) -> set[str]:
        """Which of these posts an earlier crawl delivered."""
        ids = list(dict.fromkeys(post_ids))
        if not ids:
            return set()
        marks = ",".join("?" * len(ids))
        return {row[0] for row in self._db.execute(f"SELECT post_id FROM seen WHERE post_id IN ({marks})", ids)}

    def row_unchanged(self, url: str, row_hash: str) -> bool:
        row = self._db.execute("SELECT row_hash FROM listed WHERE url = ?", (url,)).fetchone()
        return row is not None and row[0] == row_hash

    def remember_rows(self, rows: Iterable[tuple[str, str]]) -> int:
        """Record (list row URL, row hash) pairs whose posts are safely delivered."""
        stamp = clock.now(timezone.utc).isoformat(timespec="seconds")
        data = [(url, digest, stamp) for url, digest in rows]
        if not data:
            return 0
        with self._transaction():
            self._db.executemany("INSERT INTO listed (url, row_hash, stamp) VALUES (?, ?, ?) ON CONFLICT(url) "
                                 "DO UPDATE SET row_hash = excluded.row_hash, stamp = excluded.stamp", data)
        return len(data)

    def remember_posts(self, posts: Iterable[Post]) -> int:
        return self.remember((p.id, content_hash(p), p.source) for p in posts)

    def count(self) -> int:
        return self._db.execute("SELECT COUNT(*) FROM seen").fetchone()[0]

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> "SeenState":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextmanager
    def _transaction(self) -> Iterator[None]:
        # IMMEDIATE takes the write lock up front, so concurrent crawls queue instead of deadlocking
        self._db.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        self._db.execute("COMMIT")
