"""The one word segmenter: a private jieba tokenizer with two named modes, used by index/ and nlp/ alike.

Indexed text, search queries and the enriched `tokens` must be cut the same way,
or a search for a word the analysis found misses it. So there is one tokenizer
(one set of dictionaries, one cut) and two modes over it:

- `indexing`: every token in order, runs of whitespace folded to one " " token
  (phrase positions in the full-text index), plus search-mode sub-words (`pieces`);
- `analysis`: content words only — no stopwords, punctuation, bare numbers or
  emoticon codes such as [馋嘴] — for classifiers, keywords and `Post.tokens`.

The cut is jieba's precise mode without HMM: the dictionary alone decides, so a
word is cut the same way in a two-word query as inside a long post (HMM guesses
new words from their context). Domain words come in as dictionaries: user
dictionary files, and word providers (the nlp package adds its governance
vocabulary and the gazetteer's place names this way) — see nlp.segment.
"""
from __future__ import annotations

import enum
import functools
import logging
import re
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pragma: no cover
    import jieba

logger = logging.getLogger(__name__)

_SEARCHABLE = re.compile(r"[^\W_]")             # a letter or a digit: something a search can match
# A token with no letter, digit or CJK character is punctuation, a symbol or space.
_HAS_CONTENT = re.compile(r"[0-9A-Za-z\u3400-\u9fff\uf900-\ufaff]")
_NUMBER = re.compile(r"^[0-9.,%:：/\-]+$")
_TAGS = re.compile(r"^[a-z]{1,4}$")
_INLINE_COMMENT = re.compile(r"\s+#")
# Both ASCII and Chinese quotation marks delimit a phrase.
_PHRASE = re.compile(r'"([^"]*)"|“([^”]*)”')


CHUNK_CHARS = 2000
# Break after sentence punctuation or a newline; the break stays with the chunk before it.
_SENTENCE_END = re.compile(r"(?<=[。！？!?；;\n])")


def chunks(text: str, size: int = CHUNK_CHARS) -> Iterator[str]:
    """Sentence-aligned pieces of at most `size` characters, in order; joined they are `text`.

    jieba's cost grows faster than linearly with the length of a run of text between
    punctuation, and a spam wall may have none: cutting such pieces keeps it linear.
    """
    if len(text) <= size:
        if text:
            yield text
        return
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


class Mode(str, enum.Enum):
    indexing = "indexing"
    analysis = "analysis"


class DictionaryError(ValueError):
    """A user dictionary or word list is missing or malformed; the message names the file and line."""


@dataclass(frozen=True)
class DictWord:
    word: str
    freq: int | None = None     # None: let jieba pick a frequency that makes the word stick
    tag: str | None = None


WordProvider = Callable[[Mapping[str, int]], Iterable[DictWord]]   # jieba's FREQ -> words to add


