"""The production backend: the Store interface on Elasticsearch 8.

Layout (see index/elasticsearch/templates/*.json and index.elasticsearch.mappings):
  PREFIX-posts-YYYY.MM   monthly post indices behind the alias PREFIX-posts
  PREFIX-alerts          one document per alert, rewritten on every change
  PREFIX-events          one document per event
  PREFIX-state           key/value pairs, read by id (always current)

Every question is a query or an aggregation (count, terms × date_histogram, with a
paged composite aggregation for many groups, terms); nothing scans hits. Writes go through
elasticsearch.helpers.streaming_bulk with stable ids, so writing a post twice
leaves one copy; a post whose month changes is removed from its old index.
Writes are refreshed before they return, so the next read sees them.

When the cluster cannot be reached, posts go to an on-disk spool (index.elasticsearch.spool)
and are replayed, oldest first, on the next write once it answers again.
Reads then raise StoreUnavailable.

The backend needs only the server core of Elasticsearch (no analysis plugins,
scripts, ingest pipelines or _delete_by_query): text is segmented in Python.
"""
from __future__ import annotations

import hashlib
import logging
import threading
from collections.abc import Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal
from zoneinfo import ZoneInfo

from pydantic import ValidationError

from .bulk import BulkInterrupted, BulkOutcome, BulkWriter
from .client import ConnectionSettings, build_client, translated
from .docs import PostDocuments, alert_document, event_document, load_alert, load_event
from .mappings import KINDS, IndexNames, index_templates, mapping
from .query import MATCH_NONE, PostQueryBuilder, TextQueryBuilder, es_time, field_path
from ..schema import Alert, Event, Post, now, status_values
from ..segment import Segmenter, get_segmenter
from .spool import Spool
from ..buckets import INTERVAL_SECONDS, bucket_bounds, check_interval, dense_buckets, time_zone
from ..highlight import highlight_text
from ..store import (
    Bucket, Interval, PostQuery, SearchHit, SearchResult, Store, StoreError, StoreUnavailable, TimeBucket,
    UpsertReport,
)

if TYPE_CHECKING:  # pragma: no cover
    from elasticsearch import Elasticsearch

    from ..config import StoreSettings

logger = logging.getLogger(__name__)

# Store interval → date_histogram interval, rounded in the store's time zone (`time_zone`), so
# buckets start where index.buckets says: local midnight for days, across daylight-saving changes.
HISTOGRAM_INTERVALS: dict[str, dict[str, str]] = {
    "15m": {"fixed_interval": "15m"}, "30m": {"fixed_interval": "30m"}, "hour": {"calendar_interval": "1h"},
    "6h": {"fixed_interval": "6h"}, "day": {"calendar_interval": "1d"}, "week": {"calendar_interval": "1w"},
}
assert set(HISTOGRAM_INTERVALS) == set(INTERVAL_SECONDS)
MAX_WINDOW = 10_000            # index.max_result_window
COMPOSITE_PAGE = 10_000
GROUPS_AT_ONCE = 200           # a grouped histogram with more groups than this pages a composite aggregation
LOOKUP_CHUNK = 2_000           # ids per existence lookup (well under the result window)
ID_MAX_BYTES = 512             # Elasticsearch's limit on _id
_SHOWN_SOURCE_EXCLUDES = ["content_seg"]
_UNESCAPE = {"&#x2F;": "/", "&#x27;": "'", "&quot;": '"'}   # html encoder extras; &lt; &gt; &amp; stay


@dataclass
class _Prepared:
    """One chunk of posts on its way: documents by id, and what became of each post."""
    posts: dict[str, Post]
    docs: dict[str, tuple[str, dict[str, Any]]] = field(default_factory=dict)   # id → (index, document)
    errors: dict[str, str] = field(default_factory=dict)                          # refused, with the reason
    settled: set[str] = field(default_factory=set)                                # stored for good

    def refused(self, failed: dict[str, str], report: UpsertReport) -> None:
        self.errors.update(failed)
        report.errors.update(failed)

    def unsettled(self) -> list[Post]:
        return [p for i, p in self.posts.items() if i not in self.settled and i not in self.errors]


@dataclass
class EsUpsertReport(UpsertReport):
    spooled: int = 0     # posts kept in the local spool for later
    replayed: int = 0    # spooled posts written by this call


def _state_id(key: str) -> str:
    if len(key.encode("utf-8")) <= ID_MAX_BYTES:
        return key
    return "sha1:" + hashlib.sha1(key.encode("utf-8")).hexdigest()


def _api_kwargs(body: dict[str, Any]) -> dict[str, Any]:
    """A JSON body as client keyword arguments (`_meta` is the client's `meta`)."""
    return {key.removeprefix("_"): value for key, value in body.items()}


