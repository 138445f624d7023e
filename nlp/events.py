"""Online event clustering (事件): each post joins the most similar active event or opens a new one.

A post is a sparse TF-IDF vector over its content tokens (jieba IDF; place names
count for less, since nearly every local post names the home city) plus its
hashtags (#九江十里河大量死鱼# is the strongest event signal Weibo has). An event
keeps the sum of its members' vectors, cut to its strongest terms, as centroid.
A post joins the event with the highest cosine similarity above `threshold`
among events active around its publication time; a near-duplicate follows the
post it copies. Candidates come from an inverted index over centroid terms, so
the cost does not grow with the number of events.

Stability: the event id derives from the post that opened the event
("ev:" + post id); a post keeps its event for good; the state that decides
assignments (centroid, counts, first post) is persisted with the event, so
re-running over the same posts, or restarting mid-stream, yields the same ids.
first_post_id and first_seen always name the earliest post, also when an older
post arrives after the event was opened; the id stays.

Horizon: an event takes posts published at most `dormancy` after its newest post
(or before its first), so an event quiet for longer is dormant. Dormant events
leave memory; nlp.linking reads them back from the store if a late post needs them.

Repost cascades: a post whose parent_id or root_id names a post with a known event
joins that event whatever its text ("转发微博", "[心]"), also a dormant one. Its own
words weigh little in the centroid (the k-th such post `relation_weight`/k², all of
them together less than 1.7 × relation_weight of one post), so ten thousand reposts
cannot drag the event off its subject. A relation join outside the
event's active span counts (post_count, last_seen) without stretching the span, so
every event active at a moment still has a post within `dormancy` of it.

Sub-stories (死鱼, 水质谣言, 化工厂排污 of one incident) open events of their own when
their words differ. After a post changes an event's centroid, the event is compared
with the events active within `merge_window` of that post (reposts and copies, which
barely move a centroid, do not trigger this): same place (region codes
on one line, city level or finer), `merge_min_shared_terms` shared non-place terms
and centroid cosine ≥ `merge_similarity` merge them. The older event (earliest first
post) survives with its id; the other is kept as a tombstone (post_count 0,
extra["merged_into"]) and later posts or lookups that name it are redirected. The
caller re-points the merged event's stored posts (nlp.linking). Merges happen post
by post in assignment order, so batching does not change them.
"""
from __future__ import annotations

import logging
import math
import re
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from index.schema import Event, Post, Region, now

from .cleaning import clean_text

logger = logging.getLogger(__name__)

EVENT_PREFIX = "ev:"
STATE_VERSION = 1
MERGED_INTO = "merged_into"                  # Event.extra key of a merged-away event: the survivor's id
# What a repost says when it says nothing: no weight in the centroid.
_REPOST_WORDS = frozenset({"转发", "微博", "转发微博", "转载", "评论", "回复", "repost"})
_REPOST_CHAIN = re.compile(r"//\s*@")                  # "我的话//@甲:甲的话": what follows is the parent's
_MENTION = re.compile(r"@[^\s@:：,，。!！?？/]{1,30}")
_REDIRECT_DEPTH = 16
HASHTAG = re.compile(r"#([^#\s]{2,30})#")
_LEAD_SPLIT = re.compile(r"[。！？!?\n；;]")
_DECORATION = re.compile(r"【[^】]{0,12}】|#|\[[^\[\]\s]{1,8}\]")
_NEGATIVE = "负面"


def event_id_for(post_id: str) -> str:
    return f"{EVENT_PREFIX}{post_id}"


