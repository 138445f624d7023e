"""SQLiteStore specifics the backend contract does not cover: schema versions, WAL,
concurrency, bad input and the SQL plans behind the warning queries."""
from __future__ import annotations

import json
import logging
import sqlite3
import subprocess
import sys
import textwrap
import threading
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from index.schema import DEFAULT_TZ, Post, Sentiment, Topic
from index.sqlite.migrations import MIGRATIONS, SCHEMA_VERSION, Migration, migrate
from index.sqlite.store import SQLiteStore
from index.store import PostQuery, StoreError, StoreUnavailable

T0 = datetime(2024, 5, 6, tzinfo=DEFAULT_TZ)
REPO = Path(__file__).resolve().parents[3]


def post(i: int, **update) -> Post:
    fields = dict(id=f"weibo:{i}", platform="weibo", source="weibo_search", title="",
                  content=f"第{i}条 九江暴雨内涝", tokens=["第", str(i), "条", "九江", "暴雨", "内涝"],
                  keywords=["暴雨"], published_at=T0 + timedelta(minutes=i),
                  sentiment=Sentiment(label="负面", score=0.9), topics=[Topic(label="城乡建设", score=0.8)])
    fields.update(update)
    return Post(**fields)


@pytest.fixture
def store(tmp_path: Path):
    s = SQLiteStore(tmp_path / "db" / "yuqing.db")
    s.open()
    yield s
    s.close()


def pragma(path: Path, name: str):
    conn = sqlite3.connect(path)
    try:
        return conn.execute(f"PRAGMA {name}").fetchone()[0]
    finally:
        conn.close()


# What each migration added, undone: turns a database of the latest schema into one of an older version.
UNDO = {
    8: ("DROP TRIGGER post_hours_insert", "DROP TRIGGER post_hours_update", "DROP TRIGGER post_hours_delete",
        "DROP TABLE post_hours"),
    7: ("DROP INDEX posts_overview",),
    6: ("DROP INDEX posts_polarity_time", "ALTER TABLE posts DROP COLUMN polarity"),
    5: ("DROP INDEX post_terms_scheme", "DELETE FROM post_terms WHERE kind = 2",
        "ALTER TABLE posts DROP COLUMN followers", "ALTER TABLE posts DROP COLUMN verified"),
    4: ("DROP INDEX posts_root", "ALTER TABLE posts DROP COLUMN root_id"),
    3: ("DROP TABLE events",),
    2: ("DROP TABLE post_terms",),
}


def rewind(path: Path, version: int) -> None:
    """The database at `path` as `version` wrote it (every later migration undone, newest first)."""
    conn = sqlite3.connect(path)
    for undone in range(SCHEMA_VERSION, version, -1):
        for statement in UNDO[undone]:
            conn.execute(statement)
    conn.execute(f"PRAGMA user_version = {version}")
    conn.commit()
    conn.close()


# --- schema & migrations -----------------------------------------------------------------
def test_open_creates_the_folder_wal_database_at_the_latest_schema(store: SQLiteStore):
    assert store.path.exists()
    assert pragma(store.path, "journal_mode") == "wal"
    assert pragma(store.path, "user_version") == SCHEMA_VERSION == MIGRATIONS[-1].version
    conn = store._connection()
    assert conn.execute("PRAGMA synchronous").fetchone()[0] == 1          # NORMAL
    assert conn.execute("PRAGMA busy_timeout").fetchone()[0] == 30_000


def test_open_is_idempotent_and_reopening_does_not_migrate_again(tmp_path: Path, caplog):
    path = tmp_path / "y.db"
    with SQLiteStore(path) as first:
        first.open()
        first.upsert_posts([post(1)])
    caplog.set_level(logging.INFO, logger="index.sqlite.migrations")
    caplog.clear()   # only what the second open logs counts
    with SQLiteStore(path) as second:
        assert second.count() == 1
    assert not [r for r in caplog.records if r.getMessage() == "store schema migrated"]


def test_v1_database_migrates_and_backfills_hot_words(tmp_path: Path):
    path = tmp_path / "old.db"
    with SQLiteStore(path) as s:
        s.upsert_posts([post(1), post(2, tokens=["暴雨", "积水"], keywords=["积水"])])
    rewind(path, 1)    # no hot-word table, no events table, no root_id, no scheme tags or author columns

    with SQLiteStore(path) as s:
        assert pragma(path, "user_version") == SCHEMA_VERSION
        tokens = {b.key: b.count for b in s.terms(PostQuery(), "tokens", size=50)}
        assert tokens["暴雨"] == 2 and tokens["积水"] == 1
        assert [(b.key, b.count) for b in s.terms(PostQuery(), "keywords")] == [("暴雨", 1), ("积水", 1)]
        assert s.count() == 2 and s.search(PostQuery(text="内涝")).total == 2
        assert s.list_events() == []