def read_user_dict(path: str | Path) -> list[DictWord]:
    """Parse a jieba-style user dictionary: `word [freq] [tag]` per line, '#' starts a comment."""
    try:
        raw = Path(path).read_bytes()
    except OSError as exc:
        raise DictionaryError(f"user dictionary {path}: cannot read ({exc.strerror or exc})") from None
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise DictionaryError(f"user dictionary {path}: not UTF-8 (byte {exc.start}); re-save it as UTF-8") from None
    words: list[DictWord] = []
    for lineno, line in enumerate(text.splitlines(), 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        line = _INLINE_COMMENT.split(line, 1)[0]
        parts = line.split()
        word, freq, tag = parts[0], None, None
        rest = parts[1:]
        if rest and rest[0].isdigit():
            freq = int(rest.pop(0))
        if rest and _TAGS.match(rest[0]):
            tag = rest.pop(0)
        if rest:
            raise DictionaryError(f"user dictionary {path}:{lineno}: expected 'word [freq] [tag]', got {line!r}")
        words.append(DictWord(word, freq, tag))
    return words


def read_word_list(path: str | Path) -> set[str]:
    """One word per line, '#' comment lines ignored (stopword files)."""
    try:
        text = Path(path).read_text(encoding="utf-8-sig")
    except OSError as exc:
        raise DictionaryError(f"word list {path}: cannot read ({exc.strerror or exc})") from None
    except UnicodeDecodeError:
        raise DictionaryError(f"word list {path}: not UTF-8; re-save it as UTF-8") from None
    return {w.strip() for w in text.splitlines() if w.strip() and not w.startswith("#")}


def is_searchable(token: str) -> bool:
    return bool(_SEARCHABLE.search(token))


def is_content_like(token: str) -> bool:
    """True for tokens with at least one letter, digit or CJK character."""
    return bool(_HAS_CONTENT.search(token))


class Segmenter:
    """One private jieba tokenizer (never the module-global one), built lazily under a lock.

    `user_dicts` are dictionary files; `words` and `word_providers` add words
    programmatically (a provider sees jieba's frequencies, to pick ones that stick).
    A broken or missing dictionary file is logged and skipped (`lenient`, what a
    store reopening after a dictionary vanished needs) or fails here, at
    construction, naming file and line (`lenient=False`, what the enricher wants).
    """

    def __init__(self, user_dicts: Iterable[str | Path] = (), *, words: Iterable[DictWord] = (),
                 word_providers: Iterable[WordProvider] = (), stopwords: Iterable[str] = (),
                 lenient: bool = True):
        self.user_dicts = tuple(Path(p) for p in user_dicts)
        self._words: list[DictWord] = list(words)
        for path in self.user_dicts:
            try:
                self._words += read_user_dict(path)
            except DictionaryError as exc:
                if not lenient:
                    raise
                # A store opened with a vanished dictionary degrades search; it must not stop indexing.
                logger.warning("jieba user dictionary not loaded", extra={"path": str(path), "error": str(exc)})
        self._providers = list(word_providers)
        self.stopwords: frozenset[str] = frozenset(stopwords)
        self._tokenizer: "jieba.Tokenizer | None" = None
        self._lock = threading.Lock()

    @property
    def tokenizer(self) -> "jieba.Tokenizer":
        if self._tokenizer is None:
            with self._lock:
                if self._tokenizer is None:
                    self._tokenizer = self._build()
        return self._tokenizer

    def _build(self) -> "jieba.Tokenizer":
        import jieba

        # jieba logs "Building prefix dict…" at DEBUG through its own stderr handler; keep it quiet.
        logging.getLogger("jieba").setLevel(logging.WARNING)
        tokenizer = jieba.Tokenizer()
        tokenizer.initialize()
        added = 0
        for provider in self._providers:
            for word in provider(tokenizer.FREQ):
                tokenizer.add_word(word.word, word.freq, word.tag)
                added += 1
        for word in self._words:
            tokenizer.add_word(word.word, word.freq, word.tag)
            added += 1
        logger.debug("segmenter ready", extra={"dicts": [str(p) for p in self.user_dicts], "words_added": added})
        return tokenizer

    def warm_up(self) -> "Segmenter":
        _ = self.tokenizer
        return self

    def add_words(self, words: Iterable[DictWord]) -> None:
        tokenizer = self.tokenizer
        with self._lock:
            for word in words:
                tokenizer.add_word(word.word, word.freq, word.tag)

    # --- the cut and its modes ------------------------------------------------
    def cut(self, text: str) -> list[str]:
        """Every token of `text` in order, whitespace dropped: the one cut both modes share."""
        return [t for t in self._raw(text) if not t.isspace()]

    def _raw(self, text: str) -> Iterator[str]:
        tokenizer = self.tokenizer
        for piece in chunks(text or ""):
            yield from tokenizer.cut(piece, HMM=False)

    def segment(self, text: str, mode: Mode | str = Mode.analysis) -> list[str]:
        return self.index_tokens(text) if Mode(mode) is Mode.indexing else self.tokens(text)

    def index_tokens(self, text: str) -> list[str]:
        """Indexing mode: every token in order, runs of whitespace folded to one " " token."""
        out: list[str] = []
        for token in self._raw(text):
            if token.isspace():
                if out and out[-1] != " ":
                    out.append(" ")
            else:
                out.append(token)
        if out and out[-1] == " ":
            out.pop()
        return out

    def words(self, text: str) -> list[str]:
        """The searchable words of `text` (indexing mode, for queries): tokens holding a letter or digit."""
        return [t for t in self._raw(text) if is_searchable(t)]

    def tokens(self, text: str) -> list[str]:
        """Analysis mode: content words of `text`."""
        return self.content_tokens(self.cut(text))

    def content_tokens(self, words: Iterable[str]) -> list[str]:
        """Filter already-cut words down to content words (analysis mode)."""
        stop = self.stopwords
        return [w for w in drop_bracket_codes(list(words))
                if w not in stop and is_content_like(w) and not _NUMBER.match(w)]

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


MAX_CODE_WORDS = 4      # [允悲] or [good] is one or two words; a longer bracket holds real text


def drop_bracket_codes(words: Sequence[str]) -> list[str]:
    """The words without Weibo emoticon codes: '[', one to four short words, ']'."""
    out: list[str] = []
    i, n = 0, len(words)
    while i < n:
        if words[i] == "[":
            close = _code_end(words, i)
            if close is not None:
                i = close + 1
                continue
        out.append(words[i])
        i += 1
    return out


def _code_end(words: Sequence[str], start: int) -> int | None:
    for j in range(start + 1, min(len(words), start + MAX_CODE_WORDS + 2)):
        if words[j] == "]":
            inner = words[start + 1:j]
            return j if inner and sum(len(w) for w in inner) <= 8 else None
        if words[j] == "[":
            return None
    return None


_shared: dict[tuple[str, ...], Segmenter] = {}
_shared_lock = threading.Lock()


def get_segmenter(user_dicts: Iterable[str | Path] = ()) -> Segmenter:
    """A plain shared segmenter per set of dictionary files (loading jieba costs ~0.6 s).

    The application passes its full segmenter (nlp.segment.default_segmenter) to
    the store instead; this one serves tools and tests that have no nlp package.
    """
    key = tuple(str(p) for p in user_dicts)
    with _shared_lock:
        if key not in _shared:
            _shared[key] = Segmenter(key)
        return _shared[key]


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
