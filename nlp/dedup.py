"""Near-duplicate groups: reposts and reprints of one text, and which of them came first (首发).

A post joins the group of every known post it nearly duplicates (groups it
bridges merge); the group id is the id of its earliest post, and that post
carries is_first_report. When a post arrives late but is older than its group's
first report (a later crawl batch holds the original), it takes over: the group
is renamed to its id and every member whose dup_group or flag changed is
reported back, so the caller can re-store them. Since every pair of posts within
the window is compared once, whichever arrives second, the groups are the
connected components of the near-duplicate relation: the same in any arrival
order.

Similarity: character 3-gram shingles of a hard-normalised text (no links,
mentions, emoticon codes, repost prefixes or punctuation), compared through
128-permutation MinHash signatures (datasketch). Two texts are near-duplicates
when their estimated Jaccard similarity is high, or when the shorter one lies
almost entirely inside the longer (a repost that quotes part of a notice).

Candidates come from a banded LSH index (42 bands × 3 rows) kept as sorted
numpy arrays: about 1 KB per post, against ~13 KB for datasketch.MinHashLSH's
dict-of-sets, which matters for a week of posts held in memory.

The index is a cache of the store: nlp.linking loads every stored post published
within `window` of a batch before the batch is assigned, and evicts posts long
past, so assignments are the same whether the process ran all along or just
restarted.
"""
from __future__ import annotations

import logging
import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import timedelta

import numpy as np
from datasketch import MinHash

from index.schema import Post

from .cleaning import clean_text

logger = logging.getLogger(__name__)

SHINGLE = 3
NUM_PERM = 128
BANDS, ROWS = 42, 3              # P(candidate) ≈ 0.5 at Jaccard 0.25, 0.98 at 0.5
_MIX = np.array([0x9E3779B97F4A7C15, 0xC2B2AE3D27D4EB4F, 0x165667B19E3779F9], dtype=np.uint64)

_EMOTICON = re.compile(r"\[[^\[\]\s]{1,8}\]")
_MENTION = re.compile(r"@[^\s@:：,，。!！?？/）)]{1,30}")
_NOT_TEXT = re.compile(r"[^0-9a-z\u3400-\u9fff]+")
# What reposters put in front of the copied text, once punctuation is gone.
_REPOST_PREFIX = re.compile(r"^(?:转发微博|转发|转|搬运|扩散|求扩散|紧急扩散|分享|repost|rt)+")


def fingerprint_text(text: str) -> str:
    """Only the letters, digits and CJK characters that make a text what it is, lower-cased."""
    text = unicodedata.normalize("NFKC", clean_text(text)).lower()
    text = _MENTION.sub("", _EMOTICON.sub("", text))
    return _REPOST_PREFIX.sub("", _NOT_TEXT.sub("", text))


def shingles(fingerprint: str, size: int = SHINGLE) -> set[str]:
    if len(fingerprint) <= size:
        return {fingerprint} if fingerprint else set()
    return {fingerprint[i:i + size] for i in range(len(fingerprint) - size + 1)}


@dataclass(frozen=True)
class DedupConfig:
    window: timedelta = timedelta(days=3)     # copies further apart than this start a new group
    jaccard: float = 0.5                      # near-duplicate when the estimated Jaccard reaches this …
    containment: float = 0.7                  # … or this share of the shorter text is in the longer one
    min_shingles: int = 8                     # shorter texts ("转发微博", "支持！") are never grouped
    min_containment_shingles: int = 20        # containment only for texts with some substance


@dataclass(frozen=True)
class GroupAssignment:
    dup_group: str
    is_first_report: bool
    duplicate_of: str | None = None           # the most similar known post, when the post joined a group


@dataclass
class DedupOutcome:
    assignments: dict[str, GroupAssignment] = field(default_factory=dict)   # the batch's posts
    changed: dict[str, GroupAssignment] = field(default_factory=dict)       # stored posts to re-store