def test_v3_database_gains_the_root_id_column(tmp_path: Path):
    path = tmp_path / "v3.db"
    with SQLiteStore(path) as s:
        s.upsert_posts([post(1)])
    rewind(path, 3)
    with SQLiteStore(path) as s:
        assert pragma(path, "user_version") == SCHEMA_VERSION
        assert s.count(PostQuery(root_ids=("weibo:1",))) == 0
        s.upsert_posts([post(2).model_copy(update={"parent_id": "weibo:1", "root_id": "weibo:1"})])
        assert s.count(PostQuery(root_ids=("weibo:1",))) == 1 and s.count() == 2


def test_v4_database_gains_scheme_tags_and_author_reach_from_stored_documents(tmp_path: Path):
    from index.schema import Author
    path = tmp_path / "v4.db"
    with SQLiteStore(path) as s:
        s.upsert_posts([post(1, schemes=["九江汛情"], author=Author(name="九江日报", followers=500_000, verified=True)),
                        post(2)])
    rewind(path, 4)
    with SQLiteStore(path) as s:
        assert pragma(path, "user_version") == SCHEMA_VERSION
        assert s.count(PostQuery(schemes=("九江汛情",))) == 1
        assert s.count(PostQuery(min_followers=100_000)) == 1 and s.count(PostQuery(verified=True)) == 1
        assert s.count(PostQuery(verified=False)) == 1
        plan = " ".join(r[3] for r in s._connection().execute(
            "EXPLAIN QUERY PLAN SELECT rid FROM post_terms WHERE kind = 2 AND term IN ('九江汛情')"))
        assert "post_terms_scheme" in plan


def test_v5_database_gains_the_polarity_column_from_stored_documents(tmp_path: Path):
    path = tmp_path / "v5.db"
    with SQLiteStore(path) as s:
        s.upsert_posts([post(1, polarity=Sentiment(label="负面", score=0.8)), post(2, sentiment=None)])
    rewind(path, 5)
    with SQLiteStore(path) as s:
        assert pragma(path, "user_version") == SCHEMA_VERSION
        assert s.count(PostQuery(polarities=("负面",))) == 1
        assert s.count(PostQuery(sentiments=("负面",))) == 1       # post 1's tone; post 2 has none
        assert {b.key: b.count for b in s.terms(PostQuery(), "polarity")} == {"负面": 1}
        plan = " ".join(r[3] for r in s._connection().execute(
            "EXPLAIN QUERY PLAN SELECT rid FROM posts WHERE polarity = '负面' AND published_at > 0"))
        assert "posts_polarity_time" in plan


def test_a_failing_migration_leaves_the_database_as_it_was(tmp_path: Path):
    conn = sqlite3.connect(tmp_path / "m.db", isolation_level=None)
    migrate(conn, MIGRATIONS[:1])
    broken = Migration(2, "broken", ("CREATE TABLE half_done (a)", "THIS IS NOT SQL"))
    with pytest.raises(sqlite3.OperationalError):
        migrate(conn, [MIGRATIONS[0], broken])
    assert conn.execute("PRAGMA user_version").fetchone()[0] == 1
    assert conn.execute("SELECT count(*) FROM sqlite_master WHERE name = 'half_done'").fetchone()[0] == 0
    assert migrate(conn) == (1, SCHEMA_VERSION)
    conn.close()


def test_a_newer_schema_is_refused(tmp_path: Path):
    path = tmp_path / "future.db"
    conn = sqlite3.connect(path)
    conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    conn.close()
    with pytest.raises(StoreError, match="newer than this program"):
        SQLiteStore(path).open()


def test_a_file_that_is_not_a_database_gives_a_clear_error(tmp_path: Path):
    path = tmp_path / "notes.db"
    path.write_text("这不是数据库" * 200, encoding="utf-8")
    with pytest.raises(StoreError, match="notes.db"):
        SQLiteStore(path).open()


def test_memory_database_is_refused():
    with pytest.raises(StoreError, match="file path"):
        SQLiteStore(":memory:")


def test_store_reopens_on_use_after_close(store: SQLiteStore):
    store.upsert_posts([post(1)])
    store.close()
    assert store.count() == 1


# --- bad input loses nothing ---------------------------------------------------------------
def test_invalid_items_are_reported_and_the_rest_is_written(store: SQLiteStore):
    bad_dict = {"id": "weibo:bad", "platform": "weibo", "source": "s", "published_at": "not a date", "title": "x"}
    good_dict = json.loads(post(7).model_dump_json())
    report = store.upsert_posts([post(1), bad_dict, good_dict, 42])
    assert report.written == 2
    assert set(report.errors) == {"weibo:bad", "#3"}
    assert "published_at" in report.errors["weibo:bad"]
    assert [p.id for p in store.iter_posts()] == ["weibo:1", "weibo:7"]