@dataclass(frozen=True)
class EventConfig:
    dormancy: timedelta = timedelta(days=3)   # no post for this long: the event takes no more
    threshold: float = 0.18                   # cosine similarity a post needs to join an event
    post_terms: int = 12                      # strongest terms kept per post
    centroid_terms: int = 40                  # strongest terms kept per event
    probe_terms: int = 6                      # a post's terms that look up candidate events
    min_shared_terms: int = 2                 # one shared word (专项检查, 客流) is a topic, not an event …
    single_term_threshold: float = 0.5        # … unless the similarity is this high (very short posts)
    keywords: int = 8
    title_chars: int = 40
    place_weight: float = 0.4                 # place names are context, not the happening
    hashtag_weight: float = 2.0               # × the median IDF
    relation_weight: float = 0.2              # a repost's own words: the k-th adds relation_weight/k²
    repost_topic_words: int = 15              # a repost with fewer own words takes its event's topic (0: never)
    merge: bool = True                        # merge sub-stories of one incident
    merge_window: timedelta = timedelta(days=2)   # the other event is active this close to the post; ≤ dormancy
    merge_similarity: float = 0.2             # centroid cosine two sub-stories need …
    merge_min_shared_terms: int = 2           # … and this many shared non-place terms (hashtags count);
    merge_strong_terms: int = 5               # this many shared non-place terms need only half the similarity

    def __post_init__(self) -> None:
        if self.merge_window > self.dormancy:
            # nlp.linking keeps `dormancy` of history around each post: a longer window would see
            # events a restarted process does not load, and merge differently.
            raise ValueError("merge_window must not exceed dormancy")


class TermWeights:
    """Turns a post into a normalised term vector."""

    def __init__(self, idf: Callable[[str], float], median_idf: float, is_place: Callable[[str], bool],
                 config: EventConfig | None = None):
        self.idf = idf
        self.median_idf = median_idf
        self.is_place = is_place
        self.config = config or EventConfig()

    def vector(self, post: Post) -> dict[str, float]:
        cfg = self.config
        counts = Counter(w for w in (post.tokens or post.keywords) if len(w) >= 2 and not w.isdigit())
        weights: dict[str, float] = {}
        for word, n in counts.items():
            weight = (1.0 + math.log(n)) * self.idf(word)
            if self.is_place(word):
                weight *= cfg.place_weight
            weights[word] = weight
        for tag in dict.fromkeys(hashtags(post.text)):
            weights[f"#{tag}"] = cfg.hashtag_weight * self.median_idf
        top = sorted(weights.items(), key=lambda kv: (-kv[1], kv[0]))[: cfg.post_terms]
        norm = math.sqrt(sum(w * w for _, w in top)) or 1.0
        return {term: w / norm for term, w in top}

    def probes(self, vector: Mapping[str, float]) -> list[str]:
        """The terms that look up candidates: hashtags and the strongest non-place words."""
        terms = [t for t in vector if t.startswith("#")]
        words = [t for t in vector if not t.startswith("#") and not self.is_place(t)] or \
                [t for t in vector if not t.startswith("#")]
        return terms + words[: self.config.probe_terms]


def hashtags(text: str) -> list[str]:
    return [t.strip() for t in HASHTAG.findall(text or "") if t.strip()]


