"""The embedded backend: the Store interface on one SQLite file (WAL, FTS5, jieba).

Layout (schema version SCHEMA_VERSION, built by MIGRATIONS):
  posts       one small row per post with the columns every filter, sort and group reads
  post_docs   the full Post JSON, kept apart so scans and aggregations touch small rows only
  posts_fts   FTS5 over jieba-segmented text: title, body, and "extra" words that match but are
              not shown (search-mode sub-words, enrichment's tokens where they cut differently)
  post_terms  distinct tokens / keywords per post, for hot-word counts over any filter
  alerts      Alert JSON with the columns list_alerts filters on
  events      Event JSON with the columns list_events filters on
  state       key/value pairs (scheduler cursors, crawl checkpoints)

Times are stored as epoch seconds (UTC, REAL so sub-second windows stay exact) and
returned as aware Asia/Shanghai datetimes. Each thread gets its own connection; WAL
lets readers in any thread or process run while one writer commits.
"""
from __future__ import annotations

import html
import json
import logging
import math
import re
import sqlite3
import threading
import time
import unicodedata
import weakref
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from pydantic import ValidationError

from .schema import DEFAULT_TZ, Alert, Event, Post, aware
from .segment import Segmenter, get_segmenter, is_searchable, split_query
from .store import (
    KEYWORD_FIELDS, Bucket, Interval, PostQuery, SearchHit, SearchResult, Store, StoreError,
    StoreUnavailable, TimeBucket, UpsertReport,
)

if TYPE_CHECKING:  # pragma: no cover
    from .config import StoreSettings

logger = logging.getLogger(__name__)

# Asia/Shanghai has kept UTC+8 without daylight saving since 1991, so local bucket
# boundaries are a fixed shift of UTC ones and can be computed in SQL.
_LOCAL_OFFSET_S = 8 * 3600
_WEEK_ANCHOR_S = 4 * 86400          # 1970-01-05, the first Monday after the epoch
INTERVAL_SECONDS: dict[str, int] = {
    "15m": 15 * 60, "30m": 30 * 60, "hour": 3600, "6h": 6 * 3600, "day": 86400, "week": 7 * 86400,
}
MAX_BUCKETS = 100_000

# Store keyword field -> posts column. province/city/district group by name; region_code
# is the most specific code a post has (district, else city, else province).
FIELD_COLUMNS: dict[str, str] = {
    "platform": "platform", "source": "source", "sentiment": "sentiment", "emotion": "emotion",
    "topic": "topic", "province": "province", "city": "city", "district": "district",
    "region_code": "region_code", "event_id": "event_id", "dup_group": "dup_group", "author": "author",
}
assert set(FIELD_COLUMNS) == set(KEYWORD_FIELDS), "every keyword field needs a column"
TERM_KINDS: dict[str, int] = {"tokens": 0, "keywords": 1}

# Markers FTS5 puts around matches, and the token standing for whitespace; removed from
# indexed text so a stray control character cannot forge a highlight.
_OPEN, _CLOSE, _GAP = "\x02", "\x03", "\x1f"
_NO_MARKERS = str.maketrans("", "", _OPEN + _CLOSE + _GAP)
_BM25_WEIGHTS = "4.0, 1.0, 0.5"     # title, body, extra
_SNIPPET_TOKENS = 32
_IN_LIST_LIMIT = 200                 # longer value lists are bound as one JSON array
_ID_CHUNK = 500


# --- schema & migrations ---------------------------------------------------------------
@dataclass(frozen=True)
class Migration:
    version: int
    description: str
    statements: tuple[str, ...]


