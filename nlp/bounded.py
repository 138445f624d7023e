"""Segmentation of one post bounded in length and time, so one huge post cannot stall a batch.

The segmenter already cuts long texts in sentence-sized chunks (index.segment.chunks),
which keeps jieba's cost linear; here a length cap and a deadline checked between
chunks bound the whole post.
"""
from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from index.segment import CHUNK_CHARS, chunks  # noqa: F401 - re-exported for callers of this module


@dataclass(frozen=True)
class Bounded:
    text: str            # what was analysed (a prefix of the input)
    words: list[str]     # its segmentation (the part cut before the deadline)
    truncated: bool      # the length cap or the deadline cut something off
    timed_out: bool


def bounded_cut(cut: Callable[[str], list[str]], text: str, *, max_chars: int, timeout_s: float,
                clock: Callable[[], float] = time.monotonic) -> Bounded:
    """Cut at most `max_chars` of `text`, chunk by chunk, stopping once `timeout_s` has passed."""
    analysed = text[:max_chars]
    if len(analysed) <= CHUNK_CHARS:   # the common case: one short post, one cut, no clock
        return Bounded(analysed, cut(analysed), len(analysed) < len(text), False)
    deadline = clock() + timeout_s
    words: list[str] = []
    done = 0
    for piece in chunks(analysed):
        if clock() > deadline:
            return Bounded(analysed[:done], words, True, True)
        words.extend(cut(piece))
        done += len(piece)
    return Bounded(analysed, words, len(analysed) < len(text), False)