@dataclass
class _Cluster:
    """An event's working state. The Event document is rebuilt from it when the event is stored;
    everything that decides later assignments is kept in Event.extra, so a restart restores it exactly."""
    id: str
    first: tuple[float, str]                 # (published, post id) of the earliest post
    first_seen: datetime
    last_seen: datetime
    centroid: dict[str, float] = field(default_factory=dict)
    norm: float = 0.0
    post_count: int = 0
    negative_count: int = 0
    platforms: Counter = field(default_factory=Counter)
    topics: Counter = field(default_factory=Counter)
    hashtags: Counter = field(default_factory=Counter)
    regions: Counter = field(default_factory=Counter)
    region_docs: dict[str, dict] = field(default_factory=dict)
    headline: list | None = None             # [title, published, post id] of the earliest titled post
    lead: str = ""                           # first sentence of the earliest post
    relations: int = 0                       # posts with words that joined through a repost relation
    span: tuple[float, float] | None = None  # active span; differs from first/last_seen after relation joins

    def __post_init__(self) -> None:
        # first_ts/last_ts bound the span in which the event takes posts by similarity.
        self.first_ts, self.last_ts = self.span or (self.first[0], self.last_seen.timestamp())

    @property
    def place(self) -> str | None:
        return _most_common(self.regions)

    def similarity(self, vector: Mapping[str, float]) -> float:
        if not self.norm:
            return 0.0
        centroid = self.centroid
        return sum(w * centroid.get(t, 0.0) for t, w in vector.items()) / self.norm

    def shared_terms(self, vector: Mapping[str, float], ignore: Callable[[str], bool]) -> int:
        return sum(1 for t in vector if t in self.centroid and not ignore(t))

    @classmethod
    def from_event(cls, event: Event) -> "_Cluster":
        extra = event.extra
        centroid = {t: float(w) for t, w in (extra.get("centroid") or {}).items()}
        return cls(id=event.id, first=(event.first_seen.timestamp(), event.first_post_id), first_seen=event.first_seen,
                   last_seen=event.last_seen, centroid=centroid, norm=_norm(centroid), post_count=event.post_count,
                   negative_count=event.negative_count, platforms=Counter(event.platforms),
                   topics=Counter(extra.get("topics") or {}), hashtags=Counter(extra.get("hashtags") or {}),
                   regions=Counter(extra.get("regions") or {}), region_docs=dict(extra.get("region_docs") or {}),
                   headline=extra.get("headline"), lead=extra.get("lead") or "",
                   relations=int(extra.get("relations") or 0),
                   span=tuple(extra["span"]) if extra.get("span") else None)

    def to_event(self, keywords: int) -> Event:
        extra = {"version": STATE_VERSION, "centroid": self.centroid, "topics": dict(self.topics),
                 "hashtags": dict(self.hashtags), "regions": dict(self.regions), "region_docs": self.region_docs,
                 "headline": self.headline, "lead": self.lead, "relations": self.relations,
                 "span": [self.first_ts, self.last_ts]}
        return Event(id=self.id, title=_title(self.headline, self.lead, self.hashtags),
                     keywords=[t for t in self.centroid if not t.startswith("#")][:keywords],
                     first_post_id=self.first[1], first_seen=self.first_seen, last_seen=self.last_seen,
                     post_count=self.post_count, negative_count=self.negative_count, platforms=dict(self.platforms),
                     topic=_most_common(self.topics), region=_region(self.regions, self.region_docs),
                     updated_at=now(), extra=extra)

    def tombstone(self, survivor: str, keywords: int) -> Event:
        """What is stored of an event merged into `survivor`: no posts, a pointer (list_events skips it)."""
        event = self.to_event(keywords)
        return event.model_copy(update={"post_count": 0, "negative_count": 0, "platforms": {}, "extra": {
            "version": STATE_VERSION, MERGED_INTO: survivor, "merged_post_count": self.post_count}})

    def absorb(self, other: "_Cluster", centroid_terms: int) -> None:
        """Take over `other`'s posts: the state is what one event holding all of them would have."""
        self.centroid = _cut(Counter(self.centroid) + Counter(other.centroid), centroid_terms)
        self.norm = _norm(self.centroid)
        if other.first < self.first:
            self.first, self.first_seen, self.lead = other.first, other.first_seen, other.lead
        if other.last_seen > self.last_seen:
            self.last_seen = other.last_seen
        self.first_ts, self.last_ts = min(self.first_ts, other.first_ts), max(self.last_ts, other.last_ts)
        self.post_count += other.post_count
        self.negative_count += other.negative_count
        self.relations += other.relations
        self.platforms += other.platforms
        self.topics += other.topics
        self.hashtags = _top(self.hashtags + other.hashtags, 10)
        self.regions = _top(self.regions + other.regions, 8)
        self.region_docs = {c: d for c, d in {**other.region_docs, **self.region_docs}.items() if c in self.regions}
        if other.headline and (self.headline is None or (other.headline[1], other.headline[2]) <
                               (self.headline[1], self.headline[2])):
            self.headline = other.headline


@dataclass
class EventAssignment:
    event_id: str
    new_event: bool = False
    similarity: float = 0.0
    via_duplicate: bool = False
    via_relation: bool = False                # joined the event of the post it reposts or comments on
    own_terms: int = 0                        # a relation join: the post's own words (not the quoted chain)


