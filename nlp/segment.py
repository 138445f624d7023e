"""The NLP vocabulary of the one segmenter (index.segment): governance words, new words, place names, stopwords.

index.segment.Segmenter wraps jieba once for the whole product; this module
builds the application's instance of it with our dictionaries — the shipped
governance dictionary, the new-words list (躺平, 接诉即办 …), the gazetteer's
place names (so 濂溪区 or 12345热线 come out as one token), any configured user
dictionaries — and the stopword list. The store gets the same instance from the
shell, so the full-text index and the enriched tokens are cut the same way.
"""
from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from functools import lru_cache
from pathlib import Path

from index import segment as base
from index.segment import DictionaryError, DictWord, is_content_like  # noqa: F401 - re-exported

from .errors import ResourceError

logger = logging.getLogger(__name__)

RESOURCES = Path(__file__).resolve().parent / "resources"
DEFAULT_USER_DICT = RESOURCES / "user_dict.txt"
DEFAULT_NEW_WORDS = RESOURCES / "new_words.txt"
DEFAULT_STOPWORDS = RESOURCES / "stopwords.txt"


def read_user_dict(path: str | Path) -> list[DictWord]:
    """index.segment.read_user_dict, failing with the nlp package's ResourceError."""
    try:
        return base.read_user_dict(path)
    except DictionaryError as exc:
        raise ResourceError(str(exc)) from None


def read_word_list(path: str | Path) -> set[str]:
    try:
        return base.read_word_list(path)
    except DictionaryError as exc:
        raise ResourceError(str(exc)) from None


def gazetteer_words(freq: Mapping[str, int]) -> list[DictWord]:
    """The gazetteer's place names as dictionary words (a word provider for the segmenter)."""
    from .regions import Gazetteer
    gazetteer = Gazetteer.default()
    return gazetteer.dictionary_words(freq) if gazetteer is not None else []


class Segmenter(base.Segmenter):
    """The one segmenter with the NLP dictionaries; a broken dictionary raises ResourceError at construction."""

    def __init__(self, user_dicts: Sequence[str | Path] = (), *, stopwords: Path | None = DEFAULT_STOPWORDS,
                 include_default_dict: bool = True, place_names: bool = True):
        dicts = [DEFAULT_USER_DICT, DEFAULT_NEW_WORDS] if include_default_dict else []
        try:
            super().__init__([*dicts, *(Path(p) for p in user_dicts)],
                             word_providers=[gazetteer_words] if place_names else [],
                             stopwords=read_word_list(stopwords) if stopwords else (), lenient=False)
        except DictionaryError as exc:
            raise ResourceError(str(exc)) from None


@lru_cache(maxsize=8)
def _shared(user_dicts: tuple[str, ...]) -> Segmenter:
    return Segmenter(user_dicts)


def default_segmenter(user_dicts: Sequence[str | Path] = ()) -> Segmenter:
    """A process-wide segmenter per distinct dictionary set, so models, extractors and the store share one."""
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