def _readable(fragment: str) -> str:
    for entity, char in _UNESCAPE.items():
        fragment = fragment.replace(entity, char)
    return fragment


class ElasticsearchStore(Store):
    """Store on an Elasticsearch 8 cluster (or the single test node)."""

    def __init__(self, connection: ConnectionSettings | "Elasticsearch" | None = None, *,
                 index_prefix: str = "yuqing", spool_dir: str | Path | None = None,
                 user_dicts: Iterable[str | Path] = (), shards: int = 1, replicas: int = 1,
                 max_retries: int = 5, initial_backoff_s: float = 0.5, max_backoff_s: float = 30.0,
                 bulk_size: int = 2000, refresh: bool = True, documents: PostDocuments | None = None,
                 timezone: str | ZoneInfo = "Asia/Shanghai", segmenter: Segmenter | None = None):
        if isinstance(connection, ConnectionSettings) or connection is None:
            self.connection = connection or ConnectionSettings()
            self._client: "Elasticsearch | None" = None
        else:
            self.connection = None
            self._client = connection
        self.names = IndexNames(index_prefix)
        self.tz = time_zone(timezone)   # histogram buckets are aligned here; times come back in it
        self.spool = Spool(spool_dir) if spool_dir is not None else None
        self.shards, self.replicas = shards, replicas
        self.max_retries, self.initial_backoff_s, self.max_backoff_s = max_retries, initial_backoff_s, max_backoff_s
        self.bulk_size = bulk_size
        self.refresh = refresh
        segmenter = segmenter or get_segmenter(user_dicts)   # the app's one segmenter when given
        self._docs = documents or PostDocuments(segmenter)
        self._queries = PostQueryBuilder(segmenter)
        self._open_lock = threading.RLock()
        self._opened = False
        self._setup_done = False
        # Set when writes may not be searchable yet (a refresh failed, or the cluster went away
        # mid-write): the next write refreshes first, so looking up existing copies sees them.
        self._unrefreshed = False

    @classmethod
    def from_settings(cls, config: "StoreSettings", *, base_dir: Path, user_dicts: Iterable[str | Path] = (),
                      timezone: str | ZoneInfo = "Asia/Shanghai",
                      segmenter: Segmenter | None = None) -> "ElasticsearchStore":
        es = config.elasticsearch
        spool = Path(es.spool_dir)
        return cls(ConnectionSettings.from_settings(es, base_dir), index_prefix=es.index_prefix,
                   spool_dir=spool if spool.is_absolute() else base_dir / spool, user_dicts=user_dicts,
                   shards=es.number_of_shards, replicas=es.number_of_replicas, max_retries=es.max_retries,
                   timezone=timezone, segmenter=segmenter)

    def __repr__(self) -> str:
        return f"ElasticsearchStore({self._where!r}, prefix={self.names.prefix!r})"

    @property
    def _where(self) -> str:
        if self.connection is not None:
            return ",".join(self.connection.hosts)
        return "elasticsearch"

    @property
    def client(self) -> "Elasticsearch":
        if self._client is None:
            assert self.connection is not None
            self._client = build_client(self.connection)
        return self._client

    def _bulk(self) -> BulkWriter:
        return BulkWriter(self.client, chunk_size=self.bulk_size, max_retries=self.max_retries,
                          initial_backoff_s=self.initial_backoff_s, max_backoff_s=self.max_backoff_s,
                          where=self._where)

    # --- lifecycle -----------------------------------------------------------------------
    def open(self) -> None:
        """Install the index templates. With a spool, an unreachable cluster is not an error:
        posts are spooled until it answers, and reads raise StoreUnavailable."""
        with self._open_lock:
            if self._opened:
                return
            self._opened = True
            try:
                self._ensure_setup()
            except StoreUnavailable as exc:
                if self.spool is None:
                    self._opened = False
                    raise
                logger.warning("Elasticsearch unreachable; posts will be spooled until it answers",
                               extra={"hosts": self._where, "error": str(exc)})
                return
        if self.spool is not None and self.spool:
            try:
                self.replay_spool()
            except StoreUnavailable:
                pass
        logger.info("store opened", extra={"hosts": self._where, "prefix": self.names.prefix})

    def close(self) -> None:
        with self._open_lock:
            if self._client is not None and self.connection is not None:
                self._client.close()
                self._client = None
            self._opened = False
            self._setup_done = False

    def _ready(self) -> None:
        if not self._opened:
            self.open()
        self._ensure_setup()

    def _ensure_setup(self) -> None:
        """Put the index templates and bring existing indices' mappings up to date. Idempotent."""
        if self._setup_done:
            return
        with self._open_lock:
            if self._setup_done:
                return
            from elasticsearch import AuthorizationException
            with translated("set up indices", self._where):
                self.client.cluster.health(timeout="5s")
                templates = index_templates(self.names, shards=self.shards, replicas=self.replicas)
                for name, body in templates.items():
                    try:
                        self.client.indices.put_index_template(name=name, **_api_kwargs(body))
                    except AuthorizationException:
                        # A writer without manage_index_templates can work with templates an
                        # administrator installed (e.g. by starting the app once as one).
                        if not self.client.indices.exists_index_template(name=name):
                            raise
                        logger.warning("index template not updated: no privilege; using the installed one",
                                       extra={"template": name})
                existing = self._existing_indices(expand="open")
            for kind, indices in existing.items():
                if indices:
                    self._update_mapping(kind, indices)
            self._setup_done = True

    def _existing_indices(self, expand: str = "open,closed") -> dict[str, list[str]]:
        found = self.client.indices.get(index=",".join(self.names.all_patterns()), ignore_unavailable=True,
                                        allow_no_indices=True, expand_wildcards=expand, features="aliases")
        kinds: dict[str, list[str]] = {k: [] for k in KINDS}
        for name in found:
            if name.startswith(f"{self.names.posts_alias}-"):
                kinds["posts"].append(name)
            else:
                for kind in ("alerts", "events", "state"):
                    if name == getattr(self.names, kind):
                        kinds[kind].append(name)
        return kinds

    def _update_mapping(self, kind: str, indices: list[str]) -> None:
        """Fields added in a newer schema reach indices created before it; a changed field type
        cannot be applied in place and fails loudly."""
        from elasticsearch import AuthorizationException
        body = mapping(kind)
        try:
            with translated(f"update the {kind} mapping", self._where):
                try:
                    self.client.indices.put_mapping(index=",".join(indices), **_api_kwargs(body))
                except AuthorizationException:
                    logger.warning("mapping not updated: no privilege", extra={"kind": kind})
        except StoreError as exc:
            raise StoreError(f"{exc}. The {kind} indices of prefix {self.names.prefix!r} were created with an "
                             "incompatible mapping; use a new index_prefix or move the data to new indices") from exc

    def drop(self) -> None:
        """Delete every index and template of this prefix. Irreversible; for tests and resets."""
        with translated("drop indices", self._where):
            existing = self._existing_indices()
            names = [n for indices in existing.values() for n in indices]
            for i in range(0, len(names), 50):
                self.client.indices.delete(index=",".join(names[i:i + 50]), ignore_unavailable=True)
            for kind in KINDS:
                self.client.options(ignore_status=404).indices.delete_index_template(name=self.names.template(kind))
        self._setup_done = False

    # --- posts: writing ------------------------------------------------------------------
    def upsert_posts(self, posts: Iterable[Post]) -> EsUpsertReport:
        """Write posts by id. Posts the cluster cannot take now are spooled (report.spooled);
        posts it refuses are listed in report.errors with Elasticsearch's reason."""
        if not self._opened:
            self.open()
        report = EsUpsertReport()
        placed: dict[str, str] = {}          # id → index written by this call
        touched: set[str] = set()
        reachable = self._replay_into(report, placed, touched)
        # While one chunk is on its way to the cluster, the next one's documents are built
        # (jieba, JSON) in a worker thread: the cluster and Python then work at the same time.
        pending: Future[_Prepared] | None = None
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="es-prepare") as pool:
            for chunk in self._chunks(posts, report):
                future = pool.submit(self._prepare, chunk)
                if pending is not None:
                    reachable = self._store_or_spool(pending.result(), reachable, report, placed, touched)
                pending = future
            if pending is not None:
                reachable = self._store_or_spool(pending.result(), reachable, report, placed, touched)
        self._refresh(touched)
        return report

    def _chunks(self, posts: Iterable[Any], report: UpsertReport) -> Iterator[dict[str, Post]]:
        """Validated posts in chunks; within a chunk the last copy of a post wins."""
        chunk: dict[str, Post] = {}
        for position, item in enumerate(posts):
            post = self._validated(item, position, report)
            if post is None:
                continue
            chunk.pop(post.id, None)
            chunk[post.id] = post
            if len(chunk) >= LOOKUP_CHUNK:
                yield chunk
                chunk = {}
        if chunk:
            yield chunk

    @staticmethod
    def _validated(item: Any, position: int, report: UpsertReport) -> Post | None:
        if isinstance(item, Post):
            return item
        key = item.get("id") if isinstance(item, dict) else getattr(item, "id", None)
        key = str(key) if key else f"#{position}"
        try:
            return Post.model_validate(item)
        except (ValidationError, ValueError, TypeError) as exc:
            report.errors[key] = f"{type(exc).__name__}: {exc}"
            logger.warning("post not stored", extra={"post_id": key, "error": str(exc)[:500]})
            return None

    def _prepare(self, chunk: dict[str, Post]) -> "_Prepared":
        """Documents and target indices for a chunk (CPU only, no I/O: safe in a worker thread)."""
        prepared = _Prepared(chunk)
        for post_id, post in chunk.items():
            size = len(post_id.encode("utf-8"))
            if size > ID_MAX_BYTES:   # would fail the whole bulk request, not just this post
                prepared.errors[post_id] = f"id is {size} bytes; Elasticsearch allows {ID_MAX_BYTES}"
                continue
            try:
                prepared.docs[post_id] = (self.names.posts_index(post.published_at), self._docs.document(post))
            except (ValueError, TypeError) as exc:
                prepared.errors[post_id] = f"{type(exc).__name__}: {exc}"
        return prepared

    def _store_or_spool(self, prepared: "_Prepared", reachable: bool, report: EsUpsertReport,
                        placed: dict[str, str], touched: set[str]) -> bool:
        report.errors.update(prepared.errors)
        if reachable:
            try:
                self._ensure_setup()
                unsettled = self._store_chunk(prepared, report, placed, touched)
            except StoreUnavailable as exc:
                self._unrefreshed = True
                if self.spool is None:
                    raise
                logger.warning("Elasticsearch unavailable; spooling posts", extra={"error": str(exc)})
                unsettled = prepared.unsettled()
                reachable = False
            else:
                if not unsettled:
                    return True
                if self.spool is None:
                    raise StoreUnavailable(f"{len(unsettled)} posts still rejected by {self._where} after "
                                           f"{self.max_retries} retries")
                reachable = False
        else:
            unsettled = prepared.unsettled()
        if self.spool is None:
            raise StoreUnavailable(f"Elasticsearch at {self._where} is unavailable")
        report.spooled += self.spool.append(unsettled)
        return reachable

    def _store_chunk(self, prepared: "_Prepared", report: UpsertReport, placed: dict[str, str],
                     touched: set[str]) -> list[Post]:
        """Index one prepared chunk; returns the posts the cluster could not take now (429/5xx
        after retries). Raises StoreUnavailable when it went away part-way (prepared.settled
        says what stuck)."""
        docs = prepared.docs
        if not docs:
            return []
        if self._unrefreshed:
            with translated("refresh", self._where):
                self.client.indices.refresh(index=self.names.posts_alias, ignore_unavailable=True,
                                            allow_no_indices=True)
            self._unrefreshed = False
        copies = self._locate(list(docs), placed)
        actions = []
        for post_id, (index, doc) in docs.items():
            alert_ids = sorted({a for _, ids in copies.get(post_id, []) for a in ids})
            if alert_ids:
                doc["alert_ids"] = alert_ids
            actions.append({"_op_type": "index", "_index": index, "_id": post_id, "_source": doc})
        # A post moving to another month's index counts as stored only once its old copy is gone;
        # until then it stays unsettled (spooled), and the replay finishes the move.
        moving = {i for i, (index, _) in docs.items() if any(old != index for old, _ in copies.get(i, []))}
        try:
            outcome = self._bulk().write(actions)
        except BulkInterrupted as exc:
            prepared.refused(exc.outcome.failed, report)
            self._settle([i for i in exc.outcome.ok if i not in moving], prepared, report, placed, touched)
            raise
        prepared.refused(outcome.failed, report)
        self._settle([i for i in outcome.ok if i not in moving], prepared, report, placed, touched)
        unsettled = [prepared.posts[i] for i in outcome.retry_later]
        to_clean = [i for i in outcome.ok if i in moving]
        if to_clean:
            stale = [{"_op_type": "delete", "_index": old, "_id": i}
                     for i in to_clean for old, _ in copies[i] if old != docs[i][0]]
            touched.update(a["_index"] for a in stale)
            try:
                cleaned = self._bulk().write(stale)
            except BulkInterrupted as exc:
                self._settle(self._moved(to_clean, exc.outcome), prepared, report, placed, touched)
                raise
            done = self._moved(to_clean, cleaned)
            self._settle(done, prepared, report, placed, touched)
            unsettled += [prepared.posts[i] for i in to_clean if i not in done]
            if len(done) < len(to_clean):
                logger.warning("old copies of moved posts not removed yet; the posts stay spooled",
                               extra={"failed": {**cleaned.failed, **cleaned.retry_later}})
        return unsettled

    @staticmethod
    def _moved(ids: list[str], deletes: BulkOutcome) -> list[str]:
        """Moved posts all of whose old copies were deleted."""
        ok = set(deletes.ok)
        return [i for i in ids if i in ok and i not in deletes.failed and i not in deletes.retry_later]

    @staticmethod
    def _settle(ok_ids: list[str], prepared: "_Prepared", report: UpsertReport, placed: dict[str, str],
                touched: set[str]) -> None:
        for post_id in ok_ids:
            index = prepared.docs[post_id][0]
            placed[post_id] = index
            touched.add(index)
            prepared.settled.add(post_id)
        report.written += len(ok_ids)

    def _locate(self, ids: list[str], placed: dict[str, str]) -> dict[str, list[tuple[str, list[str]]]]:
        """Where copies of these posts are stored now, with the alerts citing them."""
        copies: dict[str, list[tuple[str, list[str]]]] = {}
        with translated("look up posts", self._where):
            resp = self.client.search(index=self.names.posts_alias, query={"ids": {"values": ids}},
                                      source=False, docvalue_fields=["alert_ids"],
                                      size=min(2 * len(ids) + 10, MAX_WINDOW), track_total_hits=False,
                                      ignore_unavailable=True, allow_no_indices=True)
        for hit in resp["hits"]["hits"]:
            linked = list(hit.get("fields", {}).get("alert_ids") or [])
            copies.setdefault(hit["_id"], []).append((hit["_index"], linked))
        # Written earlier in this call but maybe not yet visible to search.
        for post_id in ids:
            index = placed.get(post_id)
            if index and all(index != i for i, _ in copies.get(post_id, [])):
                copies.setdefault(post_id, []).append((index, []))
        return copies

    def _refresh(self, indices: set[str]) -> None:
        if not (self.refresh and indices):
            return
        try:
            with translated("refresh", self._where):
                self.client.indices.refresh(index=",".join(sorted(indices)), ignore_unavailable=True)
        except StoreUnavailable as exc:
            # The writes are acknowledged (and durable); they become visible with the next refresh.
            self._unrefreshed = True
            logger.warning("refresh after write failed", extra={"error": str(exc)})

    # --- spool ---------------------------------------------------------------------------
    def replay_spool(self) -> int:
        """Write spooled posts now, oldest first. Returns how many were written; raises
        StoreUnavailable when the cluster is still away."""
        report = EsUpsertReport()
        touched: set[str] = set()
        if not self._replay_into(report, {}, touched):
            self._refresh(touched)
            raise StoreUnavailable(f"Elasticsearch at {self._where} is unavailable; "
                                   f"{self.spool.pending() if self.spool else 0} posts stay spooled")
        self._refresh(touched)
        return report.replayed

    def _replay_into(self, report: EsUpsertReport, placed: dict[str, str], touched: set[str]) -> bool:
        """Replay the spool into this report. Returns False when the cluster is unavailable
        (the remaining batches stay spooled, and new posts must queue behind them)."""
        if self.spool is None or not self.spool:
            return True
        with self.spool.replay_lock() as mine:
            if not mine:
                return False     # another process is replaying; queue behind it
            for batch in self.spool.batches():
                chunk = {p.id: p for p in batch.posts}
                written_before = report.written
                try:
                    self._ensure_setup()
                    prepared = self._prepare(chunk)
                    report.errors.update(prepared.errors)
                    unsettled = self._store_chunk(prepared, report, placed, touched)
                except StoreUnavailable as exc:
                    self._unrefreshed = True
                    report.replayed += report.written - written_before
                    logger.info("spool replay stopped; Elasticsearch unavailable", extra={"error": str(exc)})
                    return False
                report.replayed += report.written - written_before
                if unsettled:
                    return False
                self.spool.done(batch)
                logger.info("spooled posts written", extra={"posts": len(chunk), "file": batch.path.name})
        return True

    # --- posts: reading ------------------------------------------------------------------
    def _search(self, operation: str, **body: Any) -> dict[str, Any]:
        self._ready()
        with translated(operation, self._where):
            return self.client.search(index=self.names.posts_alias, ignore_unavailable=True,
                                      allow_no_indices=True, **body).body

    def get_posts(self, ids: Iterable[str]) -> list[Post]:
        wanted = list(ids)
        unique = list(dict.fromkeys(wanted))
        found: dict[str, Post] = {}
        for i in range(0, len(unique), LOOKUP_CHUNK):
            chunk = unique[i:i + LOOKUP_CHUNK]
            resp = self._search("get posts", query={"ids": {"values": chunk}}, size=min(2 * len(chunk), MAX_WINDOW),
                                source_excludes=_SHOWN_SOURCE_EXCLUDES, track_total_hits=False)
            for hit in resp["hits"]["hits"]:
                post = PostDocuments.post(hit["_source"], self.tz)
                if post is not None:
                    found.setdefault(post.id, post)
        return [found[i] for i in wanted if i in found]

    def iter_posts(self, query: PostQuery = PostQuery(), batch_size: int = 500) -> Iterator[Post]:
        if batch_size < 1:
            raise ValueError("batch_size must be at least 1")
        size = min(batch_size, MAX_WINDOW)
        es_query, _ = self._queries.build(query)
        if es_query is MATCH_NONE:
            return
        after: list[Any] | None = None
        while True:   # search_after on (published_at, id): stable and fast at any depth
            extra = {"search_after": after} if after is not None else {}
            resp = self._search("iterate posts", query=es_query, size=size, track_total_hits=False,
                                sort=[{"published_at": "asc"}, {"id": "asc"}],
                                source_excludes=_SHOWN_SOURCE_EXCLUDES, **extra)
            hits = resp["hits"]["hits"]
            for hit in hits:
                post = PostDocuments.post(hit["_source"], self.tz)
                if post is not None:
                    yield post
            if len(hits) < size:
                return
            after = hits[-1]["sort"]

    def search(self, query: PostQuery, *, size: int = 20, offset: int = 0,
               sort: Literal["relevance", "newest", "oldest", "engagement"] = "newest") -> SearchResult:
        if size < 0 or offset < 0:
            raise ValueError("size and offset must not be negative")
        orders: dict[str, list[Any]] = {
            "newest": [{"published_at": "desc"}, {"id": "desc"}],
            "oldest": [{"published_at": "asc"}, {"id": "asc"}],
            "engagement": [{"engagement.total": "desc"}, {"published_at": "desc"}, {"id": "desc"}],
        }
        if sort not in (*orders, "relevance"):
            raise ValueError(f"unknown sort {sort!r}; use relevance, newest, oldest or engagement")
        if offset + size > MAX_WINDOW:
            raise ValueError(f"offset + size may not exceed {MAX_WINDOW}; narrow the query or use iter_posts")
        es_query, match = self._queries.build(query, scored=True)
        if es_query is MATCH_NONE:
            return SearchResult(total=0)
        body: dict[str, Any] = {"query": es_query, "from_": offset, "size": size, "track_total_hits": True,
                                "source_excludes": _SHOWN_SOURCE_EXCLUDES}
        if match is None:
            body["sort"] = orders.get(sort, orders["newest"])
        else:
            body["sort"] = (["_score", *orders["newest"]] if sort == "relevance" else orders[sort])
            body["track_scores"] = True
            body["highlight"] = {
                "encoder": "html", "pre_tags": ["<em>"], "post_tags": ["</em>"],
                "fields": {
                    "content": {"number_of_fragments": 1, "fragment_size": 120,
                                "highlight_query": TextQueryBuilder.highlight_query("content", match.highlight)},
                    "title": {"number_of_fragments": 0,
                              "highlight_query": TextQueryBuilder.highlight_query("title", match.highlight)},
                },
            }
        resp = self._search("search", **body)
        hits = []
        for hit in resp["hits"]["hits"]:
            post = PostDocuments.post(hit["_source"], self.tz)
            if post is None:
                continue
            highlight = None
            if match is not None:
                marked = hit.get("highlight", {})
                fragment = (marked.get("content") or marked.get("title") or [None])[0]
                highlight = (_readable(fragment) if fragment else highlight_text(post.content, match.highlight)
                             or highlight_text(post.title, match.highlight))
            hits.append(SearchHit(post=post, score=float(hit.get("_score") or 0.0), highlight=highlight))
        return SearchResult(total=int(resp["hits"]["total"]["value"]), hits=hits)

    def count(self, query: PostQuery = PostQuery()) -> int:
        es_query, _ = self._queries.build(query)
        if es_query is MATCH_NONE:
            return 0
        self._ready()
        with translated("count", self._where):
            return int(self.client.count(index=self.names.posts_alias, query=es_query, ignore_unavailable=True,
                                         allow_no_indices=True)["count"])

    # --- aggregations --------------------------------------------------------------------
    def histogram(self, query: PostQuery, interval: Interval, group_by: str | None = None) -> list[TimeBucket]:
        """Counts per local-time bucket (self.tz); posts lacking the group field are not counted in a
        grouped histogram. Ungrouped buckets hold {"_all": n}; empty grouped buckets hold {}."""
        check_interval(interval)
        path = field_path(group_by) if group_by else None
        bounds = bucket_bounds(query.start, query.end, interval, self.tz)
        if bounds is None:
            return []
        lo, hi = bounds
        es_query, _ = self._queries.build(query)
        counts: dict[int, dict[str, int]] = {}
        if es_query is not MATCH_NONE:
            date_histogram = {"field": "published_at", "time_zone": self.tz.key, **HISTOGRAM_INTERVALS[interval]}
            if path is None:
                resp = self._search("histogram", query=es_query, size=0, track_total_hits=False, aggs={
                    "h": {"date_histogram": {**date_histogram, "min_doc_count": 1}}})
                for b in resp["aggregations"]["h"]["buckets"]:
                    counts[b["key"] // 1000] = {"_all": b["doc_count"]}
            else:
                self._grouped_counts(self._with_value(es_query, path), date_histogram, path, counts)
        return dense_buckets(counts, lo, hi, interval, self.tz, grouped=bool(path))

    def _grouped_counts(self, es_query: dict[str, Any], date_histogram: dict[str, Any], path: str,
                        counts: dict[int, dict[str, int]]) -> None:
        """terms × date_histogram; exact when no shard left values out (sum_other_doc_count 0),
        which holds for the usual low-cardinality groups. Otherwise a composite aggregation,
        paged, gives the exact answer for any number of groups."""
        resp = self._search("histogram", query=es_query, size=0, track_total_hits=False, aggs={"g": {
            "terms": {"field": path, "size": GROUPS_AT_ONCE, "shard_size": GROUPS_AT_ONCE},
            "aggs": {"h": {"date_histogram": {**date_histogram, "min_doc_count": 1}}}}})
        terms = resp["aggregations"]["g"]
        if terms["sum_other_doc_count"] == 0:
            for group in terms["buckets"]:
                for b in group["h"]["buckets"]:
                    counts.setdefault(b["key"] // 1000, {})[str(group["key"])] = b["doc_count"]
            return
        after: dict[str, Any] | None = None
        while True:
            composite: dict[str, Any] = {"size": COMPOSITE_PAGE, "sources": [
                {"t": {"date_histogram": date_histogram}}, {"g": {"terms": {"field": path}}}]}
            if after is not None:
                composite["after"] = after
            resp = self._search("histogram", query=es_query, size=0, track_total_hits=False,
                                aggs={"c": {"composite": composite}})
            agg = resp["aggregations"]["c"]
            for b in agg["buckets"]:
                counts.setdefault(b["key"]["t"] // 1000, {})[str(b["key"]["g"])] = b["doc_count"]
            after = agg.get("after_key")
            if len(agg["buckets"]) < COMPOSITE_PAGE or after is None:
                return

    @staticmethod
    def _with_value(es_query: dict[str, Any], path: str) -> dict[str, Any]:
        """Only posts with a non-empty value in `path` (as the SQLite backend counts them)."""
        return {"bool": {"filter": [es_query, {"exists": {"field": path}}], "must_not": [{"term": {path: ""}}]}}

    def terms(self, query: PostQuery, field: str, size: int = 10) -> list[Bucket]:
        """Top values by number of posts (ties: value ascending). Missing values are not counted;
        for 'tokens'/'keywords' each post counts once per word."""
        path = field_path(field, allow_terms=True)
        if size <= 0:
            return []
        es_query, _ = self._queries.build(query)
        if es_query is MATCH_NONE:
            return []
        resp = self._search("terms", query=es_query, size=0, track_total_hits=False, aggs={"t": {"terms": {
            "field": path, "size": size, "shard_size": max(size * 5, 100), "exclude": [""],
            "order": [{"_count": "desc"}, {"_key": "asc"}]}}})
        return [Bucket(key=str(b["key"]), count=int(b["doc_count"])) for b in resp["aggregations"]["t"]["buckets"]]

    # --- alerts --------------------------------------------------------------------------
    def upsert_alert(self, alert: Alert) -> None:
        self._ready()
        with translated("upsert alert", self._where):
            self.client.index(index=self.names.alerts, id=alert.id, document=alert_document(alert), refresh=True)
        self._link_posts(alert)

    def _link_posts(self, alert: Alert) -> None:
        """Mark the posts an alert cites (alert_ids), for Kibana's 'posts linked to alerts'.
        Best effort: the alert itself is already stored, and is rewritten on every change."""
        ids = list(dict.fromkeys(alert.post_ids))
        if not ids:
            return
        try:
            copies = self._locate(ids, {})
            actions = [{"_op_type": "update", "_index": index, "_id": post_id,
                        "doc": {"alert_ids": sorted({*linked, alert.id})}}
                       for post_id, found in copies.items() for index, linked in found if alert.id not in linked]
            if actions:
                outcome = self._bulk().write(actions)
                self._refresh({a["_index"] for a in actions})
                if outcome.failed:
                    logger.warning("posts not linked to alert", extra={"alert_id": alert.id,
                                                                       "failed": outcome.failed})
        except StoreError as exc:
            logger.warning("posts not linked to alert", extra={"alert_id": alert.id, "error": str(exc)})

    def get_alert(self, alert_id: str) -> Alert | None:
        source = self._get(self.names.alerts, alert_id, "get alert")
        return load_alert(source, self.tz) if source is not None else None

    def list_alerts(self, *, statuses: tuple[str, ...] = (), since: datetime | None = None,
                    agency: str | None = None, limit: int = 200) -> list[Alert]:
        if limit <= 0:
            return []
        filters: list[dict[str, Any]] = []
        if statuses:
            filters.append({"terms": {"status": status_values([getattr(s, "value", s) for s in statuses])}})
        if since is not None:
            filters.append({"range": {"last_seen": {"gte": es_time(since)}}})
        if agency is not None:
            filters.append({"term": {"agency": agency}})
        hits = self._search_index(self.names.alerts, "list alerts", filters, limit,
                                  [{"last_seen": "desc"}, {"id": "asc"}])
        return [a for h in hits if (a := load_alert(h["_source"], self.tz)) is not None]

    # --- events --------------------------------------------------------------------------
    def upsert_events(self, events: Iterable[Event]) -> None:
        actions = [{"_op_type": "index", "_index": self.names.events, "_id": e.id, "_source": event_document(e)}
                   for e in events]
        if not actions:
            return
        self._ready()
        outcome = self._bulk().write(actions)
        if outcome.retry_later:
            raise StoreUnavailable(f"{len(outcome.retry_later)} events not stored: "
                                   f"{next(iter(outcome.retry_later.values()))}")
        if outcome.failed:
            raise StoreError(f"{len(outcome.failed)} events refused: {next(iter(outcome.failed.items()))}")
        self._refresh({self.names.events})

    def get_events(self, ids: Iterable[str]) -> list[Event]:
        wanted = list(dict.fromkeys(ids))
        if not wanted:
            return []
        self._ready()
        found: dict[str, Event] = {}
        for i in range(0, len(wanted), LOOKUP_CHUNK):
            chunk = wanted[i:i + LOOKUP_CHUNK]
            with translated("get events", self._where):
                resp = self.client.options(ignore_status=404).mget(index=self.names.events, ids=chunk)
            for doc in resp.body.get("docs", []):
                if doc.get("found") and (event := load_event(doc["_source"], self.tz)) is not None:
                    found[event.id] = event
        return [found[i] for i in wanted if i in found]

    def list_events(self, *, active_since: datetime | None = None, topic: str | None = None,
                    min_posts: int = 1, limit: int = 100) -> list[Event]:
        if limit <= 0:
            return []
        filters: list[dict[str, Any]] = [{"range": {"post_count": {"gte": min_posts}}}]
        if active_since is not None:
            filters.append({"range": {"last_seen": {"gte": es_time(active_since)}}})
        if topic is not None:
            filters.append({"term": {"topic": topic}})
        hits = self._search_index(self.names.events, "list events", filters, limit,
                                  [{"last_seen": "desc"}, {"id": "asc"}])
        return [e for h in hits if (e := load_event(h["_source"], self.tz)) is not None]

    # --- key/value state -----------------------------------------------------------------
    def get_state(self, key: str) -> str | None:
        source = self._get(self.names.state, _state_id(key), "get state")
        return None if source is None else str(source["value"])

    def set_state(self, key: str, value: str) -> None:
        if not isinstance(value, str):
            raise TypeError(f"state values are strings; got {type(value).__name__} for {key!r}")
        self._ready()
        with translated("set state", self._where):
            self.client.index(index=self.names.state, id=_state_id(key),
                              document={"key": key, "value": value, "updated_at": es_time(now())})

    # --- helpers -------------------------------------------------------------------------
    def _get(self, index: str, doc_id: str, operation: str) -> dict[str, Any] | None:
        """A document by id (real-time), None when it or its index is missing."""
        self._ready()
        with translated(operation, self._where):
            resp = self.client.options(ignore_status=404).get(index=index, id=doc_id)
        body = resp.body
        return body.get("_source") if body.get("found") else None

    def _search_index(self, index: str, operation: str, filters: list[dict[str, Any]], limit: int,
                      sort: list[Any]) -> list[dict[str, Any]]:
        self._ready()
        with translated(operation, self._where):
            resp = self.client.search(index=index, query={"bool": {"filter": filters}}, sort=sort,
                                      size=min(limit, MAX_WINDOW), track_total_hits=False,
                                      ignore_unavailable=True, allow_no_indices=True)
        return resp["hits"]["hits"]


__all__ = ["ElasticsearchStore", "EsUpsertReport"]