class EventTracker:
    """Holds the active events in memory and assigns posts to them. One job at a time."""

    def __init__(self, weights: TermWeights, config: EventConfig | None = None):
        self.weights = weights
        self.config = config or weights.config
        self._clusters: dict[str, _Cluster] = {}
        self._postings: dict[str, set[str]] = {}
        self._post_events: dict[str, tuple[str, float]] = {}     # post id → (event id, published)
        self._touched: dict[str, None] = {}
        self._dormancy = self.config.dormancy.total_seconds()
        self._merge_window = self.config.merge_window.total_seconds()
        self._redirects: dict[str, str] = {}                       # merged-away event id → survivor
        self._tombstones: dict[str, Event] = {}                    # merged-away events not yet stored
        self._merged: list[str] = []                               # merged-away ids since take_merged

    def __len__(self) -> int:
        return len(self._clusters)

    @property
    def event_ids(self) -> set[str]:
        return set(self._clusters)

    def event_of(self, post_id: str) -> str | None:
        known = self._post_events.get(post_id)
        return self.resolve(known[0]) if known else None

    def topic_of(self, event_id: str) -> tuple[str, float] | None:
        """The event's topic (most common among its posts with words of their own) and its share."""
        cluster = self._clusters.get(self.resolve(event_id))
        if cluster is None or not cluster.topics:
            return None
        label = _most_common(cluster.topics)
        return (label, cluster.topics[label] / sum(cluster.topics.values())) if label else None

    def resolve(self, event_id: str) -> str:
        """The event that holds an event id's posts now: itself, or the survivor it was merged into."""
        for _ in range(_REDIRECT_DEPTH):
            nxt = self._redirects.get(event_id)
            if nxt is None or nxt == event_id:
                break
            event_id = nxt
        return event_id

    # --- history ----------------------------------------------------------
    def load_events(self, events: Iterable[Event]) -> int:
        """Stored events into memory; a merged-away one only records where its posts went (resolve)."""
        loaded = 0
        for event in events:
            survivor = event.extra.get(MERGED_INTO)
            if survivor:
                self._redirects[event.id] = str(survivor)
                continue
            if event.id in self._clusters:
                continue
            self._add_cluster(_Cluster.from_event(event))
            loaded += 1
        return loaded

    def remember(self, posts: Iterable[Post]) -> None:
        """Posts already assigned (read back from the store): they keep their events and are not counted again."""
        for post in posts:
            if post.event_id:
                self._post_events[post.id] = (post.event_id, post.published_at.timestamp())

    # --- assignment -------------------------------------------------------
    def assign(self, post: Post, duplicate_of: str | None = None) -> EventAssignment:
        """Put `post` into an event; `duplicate_of` is the post it copies (from nlp.dedup).

        The caller makes sure memory holds every stored event that could take this
        post (nlp.linking loads the events of all posts within `dormancy` of it: an
        event grows by steps of at most `dormancy`, so every event active around a
        moment has a post within `dormancy` of it).
        """
        known = self._post_events.get(post.id)
        if known is not None:
            return EventAssignment(self.resolve(known[0]))
        published = post.published_at.timestamp()
        vector = self.weights.vector(post)
        target = None
        related = self.related_cluster(post)
        if related is not None:
            vector = _own_words(post, vector)
            target = EventAssignment(related.id, similarity=related.similarity(vector), via_relation=True,
                                     own_terms=len(vector))
            weight = self.config.relation_weight / (related.relations + 1) ** 2 if vector else 0.0
            self._join(related, post, vector, weight, relation=True)
        elif duplicate_of is not None:
            linked = self.event_of(duplicate_of)
            cluster = self._clusters.get(linked) if linked else None
            if cluster is not None and self._active(cluster, published):
                target = EventAssignment(cluster.id, similarity=cluster.similarity(vector), via_duplicate=True)
                self._join(cluster, post, vector, 0.0)
        if target is None:
            target = self._best(vector, published)
            if target is not None:
                self._join(self._clusters[target.event_id], post, vector, 1.0)
        if target is None:
            cluster = self._open(post, vector)
            target = EventAssignment(cluster.id, new_event=True, similarity=1.0)
        self._post_events[post.id] = (target.event_id, published)
        self._touched[target.event_id] = None
        if self.config.merge and not (target.via_duplicate or target.via_relation):
            target.event_id = self._merge_from(self._clusters[target.event_id], published)
        return target

    def related_cluster(self, post: Post) -> _Cluster | None:
        """The in-memory event of the post this one reposts (parent first, then the cascade's root)."""
        for target in (post.parent_id, post.root_id):
            if target and target != post.id:
                event_id = self.event_of(target)
                cluster = self._clusters.get(event_id) if event_id else None
                if cluster is not None:
                    return cluster
        return None

    def take_merged(self) -> list[str]:
        """Event ids merged away since the last call; their stored posts belong to resolve(id) now."""
        merged, self._merged = self._merged, []
        return merged

    def take_touched(self) -> list[Event]:
        """Events changed since the last call, for the store (merged-away ones as tombstones)."""
        events = []
        for event_id in self._touched:
            if event_id in self._clusters:
                events.append(self._clusters[event_id].to_event(self.config.keywords))
            elif event_id in self._tombstones:
                events.append(self._tombstones.pop(event_id))
        self._touched.clear()
        self._tombstones.clear()
        return events

    def _active(self, cluster: _Cluster, published: float) -> bool:
        dormancy = self._dormancy
        return cluster.last_ts + dormancy >= published >= cluster.first_ts - dormancy

    def _best(self, vector: Mapping[str, float], published: float) -> EventAssignment | None:
        candidates: set[str] = set()
        for term in self.weights.probes(vector):
            candidates.update(self._postings.get(term, ()))
        best, best_key = None, None
        for event_id in candidates:
            cluster = self._clusters[event_id]
            if not self._active(cluster, published):
                continue
            sim = cluster.similarity(vector)
            if sim < self.config.threshold:
                continue
            if (sim < self.config.single_term_threshold
                    and cluster.shared_terms(vector, self.weights.is_place) < self.config.min_shared_terms):
                continue
            key = (-round(sim, 9), cluster.first_ts, event_id)
            if best_key is None or key < best_key:
                best, best_key = EventAssignment(event_id, similarity=sim), key
        return best

    # --- event state ------------------------------------------------------
    def _open(self, post: Post, vector: Mapping[str, float]) -> _Cluster:
        cluster = _Cluster(id=event_id_for(post.id), first=(post.published_at.timestamp(), post.id),
                           first_seen=post.published_at, last_seen=post.published_at)
        self._add_cluster(cluster)
        self._join(cluster, post, vector, 1.0)
        return cluster

    def _join(self, cluster: _Cluster, post: Post, vector: Mapping[str, float], weight: float,
              relation: bool = False) -> None:
        """Count `post` in `cluster`; its vector × `weight` goes into the centroid (a first post: fully)."""
        cfg = self.config
        if not cluster.centroid and not relation:
            weight = 1.0
        if weight and vector:
            merged = Counter(cluster.centroid)
            for term, w in vector.items():
                merged[term] += w * weight
            centroid = _cut(merged, cfg.centroid_terms)
            self._reindex(cluster.id, cluster.centroid, centroid)
            cluster.centroid, cluster.norm = centroid, _norm(centroid)
        published = post.published_at.timestamp()
        # A relation join far outside the active span (a repost of a dormant event) does not stretch it.
        in_span = not relation or not cluster.post_count or self._active(cluster, published)
        first = (published, post.id)
        if first < cluster.first or not cluster.post_count:
            cluster.first, cluster.first_seen = first, post.published_at
            cluster.lead = _lead(post, cfg.title_chars)
        if post.published_at > cluster.last_seen:
            cluster.last_seen = post.published_at
        if in_span:
            cluster.first_ts, cluster.last_ts = min(cluster.first_ts, published), max(cluster.last_ts, published)
        cluster.post_count += 1
        cluster.negative_count += post.sentiment_label == _NEGATIVE
        cluster.platforms[post.platform] += 1
        if relation and vector:
            cluster.relations += 1
        if post.topic and (vector or not relation):
            cluster.topics[post.topic] += 1
        tags = hashtags(post.text)
        if tags:
            cluster.hashtags.update(dict.fromkeys(tags, 1))
            cluster.hashtags = _top(cluster.hashtags, 10)
        # A reposter's home (author region) says nothing about where the happening is.
        if post.region is not None and post.region.code and not (relation and post.region.source == "author"):
            code = post.region.code
            cluster.regions[code] += 1
            cluster.region_docs.setdefault(code, post.region.model_dump(exclude_none=True))
            if len(cluster.regions) > 8:
                cluster.regions = _top(cluster.regions, 8)
                cluster.region_docs = {c: d for c, d in cluster.region_docs.items() if c in cluster.regions}
        title = post.title.strip()
        if title and (cluster.headline is None or first < (cluster.headline[1], cluster.headline[2])):
            cluster.headline = [cut(title, cfg.title_chars), published, post.id]

    def _add_cluster(self, cluster: _Cluster) -> None:
        self._clusters[cluster.id] = cluster
        self._reindex(cluster.id, {}, cluster.centroid)

    def _reindex(self, event_id: str, old: Mapping[str, float], new: Mapping[str, float]) -> None:
        for term in old.keys() - new.keys():
            postings = self._postings.get(term)
            if postings is not None:
                postings.discard(event_id)
                if not postings:
                    del self._postings[term]
        for term in new.keys() - old.keys():
            self._postings.setdefault(term, set()).add(event_id)

    # --- sub-story merge ----------------------------------------------------
    def _merge_from(self, cluster: _Cluster, moment: float) -> str:
        """Merge `cluster` with the sub-stories active around `moment`, repeatedly; the surviving id."""
        while True:
            other = self._merge_candidate(cluster, moment)
            if other is None:
                return cluster.id
            survivor, merged = sorted((cluster, other), key=lambda c: (c.first, c.id))
            self._merge(survivor, merged)
            cluster = survivor

    def _merge_candidate(self, cluster: _Cluster, moment: float) -> _Cluster | None:
        cfg, window = self.config, self._merge_window
        place = cluster.place
        if place is None or len(place) < 4:
            return None
        candidates: set[str] = set()
        for term in self.weights.probes(cluster.centroid):
            candidates.update(self._postings.get(term, ()))
        candidates.discard(cluster.id)
        best, best_key = None, None
        for event_id in candidates:
            other = self._clusters[event_id]
            if other.last_ts < moment - window or other.first_ts > moment + window:
                continue
            if not _same_place(place, other.place):
                continue
            shared = [t for t in cluster.centroid if t in other.centroid]
            overlap = sum(1 for t in shared if not self.weights.is_place(t))
            if overlap < cfg.merge_min_shared_terms:
                continue
            sim = _merge_similarity(cluster, other)
            # A sub-story in other words (the plant accused, the rumour about the water) shares many
            # of the incident's words but few of its strongest: many shared words stand in for similarity.
            needed = cfg.merge_similarity / 2 if cfg.merge_strong_terms and overlap >= cfg.merge_strong_terms \
                else cfg.merge_similarity
            if sim < needed:
                continue
            key = (-round(sim, 9), other.first, event_id)
            if best_key is None or key < best_key:
                best, best_key = other, key
        return best

    def _merge(self, survivor: _Cluster, merged: _Cluster) -> None:
        logger.info("sub-story merged into event", extra={"event_id": survivor.id, "merged": merged.id,
                                                          "posts": merged.post_count})
        old = survivor.centroid
        self._clusters.pop(merged.id)
        self._reindex(merged.id, merged.centroid, {})
        survivor.absorb(merged, self.config.centroid_terms)
        self._reindex(survivor.id, old, survivor.centroid)
        self._redirects[merged.id] = survivor.id
        self._tombstones[merged.id] = merged.tombstone(survivor.id, self.config.keywords)
        self._merged.append(merged.id)
        self._touched[survivor.id] = None
        self._touched[merged.id] = None

    # --- memory -----------------------------------------------------------
    def evict(self, floor: float) -> int:
        """Forget events whose newest post is older than `floor`."""
        stale = [e for e, c in self._clusters.items() if c.last_ts < floor]
        for event_id in stale:
            cluster = self._clusters.pop(event_id)
            self._reindex(event_id, cluster.centroid, {})
            self._touched.pop(event_id, None)
        if stale:
            # Stored posts point at survivors; a redirect is needed only while a survivor is in memory.
            self._redirects = {m: s for m, s in self._redirects.items() if self.resolve(s) in self._clusters}
        return len(stale)

    def forget_posts(self, before: float) -> int:
        """Forget which event the posts published before `before` are in."""
        old = [p for p, (_, t) in self._post_events.items() if t < before]
        for post_id in old:
            del self._post_events[post_id]
        return len(old)


