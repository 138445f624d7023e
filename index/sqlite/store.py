"""The embedded backend: the Store interface on one SQLite file (WAL, FTS5, jieba).

Layout (schema version SCHEMA_VERSION, built by index.sqlite.migrations; rows by index.sqlite.rows):
  posts       one small row per post with the columns every filter, sort and group reads
  post_docs   the full Post JSON, kept apart so scans and aggregations touch small rows only
  posts_fts   FTS5 over jieba-segmented text: title, body, and "extra" words that match but are
              not shown (search-mode sub-words, enrichment's tokens where they cut differently)
  post_terms  distinct tokens / keywords / scheme tags per post, for hot-word counts and scheme filters
  alerts      Alert JSON with the columns list_alerts filters on
  events      Event JSON with the columns list_events filters on
  state       key/value pairs (scheduler cursors, crawl checkpoints)

Times are stored as epoch seconds (UTC, REAL so sub-second windows stay exact) and
returned as aware datetimes in the store's time zone (Asia/Shanghai unless configured),
in which histogram buckets are aligned too (index.buckets). Each thread gets its own connection; WAL
lets readers in any thread or process run while one writer commits.
"""
from __future__ import annotations

import dataclasses
import json
import logging
import math
import sqlite3
import threading
import time
import weakref
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal
from zoneinfo import ZoneInfo

from pydantic import ValidationError

from ..buckets import (
    INTERVAL_SECONDS, WEEK_ANCHOR_S, bucket_bounds, check_interval, dense_buckets, offset_spans, time_zone,
    wall_bucket_epoch,
)
from ..highlight import highlight_text
from ..schema import Alert, Event, Post, status_values
from ..segment import Segmenter, get_segmenter
from ..store import (
    KEYWORD_FIELDS, Bucket, Interval, Overview, PostQuery, SearchHit, SearchResult, Store, StoreError,
    StoreUnavailable, TimeBucket, UpsertReport,
)
from .fts import CLOSE, OPEN, FtsQueryBuilder, render_snippet
from .migrations import migrate
from .querysql import SqlQueryCompiler, SqlText
from .rows import TERM_KINDS, UPSERT_POST, PostIndexer, PreparedPost, epoch, load_alert, load_event, load_post, value

if TYPE_CHECKING:  # pragma: no cover
    from ..config import StoreSettings

logger = logging.getLogger(__name__)

# Store keyword field -> posts column. province/city/district group by name; region_code
# is the most specific code a post has (district, else city, else province).
FIELD_COLUMNS: dict[str, str] = {
    "platform": "platform", "source": "source", "sentiment": "sentiment", "polarity": "polarity",
    "emotion": "emotion",
    "topic": "topic", "province": "province", "city": "city", "district": "district",
    "region_code": "region_code", "event_id": "event_id", "dup_group": "dup_group", "author": "author",
    "root_id": "root_id",
}
assert set(FIELD_COLUMNS) == set(KEYWORD_FIELDS), "every keyword field needs a column"
_BM25_WEIGHTS = "4.0, 1.0, 0.5"     # title, body, extra
_SNIPPET_TOKENS = 32
_IN_LIST_LIMIT = 200                 # longer value lists are bound as one JSON array
_ID_CHUNK = 500

# --- filters -------------------------------------------------------------------------------
class _Where:
    """AND-ed SQL conditions with their parameters."""

    def __init__(self) -> None:
        self.clauses: list[str] = []
        self.params: list[Any] = []

    def add(self, clause: str, *params: Any) -> None:
        self.clauses.append(clause)
        self.params.extend(params)

    def one_of(self, column: str, values: Sequence[str]) -> None:
        self.add(*_in_list(column, values))

    @property
    def sql(self) -> str:
        return " AND ".join(self.clauses) if self.clauses else "1"


def _in_list(column: str, values: Sequence[Any]) -> tuple[str, ...]:
    """`column IN (...)` with its parameters; long lists travel as one JSON array."""
    values = list(values)
    if len(values) > _IN_LIST_LIMIT:
        return (f"{column} IN (SELECT value FROM json_each(?))", json.dumps(values, ensure_ascii=False))
    return (f"{column} IN ({', '.join('?' * len(values))})", *values)