MIGRATIONS: tuple[Migration, ...] = (
    Migration(1, "posts, documents, full-text index, alerts, state", (
        """CREATE TABLE posts (
            rid INTEGER PRIMARY KEY,
            id TEXT NOT NULL UNIQUE,
            platform TEXT NOT NULL,
            source TEXT NOT NULL,
            published_at REAL NOT NULL,
            sentiment TEXT, emotion TEXT, topic TEXT,
            province TEXT, province_code TEXT, city TEXT, city_code TEXT,
            district TEXT, district_code TEXT, region_code TEXT,
            event_id TEXT, dup_group TEXT, author TEXT,
            engagement INTEGER NOT NULL DEFAULT 0,
            enriched INTEGER NOT NULL DEFAULT 0
        )""",
        "CREATE INDEX posts_time ON posts (published_at, id)",
        "CREATE INDEX posts_platform_time ON posts (platform, published_at)",
        "CREATE INDEX posts_source_time ON posts (source, published_at)",
        "CREATE INDEX posts_sentiment_time ON posts (sentiment, published_at)",
        "CREATE INDEX posts_topic_time ON posts (topic, published_at)",
        "CREATE INDEX posts_province_time ON posts (province_code, published_at)",
        "CREATE INDEX posts_city_time ON posts (city_code, published_at)",
        "CREATE INDEX posts_district_time ON posts (district_code, published_at)",
        "CREATE INDEX posts_event ON posts (event_id) WHERE event_id IS NOT NULL",
        "CREATE INDEX posts_dup_group ON posts (dup_group) WHERE dup_group IS NOT NULL",
        "CREATE INDEX posts_unenriched ON posts (published_at) WHERE enriched = 0",
        "CREATE TABLE post_docs (rid INTEGER PRIMARY KEY, doc TEXT NOT NULL)",
        "CREATE VIRTUAL TABLE posts_fts USING fts5(title, body, extra, tokenize = 'unicode61 remove_diacritics 2')",
        """CREATE TABLE alerts (
            id TEXT PRIMARY KEY,
            status TEXT NOT NULL,
            level TEXT NOT NULL,
            agency TEXT,
            topic TEXT,
            last_seen REAL NOT NULL,
            doc TEXT NOT NULL
        )""",
        "CREATE INDEX alerts_last_seen ON alerts (last_seen)",
        "CREATE INDEX alerts_status_last_seen ON alerts (status, last_seen)",
        "CREATE TABLE state (key TEXT PRIMARY KEY, value TEXT NOT NULL, updated_at REAL NOT NULL)",
    )),
    Migration(2, "hot-word side table, backfilled from the stored documents", (
        """CREATE TABLE post_terms (
            rid INTEGER NOT NULL,
            kind INTEGER NOT NULL,
            term TEXT NOT NULL,
            PRIMARY KEY (rid, kind, term)
        ) WITHOUT ROWID""",
        """INSERT OR IGNORE INTO post_terms (rid, kind, term)
           SELECT d.rid, 0, trim(j.value) FROM post_docs d, json_each(d.doc, '$.tokens') j
           WHERE j.type = 'text' AND trim(j.value) != ''""",
        """INSERT OR IGNORE INTO post_terms (rid, kind, term)
           SELECT d.rid, 1, trim(j.value) FROM post_docs d, json_each(d.doc, '$.keywords') j
           WHERE j.type = 'text' AND trim(j.value) != ''""",
    )),
    Migration(3, "events", (
        """CREATE TABLE events (
            id TEXT PRIMARY KEY,
            topic TEXT,
            post_count INTEGER NOT NULL,
            last_seen REAL NOT NULL,
            doc TEXT NOT NULL
        )""",
        "CREATE INDEX events_last_seen ON events (last_seen)",
    )),
)
SCHEMA_VERSION = MIGRATIONS[-1].version


def migrate(conn: sqlite3.Connection, migrations: Sequence[Migration] = MIGRATIONS) -> tuple[int, int]:
    """Bring the schema up to the last migration, all in one transaction. Returns (from, to)."""
    latest = migrations[-1].version
    conn.execute("BEGIN IMMEDIATE")
    try:
        current = conn.execute("PRAGMA user_version").fetchone()[0]
        if current > latest:
            raise StoreError(f"database schema version {current} is newer than this program supports "
                             f"({latest}); upgrade yuqing-sentinel")
        for migration in migrations:
            if migration.version <= current:
                continue
            for statement in migration.statements:
                conn.execute(statement)
            conn.execute(f"PRAGMA user_version = {int(migration.version)}")
            logger.info("store schema migrated", extra={"version": migration.version,
                                                        "migration": migration.description})
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise
    return current, max(current, latest)


# --- rows ---------------------------------------------------------------------------------
def _value(x: Any) -> Any:
    return x.value if isinstance(x, Enum) else x


def _keyword(x: Any) -> str | None:
    """Keyword column value; empty means missing."""
    x = _value(x)
    return x if x else None


def _epoch(dt: datetime) -> float:
    return aware(dt).timestamp()


