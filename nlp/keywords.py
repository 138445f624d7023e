"""Top keywords per post: TF-IDF with jieba's IDF table over our own segmentation.

jieba.analyse would re-segment with the global tokenizer; scoring the words we
already have keeps the user dictionaries and costs no second segmentation.
Words jieba's table does not know (new terms, place names) get its median IDF,
as jieba.analyse does.
"""
from __future__ import annotations

import logging
import threading
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

from .cleaning import drop_bracket_codes
from .segment import Segmenter, default_segmenter, is_content_like

logger = logging.getLogger(__name__)

# Weibo boilerplate that says how a post was shared, not what it is about.
PLATFORM_WORDS = frozenset({"转发", "转发微博", "搬运", "分享", "网页链接", "全文", "原文", "展开", "收起",
                            "秒拍", "视频", "图片", "长图", "链接", "微博", "来源"})


class KeywordExtractor:
    def __init__(self, segmenter: Segmenter | None = None, idf_path: Path | None = None, min_length: int = 2):
        self.segmenter = segmenter or default_segmenter()
        self._idf_path = idf_path
        self.min_length = min_length
        self._idf: dict[str, float] | None = None
        self._median = 0.0
        self._lock = threading.Lock()

    def _table(self) -> dict[str, float]:
        if self._idf is None:
            with self._lock:
                if self._idf is None:
                    from jieba.analyse.tfidf import DEFAULT_IDF, IDFLoader
                    loader = IDFLoader(str(self._idf_path or DEFAULT_IDF))
                    self._median = loader.median_idf
                    self._idf = loader.idf_freq
        return self._idf

    def idf(self, word: str) -> float:
        """Inverse document frequency from jieba's table; unknown words (new terms, place names) get the median."""
        return self._table().get(word, self._median)

    @property
    def median_idf(self) -> float:
        self._table()
        return self._median

    def from_words(self, words: Sequence[str], top_k: int = 8) -> list[str]:
        """Keywords from an already-segmented text (stopwords and emoticon codes are dropped here)."""
        idf = self._table()
        stop = self.segmenter.stopwords
        words = drop_bracket_codes(words)
        counts = Counter(w for w in words if len(w) >= self.min_length and w not in stop
                         and w not in PLATFORM_WORDS and is_content_like(w) and not w.isdigit())
        if not counts:
            return []
        first = {}
        for i, w in enumerate(words):
            first.setdefault(w, i)
        ranked = sorted(counts, key=lambda w: (-counts[w] * idf.get(w, self._median), first[w]))
        return ranked[:top_k]

    def extract(self, text: str, top_k: int = 8) -> list[str]:
        return self.from_words(self.segmenter.cut(text), top_k)