def _own_words(post: Post, vector: Mapping[str, float]) -> dict[str, float]:
    """A repost's terms that are its own: not in the quoted chain (//@甲:…), not a name, not boilerplate."""
    own = _MENTION.sub(" ", _REPOST_CHAIN.split(post.text, maxsplit=1)[0])
    return {t: w for t, w in vector.items()
            if t not in _REPOST_WORDS and (t[1:] if t.startswith("#") else t) in own}


def _cut(weights: Mapping[str, float], n: int) -> dict[str, float]:
    """The n strongest terms, ties by term, weights rounded: the same cut in memory and after a restart."""
    top = sorted(weights.items(), key=lambda kv: (-kv[1], kv[0]))[:n]
    return {t: round(w, 4) for t, w in top}


def _merge_similarity(a: _Cluster, b: _Cluster) -> float:
    """Cosine of the two centroids."""
    return b.similarity(a.centroid) / a.norm if a.norm else 0.0


def _same_place(a: str | None, b: str | None) -> bool:
    """Region codes on one line (360402 and its city 3604), at city level or finer."""
    if not a or not b:
        return False
    short, long = sorted((a, b), key=len)
    return len(short) >= 4 and long.startswith(short)


def _norm(vector: Mapping[str, float]) -> float:
    return math.sqrt(sum(w * w for w in vector.values()))