def test_a_stored_post_that_no_longer_validates_is_skipped_not_fatal(store: SQLiteStore, caplog):
    store.upsert_posts([post(1), post(2), post(3)])
    conn = store._connection()
    conn.execute("UPDATE post_docs SET doc = '{\"id\": \"weibo:2\"}' "
                 "WHERE rid = (SELECT rid FROM posts WHERE id = 'weibo:2')")
    assert [p.id for p in store.iter_posts()] == ["weibo:1", "weibo:3"]
    assert [p.id for p in store.get_posts(["weibo:2", "weibo:3"])] == ["weibo:3"]
    assert any("no longer validates" in r.getMessage() for r in caplog.records)


def test_state_values_must_be_strings(store: SQLiteStore):
    with pytest.raises(TypeError):
        store.set_state("k", 3)  # type: ignore[arg-type]


def test_hot_words_skip_punctuation_and_blank_tokens(store: SQLiteStore):
    store.upsert_posts([post(1, tokens=["暴雨", "，", " ", "。", "内涝", "暴雨"], keywords=["", "内涝"])])
    assert {b.key for b in store.terms(PostQuery(), "tokens", size=50)} == {"暴雨", "内涝"}
    assert [b.key for b in store.terms(PostQuery(), "keywords")] == ["内涝"]


def test_long_value_lists_are_bound_safely(store: SQLiteStore):
    store.upsert_posts([post(i) for i in range(300)])
    wanted = tuple(f"weibo:{i}" for i in range(0, 600, 2))       # 300 ids, half of them missing
    assert store.count(PostQuery(ids=wanted)) == 150
    assert len(store.get_posts(wanted)) == 150


def test_histogram_refuses_absurd_bucket_counts(store: SQLiteStore):
    with pytest.raises(ValueError, match="exceed"):
        store.histogram(PostQuery(start=T0, end=T0 + timedelta(days=3650)), "15m")


def test_text_without_searchable_words_matches_nothing(store: SQLiteStore):
    store.upsert_posts([post(1)])
    assert store.count(PostQuery(text="，。！")) == 0
    assert store.search(PostQuery(text="“”")).total == 0
    assert store.histogram(PostQuery(text="!!"), "day") == []
    assert store.count(PostQuery(text="   ")) == 1       # blank text is no filter


def test_content_word_tokens_still_give_phrases_and_readable_snippets(store: SQLiteStore):
    # Enrichment's tokens here are content words only (的/，dropped) and hold a user-dictionary
    # word (濂溪区) that the store's own segmentation splits.
    store.upsert_posts([post(1, content="濂溪区的暴雨导致道路内涝，市民出行困难",
                             tokens=["濂溪区", "暴雨", "导致", "道路", "内涝", "市民", "出行", "困难"])])
    assert store.search(PostQuery(text='"区的暴雨"')).total == 1
    assert store.search(PostQuery(text="濂溪区")).total == 1
    hit = store.search(PostQuery(text="内涝")).hits[0]
    assert hit.highlight == "濂溪区的暴雨导致道路<em>内涝</em>，市民出行困难"


def test_enrichment_tokens_are_searchable_where_the_store_cuts_differently(store: SQLiteStore):
    # Enrichment's gazetteer keeps 濂溪区 whole; the store's dictionary cuts 濂/溪/区.
    store.upsert_posts([post(1, content="濂溪区暴雨", tokens=["濂溪区", "暴雨"]),
                        post(2, content="区域暴雨", tokens=["区域", "暴雨"])])
    assert [h.post.id for h in store.search(PostQuery(text="濂溪区")).hits] == ["weibo:1"]
    assert store.search(PostQuery(text='"濂溪区暴雨"')).total == 1
    assert store.search(PostQuery(text="暴雨", ids=("weibo:1",))).hits[0].highlight == "濂溪区<em>暴雨</em>"


