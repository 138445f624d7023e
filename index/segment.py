"""Word segmentation for the full-text index: a private jieba tokenizer, loaded on first use.

The index must not depend on the nlp package, yet indexed text and query text have
to be cut the same way, so both go through this one helper. Precise mode runs
without HMM: the dictionary alone decides, which keeps a word cut the same way
in a query as in a post (HMM guesses new words from their context).
"""
from __future__ import annotations

import functools
import logging
import re
import threading
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pragma: no cover
    import jieba

logger = logging.getLogger(__name__)

_SEARCHABLE = re.compile(r"[^\W_]")             # a letter or a digit: something a search can match
# Both ASCII and Chinese quotation marks delimit a phrase.
_PHRASE = re.compile(r'"([^"]*)"|“([^”]*)”')


class Segmenter:
    """jieba precise mode (no HMM) with jieba's search-mode sub-words on demand."""

    def __init__(self, user_dicts: Iterable[str | Path] = ()):
        self.user_dicts = tuple(Path(p) for p in user_dicts)
        self._tokenizer: "jieba.Tokenizer | None" = None
        self._lock = threading.Lock()

    @property
    def tokenizer(self) -> "jieba.Tokenizer":
        if self._tokenizer is None:
            with self._lock:
                if self._tokenizer is None:
                    self._tokenizer = self._load()
        return self._tokenizer

    def _load(self) -> "jieba.Tokenizer":
        import jieba

        tokenizer = jieba.Tokenizer()
        tokenizer.initialize()
        for path in self.user_dicts:
            try:
                tokenizer.load_userdict(str(path))
            except (OSError, UnicodeDecodeError, ValueError) as exc:
                # A missing dictionary degrades segmentation; it must not stop indexing.
                logger.warning("jieba user dictionary not loaded", extra={"path": str(path), "error": str(exc)})
        return tokenizer

    def tokens(self, text: str) -> list[str]:
        """Every token of `text` in order, runs of whitespace folded to one " " token."""
        out: list[str] = []
        for token in self.tokenizer.cut(text, HMM=False):
            if token.isspace():
                if out and out[-1] != " ":
                    out.append(" ")
            else:
                out.append(token)
        if out and out[-1] == " ":
            out.pop()
        return out

    def words(self, text: str) -> list[str]:
        """The searchable words of `text`: tokens holding a letter or digit, in order."""
        return [t for t in self.tokenizer.cut(text, HMM=False) if is_searchable(t)]

    @functools.lru_cache(maxsize=100_000)  # noqa: B019 - segmenters are few and live as long as the process
    def pieces(self, word: str) -> tuple[str, ...]:
        """Dictionary sub-words that jieba's search mode (cut_for_search) adds for a long word.

        '中华人民共和国' → 中华, 华人, 人民, 共和, 共和国. Indexing them lets a query for a
        short word find it inside a longer token ('爆炸' in '爆炸案').
        """
        if len(word) <= 2:
            return ()
        freq = self.tokenizer.FREQ
        found: list[str] = []
        for size in (2, 3):
            if len(word) <= size:
                break
            for i in range(len(word) - size + 1):
                gram = word[i:i + size]
                if freq.get(gram) and gram not in found:
                    found.append(gram)
        return tuple(found)


_shared: dict[tuple[str, ...], Segmenter] = {}
_shared_lock = threading.Lock()


def get_segmenter(user_dicts: Iterable[str | Path] = ()) -> Segmenter:
    """One shared segmenter per set of user dictionaries: loading jieba costs ~0.6 s."""
    key = tuple(str(p) for p in user_dicts)
    with _shared_lock:
        if key not in _shared:
            _shared[key] = Segmenter(key)
        return _shared[key]


def is_searchable(token: str) -> bool:
    return bool(_SEARCHABLE.search(token))


@dataclass
class TextQuery:
    """A user's search text split into quoted phrases and bare chunks (split on whitespace)."""
    phrases: list[str] = field(default_factory=list)
    chunks: list[str] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        return not (self.phrases or self.chunks)


def split_query(text: str) -> TextQuery:
    """'暴雨 "九江 内涝"' → phrases ['九江 内涝'], chunks ['暴雨']. An unmatched quote is plain text."""
    query = TextQuery()
    for match in _PHRASE.finditer(text):
        phrase = (match.group(1) if match.group(1) is not None else match.group(2)).strip()
        if phrase:
            query.phrases.append(phrase)
    rest = _PHRASE.sub(" ", text)
    query.chunks = [c for c in rest.replace('"', " ").replace("“", " ").replace("”", " ").split() if c]
    return query
