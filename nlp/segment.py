"""Chinese word segmentation: a private jieba tokenizer with governance and place-name dictionaries.

A private `jieba.Tokenizer` (not the module-global one) keeps our dictionaries
from leaking into, or being changed by, other code in the process. The
dictionary loads lazily on first use (about half a second) under a lock, so
the segmenter can be built cheaply and shared between threads.
"""
from __future__ import annotations

import logging
import re
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import jieba

from .cleaning import drop_bracket_codes
from .errors import ResourceError

logger = logging.getLogger(__name__)

RESOURCES = Path(__file__).resolve().parent / "resources"
DEFAULT_USER_DICT = RESOURCES / "user_dict.txt"
DEFAULT_NEW_WORDS = RESOURCES / "new_words.txt"
DEFAULT_STOPWORDS = RESOURCES / "stopwords.txt"

# A token with no letter, digit or CJK character is punctuation, a symbol or space.
_HAS_CONTENT = re.compile(r"[0-9A-Za-z\u3400-\u9fff\uf900-\ufaff]")
_NUMBER = re.compile(r"^[0-9.,%:：/\-]+$")
_TAGS = re.compile(r"^[a-z]{1,4}$")
_INLINE_COMMENT = re.compile(r"\s+#")


@dataclass(frozen=True)
class DictWord:
    word: str
    freq: int | None = None     # None: let jieba pick a frequency that makes the word stick
    tag: str | None = None


def read_user_dict(path: Path) -> list[DictWord]:
    """Parse a jieba-style user dictionary: `word [freq] [tag]` per line, '#' starts a comment.

    Raises ResourceError naming the file and line for anything malformed.
    """
    try:
        raw = Path(path).read_bytes()
    except OSError as exc:
        raise ResourceError(f"user dictionary {path}: cannot read ({exc.strerror or exc})") from None
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ResourceError(f"user dictionary {path}: not UTF-8 (byte {exc.start}); "
                            "re-save it as UTF-8") from None
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
            raise ResourceError(f"user dictionary {path}:{lineno}: expected 'word [freq] [tag]', got {line!r}")
        words.append(DictWord(word, freq, tag))
    return words


def read_word_list(path: Path) -> set[str]:
    """One word per line, '#' comment lines ignored (stopword files)."""
    try:
        text = Path(path).read_text(encoding="utf-8-sig")
    except OSError as exc:
        raise ResourceError(f"word list {path}: cannot read ({exc.strerror or exc})") from None
    except UnicodeDecodeError:
        raise ResourceError(f"word list {path}: not UTF-8; re-save it as UTF-8") from None
    return {w.strip() for w in text.splitlines() if w.strip() and not w.startswith("#")}


def is_content_like(token: str) -> bool:
    """True for tokens with at least one letter, digit or CJK character."""
    return bool(_HAS_CONTENT.search(token))