def signatures(texts: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    """MinHash signatures (n × NUM_PERM, uint32) and shingle counts; texts too short to compare get count 0."""
    sets = [shingles(fingerprint_text(t)) for t in texts]
    sizes = np.array([len(s) for s in sets], dtype=np.int32)
    sigs = np.zeros((len(texts), NUM_PERM), dtype=np.uint32)
    rows = [i for i, s in enumerate(sets) if s]
    if rows:
        hashed = MinHash.bulk([[g.encode("utf-8") for g in sets[i]] for i in rows], num_perm=NUM_PERM, seed=1)
        for i, m in zip(rows, hashed):
            sigs[i] = np.asarray(m.hashvalues).astype(np.uint32)
    return sigs, sizes


def band_keys(sigs: np.ndarray) -> np.ndarray:
    """(n, BANDS) uint64: each band's ROWS values mixed into one key."""
    bands = sigs[:, : BANDS * ROWS].astype(np.uint64).reshape(len(sigs), BANDS, ROWS)
    with np.errstate(over="ignore"):
        return np.bitwise_xor.reduce(bands * _MIX[:ROWS], axis=2)


class _BandIndex:
    """Per band, the keys sorted with the slot of the post they came from."""

    def __init__(self) -> None:
        self.keys = [np.empty(0, dtype=np.uint64) for _ in range(BANDS)]
        self.slots = [np.empty(0, dtype=np.int64) for _ in range(BANDS)]

    def __len__(self) -> int:
        return len(self.keys[0])

    def query(self, keys: np.ndarray) -> list[set[int]]:
        found: list[set[int]] = [set() for _ in range(len(keys))]
        if not len(self):
            return found
        for b in range(BANDS):
            sorted_keys = self.keys[b]
            lo = np.searchsorted(sorted_keys, keys[:, b], "left")
            hi = np.searchsorted(sorted_keys, keys[:, b], "right")
            for row in np.nonzero(hi > lo)[0]:
                found[row].update(self.slots[b][lo[row]:hi[row]].tolist())
        return found

    def add(self, keys: np.ndarray, slots: np.ndarray) -> None:
        if not len(keys):
            return
        for b in range(BANDS):
            order = np.argsort(keys[:, b], kind="stable")
            new_keys, new_slots = keys[order, b], slots[order]
            at = np.searchsorted(self.keys[b], new_keys, "right")
            self.keys[b] = np.insert(self.keys[b], at, new_keys)
            self.slots[b] = np.insert(self.slots[b], at, new_slots)

    def compact(self, remap: np.ndarray) -> None:
        """Drop slots mapped to -1, renumber the rest."""
        for b in range(BANDS):
            new = remap[self.slots[b]]
            keep = new >= 0
            self.keys[b] = self.keys[b][keep]
            self.slots[b] = new[keep]


_NEVER = float("-inf")   # the first report of a group that is no longer in memory: older than anything new


class Deduplicator:
    """Assigns near-duplicate groups online. Not thread-safe: one enrichment job at a time."""

    def __init__(self, config: DedupConfig | None = None):
        self.config = config or DedupConfig()
        self._ids: list[str] = []
        self._published: list[float] = []
        self._sizes: list[int] = []
        self._groups: list[str] = []
        self._alive: list[bool] = []
        self._sigs = np.zeros((0, NUM_PERM), dtype=np.uint32)
        self._slot_of: dict[str, int] = {}
        self._first: dict[str, tuple[float, str]] = {}      # group → (published, id) of its first report
        self._members: dict[str, list[int]] = {}
        self._index = _BandIndex()
        self._batch: dict[str, tuple[np.ndarray, int, np.ndarray, set[int]]] = {}
        self._pending_keys = np.zeros((0, BANDS), dtype=np.uint64)   # band keys of this batch's posts …
        self._pending_slots: list[int] = []                          # … and their slots

    def __len__(self) -> int:
        return len(self._slot_of)

    def knows(self, post_id: str) -> bool:
        return post_id in self._slot_of

    # --- history ----------------------------------------------------------
    def load(self, posts: Iterable[Post]) -> int:
        """Index stored posts with the groups they already have (after a restart)."""
        posts = [p for p in posts if p.id not in self._slot_of]
        if not posts:
            return 0
        sigs, sizes = signatures([p.text for p in posts])
        slots = [self._add_entry(p, sig, int(size), p.dup_group or p.id) for p, sig, size in zip(posts, sigs, sizes)]
        for post, slot in zip(posts, slots):
            group = self._groups[slot]
            self._members.setdefault(group, []).append(slot)
            if post.id == group or (post.is_first_report and group not in self._first):
                self._first[group] = (self._published[slot], post.id)
        for group in self._members:
            self._first.setdefault(group, (_NEVER, group))
        comparable = np.array([s for s in slots if self._sizes[s] >= self.config.min_shingles], dtype=np.int64)
        if len(comparable):
            self._index.add(band_keys(self._sigs[comparable]), comparable)
        return len(posts)

    # --- assignment -------------------------------------------------------
    def prepare(self, posts: Sequence[Post]) -> None:
        """Signatures and history candidates for a batch, computed together (vectorised)."""
        new = [p for p in posts if p.id not in self._slot_of]
        if not new:
            return
        sigs, sizes = signatures([p.text for p in new])
        keys = band_keys(sigs)
        found = self._index.query(keys)
        for i, post in enumerate(new):
            self._batch[post.id] = (sigs[i], int(sizes[i]), keys[i], found[i])

    def assign(self, post: Post) -> tuple[GroupAssignment, set[str]]:
        """The post's group, and the ids of other posts whose group or flag changed.

        The caller makes sure memory holds every stored post published within `window`
        of this one (nlp.linking loads them), so the answer never depends on what
        happened to be cached.
        """
        slot = self._slot_of.get(post.id)
        if slot is not None:
            return self._assignment(slot), set()
        if post.id not in self._batch:
            self.prepare([post])
        sig, size, keys, history = self._batch.pop(post.id)
        comparable = size >= self.config.min_shingles
        candidates = set(history)
        pending = len(self._pending_slots)
        if comparable and pending:
            hits = np.nonzero((self._pending_keys[:pending] == keys).any(axis=1))[0]
            candidates.update(self._pending_slots[h] for h in hits.tolist())
        matches = self._matches(post, sig, size, candidates) if comparable and candidates else []
        slot = self._add_entry(post, sig, size, post.id)
        if comparable:
            if pending >= len(self._pending_keys):
                grown = np.zeros((max(256, 2 * pending), BANDS), dtype=np.uint64)
                grown[:pending] = self._pending_keys[:pending]
                self._pending_keys = grown
            self._pending_keys[pending] = keys
            self._pending_slots.append(slot)
        if not matches:
            self._first[post.id] = (self._published[slot], post.id)
            self._members[post.id] = [slot]
            return self._assignment(slot), set()
        # The post joins every group it matches: they merge into one, named after the earliest post of
        # all of them (which may be this post: the original arrived after its copies).
        groups = {self._groups[m] for m in matches}
        own = (self._published[slot], post.id)
        winner = min((self._first[g], g) for g in groups)[1] if groups else post.id
        if own < self._first[winner]:
            winner = post.id
            self._first[winner], self._members[winner] = own, []
        changed: set[str] = set()
        for group in sorted(groups - {winner}):
            members = self._members.pop(group)
            del self._first[group]
            for member in members:
                self._groups[member] = winner
                if self._alive[member]:
                    changed.add(self._ids[member])
            self._members[winner].extend(members)
        self._groups[slot] = winner
        self._members[winner].append(slot)
        return self._assignment(slot, duplicate_of=self._ids[matches[0]]), changed

    def finish_batch(self) -> None:
        """Move the batch's posts from the per-batch lookup into the sorted index."""
        if self._pending_slots:
            slots = np.array(self._pending_slots, dtype=np.int64)
            self._index.add(self._pending_keys[:len(slots)], slots)
        self._pending_slots.clear()
        self._batch.clear()

    def assignment(self, post_id: str) -> GroupAssignment | None:
        slot = self._slot_of.get(post_id)
        return None if slot is None else self._assignment(slot)

    def _assignment(self, slot: int, duplicate_of: str | None = None) -> GroupAssignment:
        group = self._groups[slot]
        return GroupAssignment(group, self._first.get(group, (0, ""))[1] == self._ids[slot], duplicate_of)

    def _matches(self, post: Post, sig: np.ndarray, size: int, candidates: set[int]) -> list[int]:
        """Near-duplicates within the window, most similar first (then earliest)."""
        published = post.published_at.timestamp()
        window = self.config.window.total_seconds()
        slots = np.array(sorted(c for c in candidates if self._alive[c]
                                and abs(self._published[c] - published) <= window), dtype=np.int64)
        if not len(slots):
            return []
        similarity = (self._sigs[slots] == sig).mean(axis=1)
        found = [(-j, self._published[slot], self._ids[slot], slot)
                 for slot, j in zip(slots.tolist(), similarity.tolist())
                 if self._near_duplicate(j, size, self._sizes[slot])]
        return [slot for *_, slot in sorted(found)]

    def _near_duplicate(self, jaccard: float, size_a: int, size_b: int) -> bool:
        cfg = self.config
        if jaccard >= cfg.jaccard:
            return True
        smaller = min(size_a, size_b)
        if smaller < cfg.min_containment_shingles:
            return False
        shared = jaccard * (size_a + size_b) / (1 + jaccard)
        return shared / smaller >= cfg.containment

    # --- memory -----------------------------------------------------------
    def _add_entry(self, post: Post, sig: np.ndarray, size: int, group: str) -> int:
        slot = len(self._ids)
        if slot >= len(self._sigs):
            grown = np.zeros((max(1024, 2 * len(self._sigs)), NUM_PERM), dtype=np.uint32)
            grown[:slot] = self._sigs[:slot]
            self._sigs = grown
        self._sigs[slot] = sig
        self._ids.append(post.id)
        self._published.append(post.published_at.timestamp())
        self._sizes.append(size)
        self._groups.append(group)
        self._alive.append(True)
        self._slot_of[post.id] = slot
        return slot

    def evict(self, floor: float) -> int:
        """Forget posts published before `floor`; compacts when a quarter of memory is stale."""
        stale = [s for s, (alive, t) in enumerate(zip(self._alive, self._published)) if alive and t < floor]
        for slot in stale:
            self._alive[slot] = False
            del self._slot_of[self._ids[slot]]
        dead = len(self._ids) - len(self._slot_of)
        if dead and dead * 4 >= len(self._ids):
            self._compact()
        return len(stale)

    def _compact(self) -> None:
        keep = [s for s, alive in enumerate(self._alive) if alive]
        remap = np.full(len(self._ids) + 1, -1, dtype=np.int64)
        remap[keep] = np.arange(len(keep))
        self._index.compact(remap)
        self._sigs = self._sigs[keep].copy() if keep else np.zeros((0, NUM_PERM), dtype=np.uint32)
        self._ids = [self._ids[s] for s in keep]
        self._published = [self._published[s] for s in keep]
        self._sizes = [self._sizes[s] for s in keep]
        self._groups = [self._groups[s] for s in keep]
        self._alive = [True] * len(keep)
        self._slot_of = {pid: i for i, pid in enumerate(self._ids)}
        members: dict[str, list[int]] = {}
        for group, slots in self._members.items():
            kept = [int(remap[s]) for s in slots if remap[s] >= 0]
            if kept:
                members[group] = kept
        self._members = members
        self._first = {g: self._first[g] for g in members}