def _bucket_sql(interval: str, spans: Sequence[tuple[float, int]]) -> tuple[str, str]:
    """SQL for a post's bucket as (local wall-clock second at which it starts, the post's UTC offset).

    The offset comes from the zone's offset spans over the queried range (one constant for
    Asia/Shanghai); index.buckets.wall_bucket_epoch turns the pair into the bucket's epoch second.
    """
    if len(spans) == 1:
        offset = str(int(spans[0][1]))
    else:
        cases = " ".join(f"WHEN p.published_at < {since!r} THEN {int(before)}"
                         for (since, _), (_, before) in zip(spans[1:], spans[:-1]))
        offset = f"(CASE {cases} ELSE {int(spans[-1][1])} END)"
    width = INTERVAL_SECONDS[interval]
    anchor = WEEK_ANCHOR_S if interval == "week" else 0
    # floor(published_at) even before 1970, then floor-division with a non-negative remainder
    floor = "(CAST(p.published_at AS INTEGER) - (p.published_at < CAST(p.published_at AS INTEGER)))"
    key = f"({floor} + {offset} - {anchor})"
    return f"({key} - ((({key} % {width}) + {width}) % {width}) + {anchor})", offset


# The overview's rollup (migration 8): what each breakdown field reads there ('' stands for missing).
_ROLLUP_COLUMNS = {"topic": "nullif(h.topic, '')", "district": "nullif(h.district, '')", "platform": "h.platform"}
ROLLUP_FIELDS = frozenset(_ROLLUP_COLUMNS)