class Segmenter:
    """jieba segmentation with user dictionaries and a stopword list.

    `user_dicts` are extra dictionary files (config `nlp.user_dicts`); the shipped
    governance dictionary, the new-words list (躺平, 接诉即办 …) and, when
    `place_names` is True, the gazetteer's place names are always loaded, so
    濂溪区 or 12345热线 come out as one token.
    """

    def __init__(self, user_dicts: Sequence[str | Path] = (), *, stopwords: Path | None = DEFAULT_STOPWORDS,
                 include_default_dict: bool = True, place_names: bool = True, hmm: bool = True):
        dicts = [DEFAULT_USER_DICT, DEFAULT_NEW_WORDS] if include_default_dict else []
        self._dict_paths = dicts + [Path(p) for p in user_dicts]
        # Parse dictionaries now so a broken file fails at construction, not on first post.
        self._dict_words = [w for p in self._dict_paths for w in read_user_dict(p)]
        self.stopwords: frozenset[str] = frozenset(read_word_list(stopwords)) if stopwords else frozenset()
        self._place_names = place_names
        self._hmm = hmm
        self._tokenizer: jieba.Tokenizer | None = None
        self._lock = threading.Lock()

    @property
    def tokenizer(self) -> jieba.Tokenizer:
        """The private jieba tokenizer, built on first use."""
        if self._tokenizer is None:
            with self._lock:
                if self._tokenizer is None:
                    self._tokenizer = self._build()
        return self._tokenizer

    def _build(self) -> jieba.Tokenizer:
        # jieba logs "Building prefix dict…" at DEBUG through its own stderr handler; keep it quiet.
        logging.getLogger("jieba").setLevel(logging.WARNING)
        tokenizer = jieba.Tokenizer()
        tokenizer.initialize()
        added = 0
        if self._place_names:
            from .regions import Gazetteer   # late: only a segmenter with place names reads the gazetteer
            gazetteer = Gazetteer.default()
            if gazetteer is not None:
                for word, freq, tag in gazetteer.dictionary_words(tokenizer.FREQ):
                    tokenizer.add_word(word, freq, tag)
                    added += 1
        for word in self._dict_words:
            tokenizer.add_word(word.word, word.freq, word.tag)
            added += 1
        logger.info("segmenter ready", extra={"dicts": [str(p) for p in self._dict_paths], "words_added": added})
        return tokenizer

    def warm_up(self) -> "Segmenter":
        _ = self.tokenizer
        return self

    def cut(self, text: str) -> list[str]:
        """Full segmentation (every token, whitespace dropped)."""
        if not text:
            return []
        return [t for t in self.tokenizer.cut(text, HMM=self._hmm) if not t.isspace()]

    def content_tokens(self, words: Iterable[str]) -> list[str]:
        """Filter already-cut words down to content words (no emoticon codes such as [馋嘴] either)."""
        stop = self.stopwords
        return [w for w in drop_bracket_codes(list(words))
                if w not in stop and is_content_like(w) and not _NUMBER.match(w)]

    def tokens(self, text: str) -> list[str]:
        """Content words: no stopwords, punctuation, whitespace or bare numbers."""
        return self.content_tokens(self.cut(text))

    def add_words(self, words: Iterable[DictWord]) -> None:
        tokenizer = self.tokenizer
        with self._lock:
            for word in words:
                tokenizer.add_word(word.word, word.freq, word.tag)


@lru_cache(maxsize=8)
def _shared(user_dicts: tuple[str, ...]) -> Segmenter:
    return Segmenter(user_dicts)


def default_segmenter(user_dicts: Sequence[str | Path] = ()) -> Segmenter:
    """A process-wide segmenter per distinct dictionary set, so models and extractors share one."""
    return _shared(tuple(str(Path(p).resolve()) for p in user_dicts))


STOPWORD_SOURCES = ("cn_stopwords.txt", "hit_stopwords.txt", "baidu_stopwords.txt", "scu_stopwords.txt")


def build_stopwords(stopwords_dir: str | Path, out_path: str | Path = DEFAULT_STOPWORDS) -> int:
    """Merge the four public stopword lists into the shipped list; returns the word count."""
    src = Path(stopwords_dir)
    missing = [name for name in STOPWORD_SOURCES if not (src / name).exists()]
    if missing:
        from .errors import DataNotFoundError
        raise DataNotFoundError(f"stopword lists {', '.join(missing)} not found in {src}; "
                                "pass --data pointing at the shared data folder")
    words: set[str] = set()
    for name in STOPWORD_SOURCES:
        words |= {w for w in read_word_list(src / name) if not w.isspace()}
    header = ("# Stopwords: union of cn, hit, baidu and scu lists from goto456/stopwords @bf8b03b\n"
              "# (academic use; via ../shared/data/lexicons/stopwords). Rebuild: yuqing nlp build-stopwords\n")
    out = Path(out_path)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(header + "\n".join(sorted(words)) + "\n", encoding="utf-8")
    logger.info("stopwords built", extra={"words": len(words), "out": str(out)})
    return len(words)
