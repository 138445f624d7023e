"""The stateful half of enrichment: near-duplicate groups (nlp.dedup) and events (nlp.events).

Per-post analysis (nlp.enrich) needs nothing but the post; these two steps need
the posts that came before. StreamLinker keeps that history in memory as a cache
of the store it is given, with one rule that makes results independent of the
cache: before a batch is assigned, memory holds every stored post published
within the horizon (the dedup window or the event dormancy, whichever is longer)
of any post in the batch, and the events of those posts — which include every
event that could still take one of them. Whatever is missing is read from the
store (Store.iter_posts over the missing time ranges, Store.get_events by id).
So a restarted process, a late batch of old posts (a backfill) and an
uninterrupted run all see the same history and make the same assignments.

Repost cascades: the posts a batch reposts or comments on (parent_id, root_id)
that memory does not hold are read by id (Store.get_posts, one call a batch),
with their events, so a repost joins its original's event after a restart too.

A batch is sorted by publication time, a repost moved after the posts of the batch
it names (an original listed after its reposts still takes them), then each post
gets its group and its event in that order. When an event is merged into an older
one (a sub-story, nlp.events), its stored posts are read by event id and returned
in `updated` with the survivor's id. The caller stores `posts` and `updated` (earlier posts whose
group or 首发 flag moved), then calls `commit` to store the events. If storing
fails, `reset` drops the cache and the next batch rebuilds it from the store, so
memory never runs ahead of what was stored.

Memory is bounded by eviction: posts published, and events last active, more
than `retention` before the newest post seen (its time clamped to crawl time +
1 day, so one wild timestamp cannot flush everything) are dropped, and read back
only if a late post needs them.
"""
from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from index.schema import DEFAULT_TZ, Event, Post, Topic, aware
from index.store import PostQuery, Store

from .dedup import DedupConfig, Deduplicator
from .events import EventConfig, EventTracker, TermWeights

MAX_REDIRECTS = 8                      # merged-into chains followed when loading events by id

logger = logging.getLogger(__name__)

FUTURE_SLACK = timedelta(days=1)       # how far past its crawl time a post's own timestamp is believed
RETENTION = timedelta(days=6)          # memory keeps this much history before the newest post
EVICT_EVERY = 8                        # batches between memory sweeps


@dataclass
class LinkedBatch:
    posts: list[Post]                                     # the batch, with dup_group, is_first_report, event_id
    updated: list[Post] = field(default_factory=list)     # stored posts whose group or 首发 flag changed
    events: list[Event] = field(default_factory=list)     # events opened or changed by this batch

    @property
    def duplicates(self) -> int:
        return sum(1 for p in self.posts if p.dup_group and not p.is_first_report)


def effective_time(post: Post) -> datetime:
    """Publication time, but never more than a day after the crawl (a bad date must not flush memory)."""
    return min(post.published_at, aware(post.crawled_at) + FUTURE_SLACK)


class Coverage:
    """Disjoint half-open time ranges [start, end) (epoch seconds) whose stored posts are in memory."""

    def __init__(self) -> None:
        self.ranges: list[tuple[float, float]] = []

    def missing(self, start: float, end: float) -> list[tuple[float, float]]:
        gaps, cursor = [], start
        for lo, hi in self.ranges:
            if hi <= cursor:
                continue
            if lo >= end:
                break
            if lo > cursor:
                gaps.append((cursor, lo))
            cursor = max(cursor, hi)
        if cursor < end:
            gaps.append((cursor, end))
        return gaps

    def add(self, start: float, end: float) -> None:
        merged = []
        for lo, hi in sorted([*self.ranges, (start, end)]):
            if merged and lo <= merged[-1][1]:
                merged[-1] = (merged[-1][0], max(merged[-1][1], hi))
            else:
                merged.append((lo, hi))
        self.ranges = merged

    def forget_before(self, moment: float) -> None:
        self.ranges = [(max(lo, moment), hi) for lo, hi in self.ranges if hi > moment]