# --- the store ---------------------------------------------------------------------------
class SQLiteStore(Store):
    """Store on one SQLite file. Safe for one writer and many readers across threads/processes."""

    def __init__(self, path: str | Path, *, user_dicts: Iterable[str | Path] = (),
                 busy_timeout_s: float = 30.0, write_batch_size: int = 2000,
                 timezone: str | ZoneInfo = "Asia/Shanghai", segmenter: Segmenter | None = None):
        self.path = Path(path)
        self.tz = time_zone(timezone)   # histogram buckets are aligned here; times come back in it
        if str(path) == ":memory:":
            raise StoreError("SQLiteStore needs a file path (each thread opens its own connection); "
                             "use a temporary file instead of ':memory:'")
        self.busy_timeout_s = busy_timeout_s
        self.write_batch_size = max(1, write_batch_size)
        # The application hands in its one segmenter (nlp.segment), so indexed text, queries and
        # the enriched tokens are cut alike; alone, the store uses a plain one.
        self._segmenter = segmenter or get_segmenter(user_dicts)
        self._indexer = PostIndexer(self._segmenter)
        self._fts = FtsQueryBuilder(self._segmenter)
        self._queries = SqlQueryCompiler(self._fts, FIELD_COLUMNS)
        self._open_lock = threading.RLock()
        self._write_lock = threading.Lock()
        self._conns: dict[int, tuple[weakref.ref[threading.Thread], sqlite3.Connection]] = {}
        self._opened = False

    @classmethod
    def from_settings(cls, config: "StoreSettings", *, base_dir: Path, user_dicts: Iterable[str | Path] = (),
                      timezone: str | ZoneInfo = "Asia/Shanghai", segmenter: Segmenter | None = None) -> "SQLiteStore":
        path = Path(config.sqlite.path).expanduser()
        return cls(path if path.is_absolute() else Path(base_dir) / path, user_dicts=user_dicts, timezone=timezone,
                   segmenter=segmenter)

    def __repr__(self) -> str:
        return f"SQLiteStore({str(self.path)!r})"

    # --- lifecycle -----------------------------------------------------------------------
    def open(self) -> None:
        with self._open_lock:
            if self._opened:
                return
            try:
                self.path.parent.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise StoreError(f"cannot create the folder for {self.path}: {exc}") from exc
            with self._errors("open"):
                conn = self._register(self._connect())
                try:
                    before, after = migrate(conn)
                    self._statistics(conn)
                except BaseException:
                    self._close_all()
                    raise
            self._opened = True
            logger.info("store opened", extra={"path": str(self.path), "schema_version": after,
                                               "migrated_from": before if before != after else None})

    @staticmethod
    def _statistics(conn: sqlite3.Connection) -> None:
        """Planner statistics when the file has none (a store filled by ingest and never closed
        cleanly): without them a filtered text search scans an index and matches FTS per post (~10×
        slower at 1M posts). analysis_limit keeps ANALYZE to a sample: about a second at 1M."""
        try:
            has = conn.execute("SELECT 1 FROM sqlite_master WHERE name = 'sqlite_stat1'").fetchone()
            if has is None or conn.execute("SELECT count(*) FROM sqlite_stat1").fetchone()[0] == 0:
                conn.execute("PRAGMA analysis_limit = 1000")
                conn.execute("ANALYZE")
        except sqlite3.OperationalError as exc:     # busy: another process is writing; next open retries
            logger.info("planner statistics not gathered", extra={"error": str(exc)})

    def close(self) -> None:
        with self._open_lock:
            if not self._opened:
                return
            conn = self._conns.get(threading.get_ident(), (None, None))[1]
            if conn is not None:
                try:
                    conn.execute("PRAGMA optimize")   # cheap; keeps the query planner's statistics fresh
                except sqlite3.Error:
                    pass
            self._close_all()
            self._opened = False

    def _connect(self) -> sqlite3.Connection:
        conn = sqlite3.connect(self.path, timeout=self.busy_timeout_s, isolation_level=None,
                               check_same_thread=False)
        try:
            mode = self._wal(conn)
            if str(mode).lower() != "wal":
                logger.warning("SQLite WAL mode unavailable; readers may wait for writers",
                               extra={"path": str(self.path), "journal_mode": mode})
            conn.execute("PRAGMA synchronous = NORMAL")
            conn.execute(f"PRAGMA busy_timeout = {int(self.busy_timeout_s * 1000)}")
            conn.execute("PRAGMA temp_store = MEMORY")
            conn.execute("PRAGMA cache_size = -32000")
        except BaseException:
            conn.close()
            raise
        return conn

    def _wal(self, conn: sqlite3.Connection) -> str:
        """Switch to WAL. On a new file, processes opening it at once race for the switch and SQLite
        answers the losers "database is locked" at once, without its busy handler: wait and retry,
        for as long as busy_timeout allows."""
        mode = str(conn.execute("PRAGMA journal_mode").fetchone()[0])
        if mode.lower() == "wal":
            return mode
        deadline, delay = time.monotonic() + self.busy_timeout_s, 0.005
        while True:
            try:
                return str(conn.execute("PRAGMA journal_mode = WAL").fetchone()[0])
            except sqlite3.OperationalError as exc:
                if ("locked" not in str(exc) and "busy" not in str(exc)) or time.monotonic() >= deadline:
                    raise
                time.sleep(delay)
                delay = min(delay * 2, 0.2)

    def _register(self, conn: sqlite3.Connection) -> sqlite3.Connection:
        with self._open_lock:
            # Connections of threads that have ended are closed here rather than leaked.
            for ident, (thread_ref, old) in list(self._conns.items()):
                thread = thread_ref()
                if thread is None or not thread.is_alive():
                    old.close()
                    del self._conns[ident]
            self._conns[threading.get_ident()] = (weakref.ref(threading.current_thread()), conn)
        return conn

    def _close_all(self) -> None:
        for _, conn in self._conns.values():
            try:
                conn.close()
            except sqlite3.Error:   # pragma: no cover - closing never matters more than the caller
                pass
        self._conns.clear()

    def _connection(self) -> sqlite3.Connection:
        if not self._opened:
            self.open()
        entry = self._conns.get(threading.get_ident())
        if entry is not None and entry[0]() is threading.current_thread():
            return entry[1]
        with self._errors("connect"):
            return self._register(self._connect())

    @contextmanager
    def _errors(self, operation: str) -> Iterator[None]:
        try:
            yield
        except sqlite3.OperationalError as exc:
            message = str(exc)
            if "locked" in message or "busy" in message:
                raise StoreUnavailable(f"{operation} on {self.path}: database busy ({message})") from exc
            raise StoreError(f"{operation} on {self.path} failed: {message}") from exc
        except sqlite3.Error as exc:
            raise StoreError(f"{operation} on {self.path} failed: {exc}") from exc

    @contextmanager
    def _writing(self, operation: str) -> Iterator[sqlite3.Connection]:
        """One write transaction. The lock keeps this process's threads from spinning on
        SQLite's busy handler; other processes wait on it via busy_timeout."""
        conn = self._connection()
        with self._write_lock, self._errors(operation):
            conn.execute("BEGIN IMMEDIATE")
            try:
                yield conn
            except BaseException:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")

    @contextmanager
    def _reading(self, operation: str, snapshot: bool = False) -> Iterator[sqlite3.Connection]:
        """Reads; `snapshot` runs them in one read transaction so they see the same data."""
        conn = self._connection()
        with self._errors(operation):
            if not snapshot:
                yield conn
                return
            conn.execute("BEGIN")
            try:
                yield conn
            finally:
                if conn.in_transaction:
                    conn.execute("COMMIT")

    # --- posts ---------------------------------------------------------------------------
    def upsert_posts(self, posts: Iterable[Post]) -> UpsertReport:
        report = UpsertReport()
        batch: list[Any] = []
        for item in posts:
            batch.append(item)
            if len(batch) >= self.write_batch_size:
                self._upsert_batch(batch, report)
                batch = []
        if batch:
            self._upsert_batch(batch, report)
        return report

    def _upsert_batch(self, items: list[Any], report: UpsertReport) -> None:
        prepared: dict[str, PreparedPost] = {}      # by id: the last copy of a post in a batch wins
        for position, item in enumerate(items):
            key = item.get("id") if isinstance(item, dict) else getattr(item, "id", None)
            key = str(key) if key else f"#{position}"
            try:
                post = item if isinstance(item, Post) else Post.model_validate(item)
                prepared[post.id] = self._indexer.prepare(post)
            except (ValidationError, ValueError, TypeError, AttributeError) as exc:
                report.errors[key] = f"{type(exc).__name__}: {exc}"
                logger.warning("post not stored", extra={"post_id": key, "error": str(exc)[:500]})
        if not prepared:
            return
        ids = list(prepared)
        with self._writing("upsert posts") as conn:
            existing = self._rids(conn, ids)
            conn.executemany(UPSERT_POST, [p.post_row for p in prepared.values()])
            rids = existing if len(existing) == len(ids) else self._rids(conn, ids)
            replaced = [(rid,) for rid in existing.values()]
            if replaced:
                conn.executemany("DELETE FROM posts_fts WHERE rowid = ?", replaced)
                conn.executemany("DELETE FROM post_terms WHERE rid = ?", replaced)
            conn.executemany("INSERT OR REPLACE INTO post_docs (rid, doc) VALUES (?, ?)",
                             [(rids[i], p.doc) for i, p in prepared.items()])
            conn.executemany("INSERT INTO posts_fts (rowid, title, body, extra) VALUES (?, ?, ?, ?)",
                             [(rids[i], *p.fts) for i, p in prepared.items()])
            conn.executemany("INSERT OR IGNORE INTO post_terms (rid, kind, term) VALUES (?, ?, ?)",
                             [(rids[i], kind, term) for i, p in prepared.items() for kind, term in p.terms])
        report.written += len(prepared)
        logger.debug("posts upserted", extra={"written": len(prepared), "replaced": len(replaced)})

    @staticmethod
    def _rids(conn: sqlite3.Connection, ids: Sequence[str]) -> dict[str, int]:
        found: dict[str, int] = {}
        for i in range(0, len(ids), _ID_CHUNK):
            chunk = ids[i:i + _ID_CHUNK]
            rows = conn.execute(f"SELECT id, rid FROM posts WHERE id IN ({', '.join('?' * len(chunk))})", chunk)
            found.update(rows)
        return found

    def get_posts(self, ids: Iterable[str]) -> list[Post]:
        wanted = list(ids)
        docs: dict[str, str] = {}
        with self._reading("get posts") as conn:
            unique = list(dict.fromkeys(wanted))
            for i in range(0, len(unique), _ID_CHUNK):
                chunk = unique[i:i + _ID_CHUNK]
                docs.update(conn.execute(
                    "SELECT p.id, d.doc FROM posts p JOIN post_docs d ON d.rid = p.rid "
                    f"WHERE p.id IN ({', '.join('?' * len(chunk))})", chunk))
        loaded = {i: load_post(doc, self.tz) for i, doc in docs.items()}
        return [post for i in wanted if (post := loaded.get(i)) is not None]

    def iter_posts(self, query: PostQuery = PostQuery(), batch_size: int = 500) -> Iterator[Post]:
        if batch_size < 1:
            raise ValueError("batch_size must be at least 1")
        where = self._where(query)
        if where is None:
            return
        after: tuple[float, str] | None = None
        while True:
            clause, params = where.sql, list(where.params)
            if after is not None:   # keyset pagination: stable and fast at any depth
                clause += " AND (p.published_at, p.id) > (?, ?)"
                params += after
            with self._reading("iterate posts") as conn:
                rows = conn.execute(
                    "SELECT p.published_at, p.id, d.doc FROM posts p JOIN post_docs d ON d.rid = p.rid "
                    f"WHERE {clause} ORDER BY p.published_at, p.id LIMIT ?", [*params, batch_size]).fetchall()
            for _, _, doc in rows:
                post = load_post(doc, self.tz)
                if post is not None:
                    yield post
            if len(rows) < batch_size:
                return
            after = (rows[-1][0], rows[-1][1])

    def search(self, query: PostQuery, *, size: int = 20, offset: int = 0,
               sort: Literal["relevance", "newest", "oldest", "engagement"] = "newest") -> SearchResult:
        if size < 0 or offset < 0:
            raise ValueError("size and offset must not be negative")
        orders = {"newest": "p.published_at DESC, p.id DESC", "oldest": "p.published_at ASC, p.id ASC",
                  "engagement": "p.engagement DESC, p.published_at DESC, p.id DESC"}
        if sort not in (*orders, "relevance"):
            raise ValueError(f"unknown sort {sort!r}; use relevance, newest, oldest or engagement")
        text = (query.text or "").strip()
        match = self._queries.compile(text, join=True) if text else None
        if text and match is None:
            return SearchResult(total=0)
        where = self._where(query, text=match)
        if where is None:
            return SearchResult(total=0)
        if match is None or match.match is None:
            # No text, or text the ranked join cannot carry (an OR with a field, NOT alone): no bm25.
            order = orders.get(sort, orders["newest"])
            source, score = "FROM posts p", "0.0"
        else:
            order = "2 DESC, p.published_at DESC, p.id DESC" if sort == "relevance" else orders[sort]
            source = "FROM posts_fts JOIN posts p ON p.rid = posts_fts.rowid"
            score = f"-bm25(posts_fts, {_BM25_WEIGHTS})"
            where.clauses.insert(0, "posts_fts MATCH ?")
            where.params.insert(0, match.match)
        snippets: dict[int, tuple[str | None, str | None]] = {}
        with self._reading("search", snapshot=True) as conn:
            total = conn.execute(f"SELECT count(*) {source} WHERE {where.sql}", where.params).fetchone()[0]
            rows = conn.execute(f"SELECT p.rid, {score} {source} WHERE {where.sql} ORDER BY {order} LIMIT ? OFFSET ?",
                                [*where.params, size, offset]).fetchall() if size else []
            rids = [r[0] for r in rows]
            marks = ", ".join("?" * len(rids))
            docs = dict(conn.execute(f"SELECT rid, doc FROM post_docs WHERE rid IN ({marks})", rids)) if rids else {}
            if match is not None and match.highlight and rids:
                # Snippets for the page only: computed in the ranked query they would cost every match.
                # They mark the positive text only (match.highlight), never a NOT term.
                for rid, body, title in conn.execute(
                        f"SELECT rowid, snippet(posts_fts, 1, ?, ?, '…', {_SNIPPET_TOKENS}), "
                        f"snippet(posts_fts, 0, ?, ?, '…', {_SNIPPET_TOKENS}) FROM posts_fts "
                        f"WHERE posts_fts MATCH ? AND rowid IN ({marks})",
                        [OPEN, CLOSE, OPEN, CLOSE, match.highlight, *rids]):
                    snippets[rid] = (body, title)
        hits = []
        for rid, hit_score in rows:
            post = load_post(docs[rid], self.tz) if rid in docs else None
            if post is None:
                continue
            highlight = None
            if match is not None and match.surface:
                body, title = snippets.get(rid, (None, None))
                highlight = (render_snippet(body or "") or render_snippet(title or "")
                             or highlight_text(post.content, match.surface)
                             or highlight_text(post.title, match.surface))
            hits.append(SearchHit(post=post, score=float(hit_score or 0.0), highlight=highlight))
        return SearchResult(total=total, hits=hits)

    def count(self, query: PostQuery = PostQuery()) -> int:
        where = self._where(query)
        if where is None:
            return 0
        with self._reading("count") as conn:
            return conn.execute(f"SELECT count(*) FROM posts p WHERE {where.sql}", where.params).fetchone()[0]

    # --- aggregations --------------------------------------------------------------------
    def histogram(self, query: PostQuery, interval: Interval, group_by: str | None = None) -> list[TimeBucket]:
        """Counts per local-time bucket (self.tz); posts lacking the group field are not counted in a
        grouped histogram. Ungrouped buckets hold {"_all": n}; empty grouped buckets hold {}."""
        check_interval(interval)
        column = self._group_column(group_by) if group_by else None
        bounds = bucket_bounds(query.start, query.end, interval, self.tz)
        if bounds is None:
            return []
        lo, hi = bounds
        where = self._where(query)
        counts: dict[int, dict[str, int]] = {}
        if where is not None:
            spans = self._offset_spans(query)
            group = f"p.{column}" if column else "'_all'"
            if column:
                where.add(f"p.{column} IS NOT NULL")
            bucket, offset = _bucket_sql(interval, spans)
            sql = (f"SELECT {bucket} AS bucket, {offset} AS off, {group} AS grp, count(*) FROM posts p "
                   f"WHERE {where.sql} GROUP BY bucket, off, grp")
            with self._reading("histogram") as conn:
                for wall, off, grp, n in conn.execute(sql, where.params):
                    start = wall_bucket_epoch(int(wall), int(off), interval, self.tz)
                    groups = counts.setdefault(start, {})
                    groups[str(grp)] = groups.get(str(grp), 0) + n
        return dense_buckets(counts, lo, hi, interval, self.tz, grouped=bool(column))

    def overview(self, query: PostQuery, interval: Interval, breakdowns: dict[str, int],
                 negative: str = "负面") -> Overview:
        """The parts from one cube (bucket × polarity × each breakdown column): for a time-only query
        the whole hours come from the post_hours rollup and the partial hours at each end from the
        posts_overview covering index; otherwise all of it from the index. No post row is read."""
        check_interval(interval)
        columns = [self._group_column(f) for f in breakdowns]
        bounds = bucket_bounds(query.start, query.end, interval, self.tz)
        where = self._where(query)
        if where is None or bounds is None:
            return super().overview(query, interval, breakdowns, negative)
        spans = self._offset_spans(query)
        rows: list[tuple] = []
        with self._reading("overview", snapshot=True) as conn:
            hours = self._rollup_hours(query, breakdowns, spans)
            if hours is None:
                rows += self._cube(conn, query, interval, columns, spans)
            else:
                h1, h2 = hours
                for part in (dataclasses.replace(query, end=datetime.fromtimestamp(h1 * 3600, timezone.utc)),
                             dataclasses.replace(query, start=datetime.fromtimestamp(h2 * 3600, timezone.utc))):
                    if part.start < part.end:
                        rows += self._cube(conn, part, interval, columns, spans)
                bucket, offset = _bucket_sql(interval, spans)
                bucket, offset = (x.replace("p.published_at", "(h.hour * 3600)") for x in (bucket, offset))
                dims = "".join(f", {_ROLLUP_COLUMNS[c]}" for c in columns)
                sql = (f"SELECT {bucket}, {offset}, nullif(h.polarity, ''){dims}, sum(h.n) FROM post_hours h "
                       f"WHERE h.hour >= ? AND h.hour < ? GROUP BY {', '.join(str(i) for i in range(1, 4 + len(columns)))} "
                       "HAVING sum(h.n) > 0")
                rows += conn.execute(sql, (h1, h2)).fetchall()
        total, polarity, hist = 0, {}, {}
        values: dict[str, dict[str, int]] = {f: {} for f in breakdowns}
        negatives: dict[str, dict[str, int]] = {f: {} for f in breakdowns}
        for wall, off, pol, *keys, n in rows:
            total += n
            if pol is not None:
                polarity[pol] = polarity.get(pol, 0) + n
                start = wall_bucket_epoch(int(wall), int(off), interval, self.tz)
                groups = hist.setdefault(start, {})
                groups[str(pol)] = groups.get(str(pol), 0) + n
            for f, key in zip(breakdowns, keys, strict=True):
                if key is None:
                    continue
                values[f][key] = values[f].get(key, 0) + n
                if pol == negative:
                    negatives[f][key] = negatives[f].get(key, 0) + n
        lo, hi = bounds
        tops = {f: [Bucket(str(k), c) for k, c in sorted(values[f].items(), key=lambda kv: (-kv[1], kv[0]))[:size]]
                for f, size in breakdowns.items()}
        return Overview(total=total, polarity=polarity,
                        histogram=dense_buckets(hist, lo, hi, interval, self.tz, grouped=True),
                        breakdowns=tops, negative={f: {str(k): v for k, v in negatives[f].items()} for f in breakdowns})

    def _cube(self, conn: sqlite3.Connection, query: PostQuery, interval: Interval, columns: list[str],
              spans) -> list[tuple]:
        where = self._where(query)
        if where is None:
            return []
        bucket, offset = _bucket_sql(interval, spans)
        dims = "".join(f", p.{c}" for c in columns)
        sql = (f"SELECT {bucket}, {offset}, p.polarity{dims}, count(*) FROM posts p WHERE {where.sql} "
               f"GROUP BY {', '.join(str(i) for i in range(1, 4 + len(columns)))}")
        return conn.execute(sql, where.params).fetchall()

    @staticmethod
    def _rollup_hours(query: PostQuery, breakdowns: dict[str, int], spans) -> tuple[int, int] | None:
        """The whole UTC hours [h1, h2) the rollup can answer, or None: only a query that filters on
        time alone, breakdowns the rollup keeps, and a zone whose offsets are whole hours."""
        if query.start is None or query.end is None:
            return None
        if dataclasses.replace(query, start=None, end=None) != PostQuery():
            return None
        if not set(breakdowns) <= ROLLUP_FIELDS or any(int(off) % 3600 for _, off in spans):
            return None
        h1, h2 = math.ceil(epoch(query.start) / 3600), math.floor(epoch(query.end) / 3600)
        return (h1, h2) if h2 > h1 else None

    def _offset_spans(self, query: PostQuery) -> tuple[tuple[float, int], ...]:
        """The zone's UTC offsets over the posts a query can reach (its bounds, else the data's)."""
        lo = epoch(query.start) if query.start is not None else None
        hi = epoch(query.end) if query.end is not None else None
        if lo is None or hi is None:
            with self._reading("histogram range") as conn:
                first, last = conn.execute("SELECT min(published_at), max(published_at) FROM posts").fetchone()
            lo = lo if lo is not None else (first if first is not None else 0.0)
            hi = hi if hi is not None else (last if last is not None else lo)
        return offset_spans(self.tz, lo, max(lo, hi))

    def terms(self, query: PostQuery, field: str, size: int = 10) -> list[Bucket]:
        """Top values by number of posts (ties: value ascending). Missing values are not counted;
        for 'tokens'/'keywords'/'schemes' each post counts once per value."""
        if size <= 0:
            return []
        if field in TERM_KINDS:
            where = self._where(query)
            if where is None:
                return []
            kind = int(TERM_KINDS[field])     # a literal, so the partial scheme index applies
            if where.clauses:
                # CROSS JOIN keeps posts as the outer loop: the filters (a time window, mostly)
                # pick few posts, whose terms are then read by primary key.
                sql = (f"SELECT t.term, count(*) AS n FROM posts p CROSS JOIN post_terms t ON t.rid = p.rid "
                       f"WHERE t.kind = {kind} AND {where.sql} GROUP BY t.term ORDER BY n DESC, t.term LIMIT ?")
            else:
                sql = (f"SELECT term, count(*) AS n FROM post_terms WHERE kind = {kind} "
                       "GROUP BY term ORDER BY n DESC, term LIMIT ?")
            params = [*where.params, size]
        else:
            column = self._group_column(field)
            where = self._where(query)
            if where is None:
                return []
            where.add(f"p.{column} IS NOT NULL")
            sql = (f"SELECT p.{column}, count(*) AS n FROM posts p WHERE {where.sql} "
                   f"GROUP BY p.{column} ORDER BY n DESC, p.{column} LIMIT ?")
            params = [*where.params, size]
        with self._reading("terms") as conn:
            return [Bucket(key=str(key), count=n) for key, n in conn.execute(sql, params)]

    @staticmethod
    def _group_column(field: str) -> str:
        try:
            return FIELD_COLUMNS[field]
        except KeyError:
            raise ValueError(f"unknown field {field!r}; use one of {', '.join(KEYWORD_FIELDS)} "
                             "(terms also accepts tokens, keywords, schemes)") from None

    def _where(self, query: PostQuery, text: SqlText | None = None) -> _Where | None:
        """SQL conditions on posts `p` for a query; None when the query can match nothing.

        `text`: the query's text already compiled by the caller, which joins posts_fts on
        `text.match` itself; without it the text is compiled here (conditions only).
        Raises index.querylang.QuerySyntaxError for text that cannot be read.
        """
        where = _Where()
        if query.start is not None:
            where.add("p.published_at >= ?", epoch(query.start))
        if query.end is not None:
            where.add("p.published_at < ?", epoch(query.end))
        for column, values in (("p.platform", query.platforms), ("p.source", query.sources),
                               ("p.sentiment", query.sentiments), ("p.polarity", query.polarities),
                               ("p.topic", query.topics),
                               ("p.event_id", query.event_ids), ("p.id", query.ids),
                               ("p.root_id", query.root_ids)):
            if values:
                where.one_of(column, [value(v) for v in values])
        if query.region_codes:
            parts = [_in_list(c, query.region_codes) for c in ("p.province_code", "p.city_code", "p.district_code")]
            where.add("(" + " OR ".join(p[0] for p in parts) + ")", *[v for p in parts for v in p[1:]])
        if query.any_terms:
            expression = self._fts.any_term(query.any_terms)
            if expression is None:
                return None
            where.add("p.rid IN (SELECT rowid FROM posts_fts WHERE posts_fts MATCH ?)", expression)
        if query.schemes:
            names = [str(s) for s in query.schemes]
            where.add(f"p.rid IN (SELECT rid FROM post_terms WHERE kind = {TERM_KINDS['schemes']} "
                      f"AND term IN ({', '.join('?' * len(names))}))", *names)
        if query.min_followers is not None:
            where.add("p.followers >= ?", int(query.min_followers))
        if query.verified is not None:
            where.add("p.verified = ?", int(query.verified))
        if query.enriched is not None:
            where.add("p.enriched = ?", int(query.enriched))
        if text is None and (query.text or "").strip():
            text = self._queries.compile(query.text or "", join=False)
            if text is None:
                return None
        for clause, params in text.conditions if text is not None else ():
            where.add(clause, *params)
        return where

    # --- alerts --------------------------------------------------------------------------
    def upsert_alert(self, alert: Alert) -> None:
        row = (alert.id, value(alert.status), value(alert.level), alert.agency, alert.topic,
               epoch(alert.last_seen), alert.model_dump_json())
        with self._writing("upsert alert") as conn:
            conn.execute(
                "INSERT INTO alerts (id, status, level, agency, topic, last_seen, doc) VALUES (?, ?, ?, ?, ?, ?, ?) "
                "ON CONFLICT (id) DO UPDATE SET status = excluded.status, level = excluded.level, "
                "agency = excluded.agency, topic = excluded.topic, last_seen = excluded.last_seen, "
                "doc = excluded.doc", row)

    def get_alert(self, alert_id: str) -> Alert | None:
        with self._reading("get alert") as conn:
            row = conn.execute("SELECT doc FROM alerts WHERE id = ?", (alert_id,)).fetchone()
        return load_alert(row[0], self.tz) if row else None

    def list_alerts(self, *, statuses: tuple[str, ...] = (), since: datetime | None = None,
                    agency: str | None = None, limit: int = 200) -> list[Alert]:
        where = _Where()
        if statuses:
            where.one_of("status", status_values([value(s) for s in statuses]))
        if since is not None:
            where.add("last_seen >= ?", epoch(since))
        if agency is not None:
            where.add("agency = ?", agency)
        if limit <= 0:
            return []
        with self._reading("list alerts") as conn:
            rows = conn.execute(f"SELECT doc FROM alerts WHERE {where.sql} ORDER BY last_seen DESC, id LIMIT ?",
                                [*where.params, limit]).fetchall()
        return [a for (doc,) in rows if (a := load_alert(doc, self.tz)) is not None]

    # --- events --------------------------------------------------------------------------
    def upsert_events(self, events: Iterable[Event]) -> None:
        rows = [(e.id, e.topic, e.post_count, epoch(e.last_seen), e.model_dump_json()) for e in events]
        if not rows:
            return
        with self._writing("upsert events") as conn:
            conn.executemany(
                "INSERT INTO events (id, topic, post_count, last_seen, doc) VALUES (?, ?, ?, ?, ?) "
                "ON CONFLICT (id) DO UPDATE SET topic = excluded.topic, post_count = excluded.post_count, "
                "last_seen = excluded.last_seen, doc = excluded.doc", rows)

    def get_events(self, ids: Iterable[str]) -> list[Event]:
        wanted = list(dict.fromkeys(ids))
        found: dict[str, Event] = {}
        with self._reading("get events") as conn:
            for i in range(0, len(wanted), _ID_CHUNK):
                chunk = wanted[i:i + _ID_CHUNK]
                rows = conn.execute(f"SELECT doc FROM events WHERE id IN ({','.join('?' * len(chunk))})", chunk)
                for (doc,) in rows:
                    if (event := load_event(doc, self.tz)) is not None:
                        found[event.id] = event
        return [found[i] for i in wanted if i in found]

    def list_events(self, *, active_since: datetime | None = None, topic: str | None = None,
                    min_posts: int = 1, limit: int = 100) -> list[Event]:
        where = _Where()
        if active_since is not None:
            where.add("last_seen >= ?", epoch(active_since))
        if topic is not None:
            where.add("topic = ?", topic)
        where.add("post_count >= ?", min_posts)
        if limit <= 0:
            return []
        with self._reading("list events") as conn:
            rows = conn.execute(f"SELECT doc FROM events WHERE {where.sql} ORDER BY last_seen DESC, id LIMIT ?",
                                [*where.params, limit]).fetchall()
        return [e for (doc,) in rows if (e := load_event(doc, self.tz)) is not None]

    # --- key/value state -----------------------------------------------------------------
    def get_state(self, key: str) -> str | None:
        with self._reading("get state") as conn:
            row = conn.execute("SELECT value FROM state WHERE key = ?", (key,)).fetchone()
        return row[0] if row else None

    def set_state(self, key: str, value: str) -> None:
        if not isinstance(value, str):
            raise TypeError(f"state values are strings; got {type(value).__name__} for {key!r}")
        with self._writing("set state") as conn:
            conn.execute("INSERT INTO state (key, value, updated_at) VALUES (?, ?, ?) "
                         "ON CONFLICT (key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at",
                         (key, value, time.time()))