def _most_common(counts: Mapping[str, int]) -> str | None:
    if not counts:
        return None
    return min(counts.items(), key=lambda kv: (-kv[1], kv[0]))[0]


def _region(counts: Mapping[str, int], docs: Mapping[str, dict]) -> Region | None:
    code = _most_common(counts)
    return Region.model_validate(docs[code]) if code and code in docs else None


def _lead(post: Post, limit: int) -> str:
    """The first sentence of a post, without 【】 tags, hashtag marks and emoticon codes."""
    text = _DECORATION.sub("", clean_text(post.title.strip() or post.content)).strip()
    for part in _LEAD_SPLIT.split(text):
        part = part.strip(" ，,：:")
        if len(part) >= 4:
            return cut(part, limit)
    return cut(text, limit)


def cut(text: str, limit: int) -> str:
    """text[:limit], backed off so that it never ends inside a number: a phone or ID-card number cut
    in two is too short for the masker to know, and titles are shown to every role."""
    if len(text) <= limit:
        return text
    i = limit
    if text[i].isdigit() or text[i] in "Xx":
        while i > 0 and (text[i - 1].isdigit() or (text[i - 1] in " -" and i > 1 and text[i - 2].isdigit())):
            i -= 1
    return text[:i].rstrip()


def _top(counts: Counter, n: int) -> Counter:
    """The n largest counts, ties by key: the same cut in memory and after a restart."""
    return Counter(dict(sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:n]))


def _title(headline: list | None, lead: str, tags: Mapping[str, int]) -> str:
    """A hashtag used by several posts, else the earliest news headline, else the first post's first sentence."""
    shared = [(t, n) for t, n in tags.items() if n >= 2 and len(t) >= 4]
    if shared:
        return min(shared, key=lambda tn: (-tn[1], tn[0]))[0]
    if headline:
        return headline[0]
    return lead or "(无标题)"