# --- concurrency -------------------------------------------------------------------------------
def test_readers_in_threads_run_while_a_writer_commits(store: SQLiteStore):
    errors: list[BaseException] = []
    done = threading.Event()

    def write() -> None:
        try:
            for start in range(0, 400, 50):
                store.upsert_posts([post(i) for i in range(start, start + 50)])
        except BaseException as exc:   # noqa: BLE001 - surfaced by the assertion below
            errors.append(exc)
        finally:
            done.set()

    def read() -> None:
        try:
            seen = 0
            while not done.is_set():
                n = store.count()
                assert n >= seen     # committed batches only ever add
                seen = n
                store.search(PostQuery(text="暴雨"), size=5)
                store.histogram(PostQuery(start=T0, end=T0 + timedelta(hours=8)), "hour", group_by="sentiment")
        except BaseException as exc:   # noqa: BLE001
            errors.append(exc)

    threads = [threading.Thread(target=write)] + [threading.Thread(target=read) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert not errors, errors
    assert store.count() == 400
    assert store.search(PostQuery(text="内涝")).total == 400


def test_connections_of_finished_threads_are_released(store: SQLiteStore):
    for _ in range(10):
        t = threading.Thread(target=store.count)
        t.start()
        t.join()
    store.count()
    assert len(store._conns) <= 2


def test_two_processes_write_the_same_database(tmp_path: Path):
    path = tmp_path / "shared.db"
    SQLiteStore(path).open()
    script = textwrap.dedent("""
        import sys
        from datetime import datetime, timedelta
        from index.schema import DEFAULT_TZ, Post
        from index.sqlite.store import SQLiteStore
        path, who = sys.argv[1], sys.argv[2]
        t0 = datetime(2024, 5, 6, tzinfo=DEFAULT_TZ)
        with SQLiteStore(path) as store:
            for start in range(0, 200, 20):
                store.upsert_posts([Post(id=f"{who}:{i}", platform="forum", source="f", title=f"帖子{i}",
                                         content="小区停水", tokens=["小区", "停水"],
                                         published_at=t0 + timedelta(seconds=i))
                                    for i in range(start, start + 20)])
                store.count()
    """)
    procs = [subprocess.Popen([sys.executable, "-c", script, str(path), who], cwd=REPO,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for who in ("a", "b")]
    for proc in procs:
        _, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err[-2000:]
    with SQLiteStore(path) as store:
        assert store.count() == 400
        assert store.terms(PostQuery(), "tokens")[0].count == 400


def test_a_locked_database_raises_store_unavailable(tmp_path: Path):
    path = tmp_path / "busy.db"
    store = SQLiteStore(path, busy_timeout_s=0.2)
    store.open()
    blocker = sqlite3.connect(path, isolation_level=None)
    blocker.execute("BEGIN IMMEDIATE")
    try:
        with pytest.raises(StoreUnavailable, match="busy"):
            store.upsert_posts([post(1)])
        assert store.count() == 0          # WAL: reads go on while another writer holds the lock
    finally:
        blocker.execute("ROLLBACK")
        blocker.close()
    store.upsert_posts([post(1)])
    assert store.count() == 1
    store.close()


# --- query plans -------------------------------------------------------------------------------
def plan(store: SQLiteStore, sql: str, params=()) -> str:
    rows = store._connection().execute(f"EXPLAIN QUERY PLAN {sql}", params).fetchall()
    return " | ".join(r[-1] for r in rows)


def test_warning_queries_use_indexes(store: SQLiteStore):
    store.upsert_posts([post(i) for i in range(50)])
    start, end = T0.timestamp(), (T0 + timedelta(hours=1)).timestamp()
    window = plan(store, "SELECT count(*) FROM posts p WHERE p.published_at >= ? AND p.published_at < ?",
                  (start, end))
    assert "USING" in window and "INDEX" in window and "SCAN p" not in window
    negative = plan(store, "SELECT count(*) FROM posts p WHERE p.sentiment = ? AND p.published_at >= ?",
                    ("负面", start))
    assert "INDEX" in negative and "SCAN p" not in negative
    region = plan(store, "SELECT count(*) FROM posts p WHERE (p.province_code IN (?) OR p.city_code IN (?) "
                         "OR p.district_code IN (?)) AND p.published_at >= ?", ("36", "36", "36", start))
    assert "INDEX" in region
    unenriched = plan(store, "SELECT id FROM posts p WHERE p.enriched = 0 ORDER BY p.published_at")
    assert "posts_unenriched" in unenriched



def traced(store: SQLiteStore, call) -> list[str]:
    """The SQL statements (parameters inlined) that `call` runs on this thread's connection."""
    statements: list[str] = []
    conn = store._connection()
    conn.set_trace_callback(statements.append)
    try:
        call()
    finally:
        conn.set_trace_callback(None)
    return statements


def test_hot_words_read_the_filtered_posts_first(store: SQLiteStore):
    store.upsert_posts([post(i) for i in range(50)])
    statements = traced(store, lambda: store.terms(PostQuery(start=T0), "tokens"))
    (sql,) = [s for s in statements if "post_terms" in s]
    steps = plan(store, sql)
    assert steps.index("SEARCH p USING") < steps.index("SEARCH t USING PRIMARY KEY")


def test_histogram_of_a_window_reads_the_time_index_only(store: SQLiteStore):
    store.upsert_posts([post(i) for i in range(50)])
    statements = traced(store, lambda: store.histogram(PostQuery(start=T0, end=T0 + timedelta(hours=1)), "15m"))
    (sql,) = [s for s in statements if "GROUP BY" in s]
    assert "COVERING INDEX posts_time" in plan(store, sql)