class StreamLinker:
    def __init__(self, store: Store, weights: TermWeights, *, dedup: DedupConfig | None = None,
                 events: EventConfig | None = None, retention: timedelta = RETENTION,
                 evict_every: int = EVICT_EVERY):
        self.store = store
        self.weights = weights
        self.dedup_config = dedup or DedupConfig()
        self.event_config = events or weights.config
        self.horizon = max(self.dedup_config.window, self.event_config.dormancy)
        self.retention = max(retention, self.horizon)
        self.evict_every = max(1, evict_every)
        self._reset_state()

    @classmethod
    def for_enricher(cls, store: Store, enricher, *, dedup: DedupConfig | None = None,
                     events: EventConfig | None = None, retention: timedelta = RETENTION,
                     evict_every: int = EVICT_EVERY) -> "StreamLinker":
        """Term weights from the enricher's keyword IDF table and gazetteer, so both agree on words and places."""
        config = events or EventConfig()
        keywords = enricher.keywords
        gazetteer = enricher.regions.gazetteer if enricher.regions is not None else None

        def is_place(word: str) -> bool:
            return gazetteer is not None and (bool(gazetteer.lookup(word)) or gazetteer.is_township(word))

        weights = TermWeights(keywords.idf, keywords.median_idf, is_place, config)
        return cls(store, weights, dedup=dedup, events=config, retention=retention, evict_every=evict_every)

    def _reset_state(self) -> None:
        self.dedup = Deduplicator(self.dedup_config)
        self.events = EventTracker(self.weights, self.event_config)
        self._posts_loaded = Coverage()
        self._newest: datetime | None = None
        self._batches = 0

    def reset(self) -> None:
        """Forget everything in memory; later batches read what they need from the store again."""
        self._reset_state()

    @property
    def newest(self) -> datetime | None:
        """The newest (clamped) publication time seen: memory keeps `retention` before it."""
        return self._newest

    # --- history ------------------------------------------------------------
    def _ensure_history(self, batch: Sequence[Post]) -> None:
        horizon = self.horizon.total_seconds()
        spans: list[tuple[float, float]] = []
        for post in batch:                                  # sorted by time: merge as we go
            t = post.published_at.timestamp()
            if spans and t - horizon <= spans[-1][1]:
                spans[-1] = (spans[-1][0], t + horizon + 1)
            else:
                spans.append((t - horizon, t + horizon + 1))
        loaded: list[Post] = []
        for start, end in spans:
            for lo, hi in self._posts_loaded.missing(start, end):
                loaded.extend(self.store.iter_posts(PostQuery(start=_dt(lo), end=_dt(hi))))
                self._posts_loaded.add(lo, hi)
        if loaded:
            self._learn(loaded)
            logger.info("linking history read from the store", extra={"posts": len(loaded),
                                                                       "events": len(self.events)})

    def _learn(self, stored: Sequence[Post]) -> None:
        """Stored posts into memory with their groups, and their events with them."""
        self.dedup.load(stored)
        self.events.remember(stored)
        self._load_events({p.event_id for p in stored if p.event_id})

    def _load_events(self, ids: set[str]) -> None:
        """Events by id into memory; for a merged-away one, the event it was merged into."""
        for _ in range(MAX_REDIRECTS):
            wanted = sorted({self.events.resolve(e) for e in ids} - self.events.event_ids)
            if not wanted:
                return
            self.events.load_events(self.store.get_events(wanted))
            ids = set(wanted)

    def _recall_relations(self, batch: Sequence[Post]) -> None:
        """The posts the batch reposts, and their events, from the store when memory lacks them."""
        in_batch = {p.id for p in batch}
        targets = {t for p in batch for t in (p.parent_id, p.root_id) if t and t not in in_batch}
        if not targets:
            return
        unknown = sorted(t for t in targets if self.events.event_of(t) is None)
        if unknown:
            self.events.remember(self.store.get_posts(unknown))
        self._load_events({e for e in map(self.events.event_of, targets) if e})

    def _recall_stored(self, posts: Sequence[Post]) -> None:
        """Stored posts whose stored time lies outside the loaded ranges (a re-crawl changed it) keep their links."""
        unknown = [p.id for p in posts if not self.dedup.knows(p.id)]
        if not unknown:
            return
        stored = [p for p in self.store.get_posts(unknown) if p.dup_group or p.event_id]
        if stored:
            self._learn(stored)

    # --- linking ------------------------------------------------------------
    def link(self, posts: Sequence[Post]) -> LinkedBatch:
        if not posts:
            return LinkedBatch([])
        unique = {p.id: p for p in posts}                    # the last copy of a repeated id wins, as in the store
        batch = sorted(unique.values(), key=lambda p: (p.published_at, p.id))
        self._ensure_history(batch)
        self._recall_stored(batch)
        self._recall_relations(batch)
        batch = relation_order(batch)
        self.dedup.prepare(batch)
        changed: set[str] = set()
        inherited: dict[str, tuple[str, float]] = {}
        for post in batch:
            moment = effective_time(post)
            if self._newest is None or moment > self._newest:
                self._newest = moment
            assignment, moved = self.dedup.assign(post)
            changed |= moved
            joined = self.events.assign(post, duplicate_of=assignment.duplicate_of)
            if joined.via_relation and joined.own_terms < self.events.config.repost_topic_words:
                # "转发微博", "[心]", "顶": the topic model reads nothing here; the post is about its original.
                topic = self.events.topic_of(joined.event_id)
                if topic is not None:
                    inherited[post.id] = topic
        self.dedup.finish_batch()

        linked = [self._apply(p, inherited.get(p.id)) for p in posts]
        updated = self._updated(changed - unique.keys(), self.events.take_merged(), set(unique))
        events = self.events.take_touched()
        self._batches += 1
        if self._batches % self.evict_every == 0:
            self._evict()
        return LinkedBatch(linked, updated, events)

    def commit(self, batch: LinkedBatch) -> None:
        """Store the batch's events (after the caller stored its posts)."""
        self.store.upsert_events(batch.events)

    def _evict(self) -> None:
        # One floor for posts and events: an event leaves memory only with all of its posts, so
        # reading the posts back (coverage) brings the event back too.
        if self._newest is None:
            return
        floor = (self._newest - self.retention).timestamp()
        self.dedup.evict(floor)
        self.events.forget_posts(floor)
        self.events.evict(floor)
        self._posts_loaded.forget_before(floor)

    def _apply(self, post: Post, topic: tuple[str, float] | None = None) -> Post:
        group = self.dedup.assignment(post.id)
        update: dict = {"event_id": self.events.event_of(post.id) or post.event_id}
        if topic is not None:
            label, share = topic
            update["topics"] = [Topic(label=label, score=round(min(1.0, max(0.0, share)), 4))]
        if group is not None:
            update.update(dup_group=group.dup_group, is_first_report=group.is_first_report)
        return post.model_copy(update=update)

    def _updated(self, ids: set[str], merged: list[str], batch: set[str]) -> list[Post]:
        """Stored posts to re-store: moved dup groups or 首发 flags, and the posts of merged-away events."""
        out: dict[str, Post] = {}
        if ids:
            for stored in self.store.get_posts(sorted(ids)):
                group = self.dedup.assignment(stored.id)
                if group is not None and (group.dup_group, group.is_first_report) != (stored.dup_group,
                                                                                       stored.is_first_report):
                    out[stored.id] = stored.model_copy(update={"dup_group": group.dup_group,
                                                               "is_first_report": group.is_first_report})
        if merged:
            for stored in self.store.iter_posts(PostQuery(event_ids=tuple(sorted(merged)))):
                if stored.id not in batch:
                    post = out.get(stored.id, stored)
                    out[stored.id] = post.model_copy(update={"event_id": self.events.resolve(stored.event_id)})
        return list(out.values())


def relation_order(batch: Sequence[Post]) -> list[Post]:
    """`batch` in its order, except that a post comes after the batch's posts it reposts (parent, root).

    A cycle (bad data) keeps the remaining posts in their order."""
    ids = {p.id for p in batch}
    placed: set[str] = set()
    waiting: dict[str, list[Post]] = {}
    out: list[Post] = []

    def blocker(post: Post) -> str | None:
        for target in (post.parent_id, post.root_id):
            if target and target != post.id and target in ids and target not in placed:
                return target
        return None

    for post in batch:
        stack = [post]
        while stack:
            current = stack.pop()
            if current.id in placed:
                continue
            target = blocker(current)
            if target is not None:
                waiting.setdefault(target, []).append(current)
                continue
            out.append(current)
            placed.add(current.id)
            stack.extend(reversed(waiting.pop(current.id, [])))
    if len(out) < len(batch):
        out.extend(p for p in batch if p.id not in placed)
    return out


def _dt(epoch: float) -> datetime:
    return datetime.fromtimestamp(epoch, tz=DEFAULT_TZ)