def _local(dt: datetime | None) -> datetime | None:
    return None if dt is None else aware(dt).astimezone(DEFAULT_TZ)


def _column_text(tokens: Iterable[str]) -> str:
    """Tokens joined by spaces (FTS5 splits there); original whitespace becomes a GAP token."""
    parts = []
    for token in tokens:
        if not token or token.isspace():
            if parts and parts[-1] != _GAP:
                parts.append(_GAP)
        else:
            parts.append(f" {_GAP} ".join(token.split()))
    return " ".join(parts)


@dataclass
class _PreparedPost:
    post_row: tuple
    doc: str
    fts: tuple[str, str, str]
    terms: list[tuple[int, str]]


_POST_COLUMNS = ("id", "platform", "source", "published_at", "sentiment", "emotion", "topic",
                 "province", "province_code", "city", "city_code", "district", "district_code",
                 "region_code", "event_id", "dup_group", "author", "engagement", "enriched")
_UPSERT_POST = (
    f"INSERT INTO posts ({', '.join(_POST_COLUMNS)}) VALUES ({', '.join('?' * len(_POST_COLUMNS))}) "
    "ON CONFLICT (id) DO UPDATE SET " + ", ".join(f"{c} = excluded.{c}" for c in _POST_COLUMNS[1:])
)


class _PostIndexer:
    """Turns a Post into the rows of every table: columns, JSON, FTS text, hot-word terms."""

    def __init__(self, segmenter: Segmenter):
        self.segmenter = segmenter

    def prepare(self, post: Post) -> _PreparedPost:
        region = post.region
        row = (
            post.id, _value(post.platform), post.source, _epoch(post.published_at),
            _keyword(post.sentiment.label) if post.sentiment else None,
            _keyword(post.emotion.label) if post.emotion else None,
            _keyword(post.topic),
            _keyword(region.province) if region else None, _keyword(region.province_code) if region else None,
            _keyword(region.city) if region else None, _keyword(region.city_code) if region else None,
            _keyword(region.district) if region else None, _keyword(region.district_code) if region else None,
            _keyword(region.code) if region else None,
            _keyword(post.event_id), _keyword(post.dup_group), _keyword(post.author.name),
            post.engagement.total, int(post.enriched_at is not None),
        )
        # The shown columns are cut here, by the same segmenter that cuts queries, so phrases
        # line up and snippets keep every character. Enrichment's tokens (content words only,
        # cut with its own dictionaries, e.g. place names) are matched through "extra".
        title_tokens = self.segmenter.index_tokens(post.title.translate(_NO_MARKERS)) if post.title else []
        body_tokens = self.segmenter.index_tokens(post.content.translate(_NO_MARKERS)) if post.content else []
        shown = {*title_tokens, *body_tokens}
        extra: dict[str, None] = {t: None for t in (x.strip() for x in post.tokens)
                                  if t not in shown and is_searchable(t)}
        for token in {*shown, *extra}:
            if len(token) > 2:
                for piece in self.segmenter.pieces(token):
                    extra[piece] = None
        terms = [(TERM_KINDS["tokens"], t) for t in dict.fromkeys(x.strip() for x in post.tokens)
                 if is_searchable(t)]
        terms += [(TERM_KINDS["keywords"], k) for k in dict.fromkeys(x.strip() for x in post.keywords) if k]
        return _PreparedPost(row, post.model_dump_json(),
                             (_column_text(title_tokens), _column_text(body_tokens), " ".join(extra)), terms)


def _load_post(doc: str) -> Post | None:
    try:
        post = Post.model_validate_json(doc)
    except ValidationError as exc:
        # Keep going: the row stays in the database for a later fix or migration.
        logger.error("stored post no longer validates; skipped", extra={"error": str(exc)[:500]})
        return None
    post.published_at = _local(post.published_at)
    post.crawled_at = _local(post.crawled_at)
    post.enriched_at = _local(post.enriched_at)
    return post


def _load_event(doc: str) -> Event | None:
    try:
        event = Event.model_validate_json(doc)
    except ValidationError as exc:
        logger.error("stored event no longer validates; skipped", extra={"error": str(exc)[:500]})
        return None
    for name in ("first_seen", "last_seen", "updated_at"):
        setattr(event, name, _local(getattr(event, name)))
    return event


