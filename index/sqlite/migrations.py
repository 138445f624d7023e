"""The SQLite schema, built and upgraded by numbered migrations (PRAGMA user_version).

Each migration runs once, in order, inside one transaction with the others, so a
crash mid-upgrade leaves the previous version intact. Add a migration at the end;
never edit one that has shipped.
"""
from __future__ import annotations

import logging
import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass

from ..store import StoreError

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Migration:
    version: int
    description: str
    statements: tuple[str, ...]


def hour_of(column: str) -> str:
    """SQL: the UTC epoch hour a timestamp column falls in (floor, also before 1970)."""
    floor = f"(CAST({column} AS INTEGER) - ({column} < CAST({column} AS INTEGER)))"
    return f"(({floor} - ((({floor} % 3600) + 3600) % 3600)) / 3600)"


_ROLLUP_KEY = ("{hour}, coalesce({row}.polarity, ''), coalesce({row}.topic, ''), coalesce({row}.district, ''), "
               "{row}.platform")
_ROLLUP_ADD = ("INSERT INTO post_hours (hour, polarity, topic, district, platform, n) VALUES ("
               + _ROLLUP_KEY.replace("{hour}", hour_of("{row}.published_at")) + ", 1) "
               "ON CONFLICT (hour, polarity, topic, district, platform) DO UPDATE SET n = n + 1;")
_ROLLUP_REMOVE = ("UPDATE post_hours SET n = n - 1 WHERE (hour, polarity, topic, district, platform) = ("
                  + _ROLLUP_KEY.replace("{hour}", hour_of("{row}.published_at")) + ");")


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
    # Documents stored before this version cannot hold root_id (the schema had no such field).
    Migration(4, "repost cascades: root_id column", (
        "ALTER TABLE posts ADD COLUMN root_id TEXT",
        "CREATE INDEX posts_root ON posts (root_id) WHERE root_id IS NOT NULL",
    )),
    # Scheme tags live in post_terms (kind 2) like hot words; filters look them up by name.
    # Author reach as columns, for rules that ask for big or verified accounts.
    Migration(5, "monitoring-scheme tags (post_terms kind 2, indexed by scheme); author followers, verified", (
        """INSERT OR IGNORE INTO post_terms (rid, kind, term)
           SELECT d.rid, 2, j.value FROM post_docs d, json_each(d.doc, '$.schemes') j
           WHERE j.type = 'text' AND j.value != ''""",
        "CREATE INDEX post_terms_scheme ON post_terms (term, rid) WHERE kind = 2",
        "ALTER TABLE posts ADD COLUMN followers INTEGER",
        "ALTER TABLE posts ADD COLUMN verified INTEGER NOT NULL DEFAULT 0",
        """UPDATE posts SET
             followers = (SELECT json_extract(d.doc, '$.author.followers') FROM post_docs d WHERE d.rid = posts.rid),
             verified = coalesce((SELECT json_extract(d.doc, '$.author.verified') FROM post_docs d
                                  WHERE d.rid = posts.rid), 0)""",
    )),
    # Governance polarity (舆情倾向, issue 9) beside the emotional sentiment; warnings count it.
    Migration(6, "polarity column, backfilled from the stored documents", (
        "ALTER TABLE posts ADD COLUMN polarity TEXT",
        """UPDATE posts SET polarity = (SELECT json_extract(d.doc, '$.polarity.label') FROM post_docs d
                                        WHERE d.rid = posts.rid)""",
        "CREATE INDEX posts_polarity_time ON posts (polarity, published_at)",
    )),
    # The workbench overview's one pass (SQLiteStore.overview) reads this index alone, no post rows:
    # 30 days of 1M posts in well under a second instead of eleven scans of the rows.
    Migration(7, "covering index for the overview", (
        "CREATE INDEX posts_overview ON posts (published_at, polarity, topic, district, platform)",
    )),
    # Posts per UTC hour × polarity × topic × district × platform, kept by triggers in the same
    # transaction as every post write: the overview of a month reads ~hours × combinations rows,
    # not a million. '' stands for a missing value (a primary key column cannot hold NULL here).
    Migration(8, "hourly rollup of posts for the overview", (
        """CREATE TABLE post_hours (
             hour INTEGER NOT NULL, polarity TEXT NOT NULL, topic TEXT NOT NULL, district TEXT NOT NULL,
             platform TEXT NOT NULL, n INTEGER NOT NULL,
             PRIMARY KEY (hour, polarity, topic, district, platform)) WITHOUT ROWID""",
        f"""CREATE TRIGGER post_hours_insert AFTER INSERT ON posts BEGIN
             {_ROLLUP_ADD.format(row="NEW")}
           END""",
        f"""CREATE TRIGGER post_hours_update AFTER UPDATE OF published_at, polarity, topic, district, platform ON posts
           BEGIN
             {_ROLLUP_REMOVE.format(row="OLD")}
             {_ROLLUP_ADD.format(row="NEW")}
           END""",
        f"""CREATE TRIGGER post_hours_delete AFTER DELETE ON posts BEGIN
             {_ROLLUP_REMOVE.format(row="OLD")}
           END""",
        f"""INSERT INTO post_hours (hour, polarity, topic, district, platform, n)
           SELECT {hour_of("published_at")}, coalesce(polarity, ''), coalesce(topic, ''), coalesce(district, ''),
                  platform, count(*) FROM posts GROUP BY 1, 2, 3, 4, 5""",
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
