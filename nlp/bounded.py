"""Segmentation of one post bounded in length and time, so one huge post cannot stall a batch.

jieba's cost grows with the length of a run of text between punctuation, and a
spam wall may have none; cutting sentence-sized chunks (at most CHUNK_CHARS)
keeps the cost linear, and a deadline between chunks bounds the whole post.
"""
from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

CHUNK_CHARS = 2000
# Break after sentence punctuation or a newline; the break stays with the chunk before it.
_SENTENCE_END = re.compile(r"(?<=[。！？!?；;\n])")


@dataclass(frozen=True)
class Bounded:
    text: str            # what was analysed (a prefix of the input)
    words: list[str]     # its segmentation (the part cut before the deadline)
    truncated: bool      # the length cap or the deadline cut something off
    timed_out: bool


def chunks(text: str, size: int = CHUNK_CHARS) -> Iterator[str]:
    """Sentence-aligned pieces of at most `size` characters, in order; joined they are `text`."""
    buf = ""
    for sentence in _SENTENCE_END.split(text):
        while len(sentence) > size:                  # a run without punctuation: hard cut
            if buf:
                yield buf
                buf = ""
            yield sentence[:size]
            sentence = sentence[size:]
        if len(buf) + len(sentence) > size and buf:
            yield buf
            buf = ""
        buf += sentence
    if buf:
        yield buf


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