def _load_alert(doc: str) -> Alert | None:
    try:
        alert = Alert.model_validate_json(doc)
    except ValidationError as exc:
        logger.error("stored alert no longer validates; skipped", extra={"error": str(exc)[:500]})
        return None
    for name in ("window_start", "window_end", "first_seen", "last_seen"):
        setattr(alert, name, _local(getattr(alert, name)))
    return alert


# --- full-text queries -------------------------------------------------------------------
def fts_string(text: str) -> str:
    """An FTS5 string literal: inside double quotes every character is literal text."""
    return '"' + text.replace('"', '""') + '"'


@dataclass
class FtsMatch:
    """A user's text as an FTS5 expression. `expression` None: nothing searchable, match nothing."""
    expression: str | None
    surface: list[str] = field(default_factory=list)   # the words as typed, for fallback highlights


class FtsQueryBuilder:
    """Search text → FTS5 MATCH expression.

    Bare words are ANDed. Each is cut by jieba; a chunk cut into several words
    matches either as one token or as all its words, and a long word either as
    itself or as all its search-mode sub-words, so a post segmented a little
    differently (e.g. by enrichment's user dictionary) is still found. "Quoted
    phrases" match consecutive tokens in title or body. User text only ever
    appears inside FTS5 string literals, so operators and syntax characters
    in it are plain text.
    """

    def __init__(self, segmenter: Segmenter):
        self.segmenter = segmenter

    def build(self, text: str) -> FtsMatch:
        parsed = split_query(text)
        parts: list[str] = []
        surface: list[str] = []
        for phrase in parsed.phrases:
            words = self.segmenter.words(phrase)
            if words:
                parts.append("{title body} : " + fts_string(" ".join(words)))
                surface.append(phrase)
        for chunk in parsed.chunks:
            words = self.segmenter.words(chunk)
            if not words:
                continue
            surface.extend(words if len(words) > 1 else [chunk])
            if len(words) == 1:
                parts.append(self._word(words[0]))
            else:
                parts.append(f"({fts_string(chunk)} OR ({' AND '.join(self._word(w) for w in words)}))")
        return FtsMatch(" AND ".join(parts) if parts else None, surface)

    def _word(self, word: str) -> str:
        pieces = self.segmenter.pieces(word)
        if not pieces:
            return fts_string(word)
        return f"({fts_string(word)} OR ({' AND '.join(fts_string(p) for p in pieces)}))"


# --- highlights --------------------------------------------------------------------------
def _spaced(ch: str) -> bool:
    """Latin letters and digits keep a space between tokens; CJK text does not."""
    return ch.isalnum() and unicodedata.east_asian_width(ch) not in ("W", "F")


def render_snippet(raw: str) -> str | None:
    """An FTS5 snippet of space-joined tokens → readable HTML-safe text with <em> marks.

    Returns None when the snippet marks nothing.
    """
    if _OPEN not in raw:
        return None
    out: list[str] = []
    last = ""   # last visible character written
    for piece in raw.split(" "):
        visible = piece.replace(_OPEN, "").replace(_CLOSE, "")
        if not visible:
            out.append(piece)
            continue
        if not visible.strip(_GAP):          # whitespace in the original text
            if last and last != " ":
                out.append(piece.replace(_GAP, " "))
                last = " "
            continue
        if last and _spaced(last) and _spaced(visible[0]):
            out.append(" ")
        out.append(piece.replace(_GAP, " "))
        last = visible[-1]
    text = html.escape("".join(out).strip(), quote=False)
    text = text.replace(_CLOSE + _OPEN, "").replace(_CLOSE + " " + _OPEN, " ")
    return text.replace(_OPEN, "<em>").replace(_CLOSE, "</em>")


def highlight_text(text: str, words: Sequence[str], width: int = 80) -> str | None:
    """Mark `words` in raw text around their first occurrence (for matches FTS5 cannot mark,
    such as a query word inside a longer indexed token)."""
    words = sorted({w for w in words if w.strip()}, key=len, reverse=True)
    if not words or not text:
        return None
    pattern = re.compile("|".join(re.escape(w) for w in words), re.IGNORECASE)
    first = pattern.search(text)
    if first is None:
        return None
    start = max(0, first.start() - width // 3)
    end = min(len(text), start + width)
    window = " ".join(text[start:end].split())
    pieces, pos = [], 0
    for m in pattern.finditer(window):
        pieces.append(html.escape(window[pos:m.start()], quote=False))
        pieces.append(f"<em>{html.escape(m.group(0), quote=False)}</em>")
        pos = m.end()
    pieces.append(html.escape(window[pos:], quote=False))
    return ("…" if start > 0 else "") + "".join(pieces) + ("…" if end < len(text) else "")


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


def _bucket_sql(interval: str) -> str:
    """SQL for the epoch second at which a post's local-time bucket starts."""
    width = INTERVAL_SECONDS[interval]
    shift = _LOCAL_OFFSET_S - (_WEEK_ANCHOR_S if interval == "week" else 0)
    # floor(published_at) even before 1970, then floor-division with a non-negative remainder
    floor = "(CAST(p.published_at AS INTEGER) - (p.published_at < CAST(p.published_at AS INTEGER)))"
    key = f"({floor} + {shift})"
    return f"({key} - ((({key} % {width}) + {width}) % {width}) - {shift})"


def dense_buckets(counts: dict[int, dict[str, int]], lo: int | None, hi: int | None, width: int,
                  interval: str, *, grouped: bool) -> list[TimeBucket]:
    """Every bucket from lo (or the first with posts) to hi (or the last), empty ones included.

    Shared by both backends so their histograms agree bucket for bucket.
    """
    if not counts and (lo is None or hi is None):
        return []
    first = lo if lo is not None else min(counts)
    last = hi if hi is not None else max(counts)
    if (last - first) // width + 1 > MAX_BUCKETS:
        raise ValueError(f"{interval} buckets over this range exceed {MAX_BUCKETS}; use a wider interval")
    empty = {} if grouped else {"_all": 0}
    return [TimeBucket(start=datetime.fromtimestamp(b, DEFAULT_TZ), counts=counts.get(b, dict(empty)))
            for b in range(first, last + 1, width)]


def _bucket_start(epoch: float, interval: str) -> int:
    """Python twin of _bucket_sql."""
    width = INTERVAL_SECONDS[interval]
    shift = _LOCAL_OFFSET_S - (_WEEK_ANCHOR_S if interval == "week" else 0)
    key = math.floor(epoch) + shift
    return key - key % width - shift


# --- the store ---------------------------------------------------------------------------
class SQLiteStore(Store):
    """Store on one SQLite file. Safe for one writer and many readers across threads/processes."""

    def __init__(self, path: str | Path, *, user_dicts: Iterable[str | Path] = (),
                 busy_timeout_s: float = 30.0, write_batch_size: int = 2000):
        self.path = Path(path)
        if str(path) == ":memory:":
            raise StoreError("SQLiteStore needs a file path (each thread opens its own connection); "
                             "use a temporary file instead of ':memory:'")
        self.busy_timeout_s = busy_timeout_s
        self.write_batch_size = max(1, write_batch_size)
        self._segmenter = get_segmenter(user_dicts)
        self._indexer = _PostIndexer(self._segmenter)
        self._fts = FtsQueryBuilder(self._segmenter)
        self._open_lock = threading.RLock()
        self._write_lock = threading.Lock()
        self._conns: dict[int, tuple[weakref.ref[threading.Thread], sqlite3.Connection]] = {}
        self._opened = False

    @classmethod
    def from_settings(cls, config: "StoreSettings", *, base_dir: Path,
                      user_dicts: Iterable[str | Path] = ()) -> "SQLiteStore":
        path = Path(config.sqlite.path).expanduser()
        return cls(path if path.is_absolute() else Path(base_dir) / path, user_dicts=user_dicts)

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
                except BaseException:
                    self._close_all()
                    raise
            self._opened = True
            logger.info("store opened", extra={"path": str(self.path), "schema_version": after,
                                               "migrated_from": before if before != after else None})

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
            mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
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
        prepared: dict[str, _PreparedPost] = {}      # by id: the last copy of a post in a batch wins
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
            conn.executemany(_UPSERT_POST, [p.post_row for p in prepared.values()])
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
        loaded = {i: _load_post(doc) for i, doc in docs.items()}
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
                post = _load_post(doc)
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
        match = self._fts.build(text) if text else None
        where = self._where(query, text_in_join=True)
        if where is None or (match is not None and match.expression is None):
            return SearchResult(total=0)
        if match is None:
            order = orders.get(sort, orders["newest"])
            source, score = "FROM posts p", "0.0"
        else:
            order = "2 DESC, p.published_at DESC, p.id DESC" if sort == "relevance" else orders[sort]
            source = "FROM posts_fts JOIN posts p ON p.rid = posts_fts.rowid"
            score = f"-bm25(posts_fts, {_BM25_WEIGHTS})"
            where.clauses.insert(0, "posts_fts MATCH ?")
            where.params.insert(0, match.expression)
        snippets: dict[int, tuple[str | None, str | None]] = {}
        with self._reading("search", snapshot=True) as conn:
            total = conn.execute(f"SELECT count(*) {source} WHERE {where.sql}", where.params).fetchone()[0]
            rows = conn.execute(f"SELECT p.rid, {score} {source} WHERE {where.sql} ORDER BY {order} LIMIT ? OFFSET ?",
                                [*where.params, size, offset]).fetchall() if size else []
            rids = [r[0] for r in rows]
            marks = ", ".join("?" * len(rids))
            docs = dict(conn.execute(f"SELECT rid, doc FROM post_docs WHERE rid IN ({marks})", rids)) if rids else {}
            if match is not None and rids:
                # Snippets for the page only: computed in the ranked query they would cost every match.
                for rid, body, title in conn.execute(
                        f"SELECT rowid, snippet(posts_fts, 1, ?, ?, '…', {_SNIPPET_TOKENS}), "
                        f"snippet(posts_fts, 0, ?, ?, '…', {_SNIPPET_TOKENS}) FROM posts_fts "
                        f"WHERE posts_fts MATCH ? AND rowid IN ({marks})",
                        [_OPEN, _CLOSE, _OPEN, _CLOSE, match.expression, *rids]):
                    snippets[rid] = (body, title)
        hits = []
        for rid, hit_score in rows:
            post = _load_post(docs[rid]) if rid in docs else None
            if post is None:
                continue
            highlight = None
            if match is not None:
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
        """Counts per local-time bucket; posts lacking the group field are not counted in a grouped
        histogram. Ungrouped buckets hold {"_all": n}; empty grouped buckets hold {}."""
        if interval not in INTERVAL_SECONDS:
            raise ValueError(f"unknown interval {interval!r}; use one of {', '.join(INTERVAL_SECONDS)}")
        column = self._group_column(group_by) if group_by else None
        width = INTERVAL_SECONDS[interval]
        lo = _bucket_start(_epoch(query.start), interval) if query.start else None
        hi = (_bucket_start(_epoch(aware(query.end) - timedelta(microseconds=1)), interval)
              if query.end else None)
        if lo is not None and hi is not None:
            if hi < lo:
                return []
            if (hi - lo) // width + 1 > MAX_BUCKETS:
                raise ValueError(f"{interval} buckets from {query.start} to {query.end} exceed {MAX_BUCKETS}")
        where = self._where(query)
        counts: dict[int, dict[str, int]] = {}
        if where is not None:
            group = f"p.{column}" if column else "'_all'"
            if column:
                where.add(f"p.{column} IS NOT NULL")
            sql = (f"SELECT {_bucket_sql(interval)} AS bucket, {group} AS grp, count(*) FROM posts p "
                   f"WHERE {where.sql} GROUP BY bucket, grp")
            with self._reading("histogram") as conn:
                for bucket, grp, n in conn.execute(sql, where.params):
                    counts.setdefault(int(bucket), {})[str(grp)] = n
        return dense_buckets(counts, lo, hi, width, interval, grouped=bool(column))

    def terms(self, query: PostQuery, field: str, size: int = 10) -> list[Bucket]:
        """Top values by number of posts (ties: value ascending). Missing values are not counted;
        for 'tokens'/'keywords' each post counts once per word."""
        if size <= 0:
            return []
        if field in TERM_KINDS:
            where = self._where(query)
            if where is None:
                return []
            if where.clauses:
                # CROSS JOIN keeps posts as the outer loop: the filters (a time window, mostly)
                # pick few posts, whose terms are then read by primary key.
                sql = (f"SELECT t.term, count(*) AS n FROM posts p CROSS JOIN post_terms t ON t.rid = p.rid "
                       f"WHERE t.kind = ? AND {where.sql} GROUP BY t.term ORDER BY n DESC, t.term LIMIT ?")
            else:
                sql = ("SELECT term, count(*) AS n FROM post_terms WHERE kind = ? "
                       "GROUP BY term ORDER BY n DESC, term LIMIT ?")
            params = [TERM_KINDS[field], *where.params, size]
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
                             "(terms also accepts tokens, keywords)") from None

    def _where(self, query: PostQuery, text_in_join: bool = False) -> _Where | None:
        """SQL conditions on posts `p` for a query; None when the query can match nothing.

        With `text_in_join` the caller joins posts_fts and adds the MATCH itself.
        """
        where = _Where()
        if query.start is not None:
            where.add("p.published_at >= ?", _epoch(query.start))
        if query.end is not None:
            where.add("p.published_at < ?", _epoch(query.end))
        for column, values in (("p.platform", query.platforms), ("p.source", query.sources),
                               ("p.sentiment", query.sentiments), ("p.topic", query.topics),
                               ("p.event_id", query.event_ids), ("p.id", query.ids)):
            if values:
                where.one_of(column, [_value(v) for v in values])
        if query.region_codes:
            parts = [_in_list(c, query.region_codes) for c in ("p.province_code", "p.city_code", "p.district_code")]
            where.add("(" + " OR ".join(p[0] for p in parts) + ")", *[v for p in parts for v in p[1:]])
        if query.enriched is not None:
            where.add("p.enriched = ?", int(query.enriched))
        text = (query.text or "").strip()
        if text and not text_in_join:
            match = self._fts.build(text)
            if match.expression is None:
                return None
            where.add("p.rid IN (SELECT rowid FROM posts_fts WHERE posts_fts MATCH ?)", match.expression)
        return where

    # --- alerts --------------------------------------------------------------------------
    def upsert_alert(self, alert: Alert) -> None:
        row = (alert.id, _value(alert.status), _value(alert.level), alert.agency, alert.topic,
               _epoch(alert.last_seen), alert.model_dump_json())
        with self._writing("upsert alert") as conn:
            conn.execute(
                "INSERT INTO alerts (id, status, level, agency, topic, last_seen, doc) VALUES (?, ?, ?, ?, ?, ?, ?) "
                "ON CONFLICT (id) DO UPDATE SET status = excluded.status, level = excluded.level, "
                "agency = excluded.agency, topic = excluded.topic, last_seen = excluded.last_seen, "
                "doc = excluded.doc", row)

    def get_alert(self, alert_id: str) -> Alert | None:
        with self._reading("get alert") as conn:
            row = conn.execute("SELECT doc FROM alerts WHERE id = ?", (alert_id,)).fetchone()
        return _load_alert(row[0]) if row else None

    def list_alerts(self, *, statuses: tuple[str, ...] = (), since: datetime | None = None,
                    agency: str | None = None, limit: int = 200) -> list[Alert]:
        where = _Where()
        if statuses:
            where.one_of("status", [_value(s) for s in statuses])
        if since is not None:
            where.add("last_seen >= ?", _epoch(since))
        if agency is not None:
            where.add("agency = ?", agency)
        if limit <= 0:
            return []
        with self._reading("list alerts") as conn:
            rows = conn.execute(f"SELECT doc FROM alerts WHERE {where.sql} ORDER BY last_seen DESC, id LIMIT ?",
                                [*where.params, limit]).fetchall()
        return [a for (doc,) in rows if (a := _load_alert(doc)) is not None]

    # --- events --------------------------------------------------------------------------
    def upsert_events(self, events: Iterable[Event]) -> None:
        rows = [(e.id, e.topic, e.post_count, _epoch(e.last_seen), e.model_dump_json()) for e in events]
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
                    if (event := _load_event(doc)) is not None:
                        found[event.id] = event
        return [found[i] for i in wanted if i in found]

    def list_events(self, *, active_since: datetime | None = None, topic: str | None = None,
                    min_posts: int = 1, limit: int = 100) -> list[Event]:
        where = _Where()
        if active_since is not None:
            where.add("last_seen >= ?", _epoch(active_since))
        if topic is not None:
            where.add("topic = ?", topic)
        where.add("post_count >= ?", min_posts)
        if limit <= 0:
            return []
        with self._reading("list events") as conn:
            rows = conn.execute(f"SELECT doc FROM events WHERE {where.sql} ORDER BY last_seen DESC, id LIMIT ?",
                                [*where.params, limit]).fetchall()
        return [e for (doc,) in rows if (e := _load_event(doc)) is not None]

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
