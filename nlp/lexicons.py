"""Sentiment lexicons and negation scope for the linear models.

Built once from `../shared/data/lexicons` (HowNet, NTUSD, Tsinghua Li Jun,
DUTIR affective lexicon, degree adverbs, negation words) and stored inside the
model directory as lexicon.json, restricted to words the training corpus
actually contains, so a model never needs the shared data at inference.

Two uses:
  mark_negation  words inside a negation's scope become "¬word", so 不满意 and
                 满意 are different features for the n-gram vectorizer;
  features       a small dense block per text: degree-weighted positive and
                 negative hits (plain and negated) and the 7 DUTIR emotion
                 families, log-scaled.
"""
from __future__ import annotations

import csv
import json
import logging
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .errors import DataNotFoundError, ModelFormatError

logger = logging.getLogger(__name__)

NEGATED = "¬"
# DUTIR's 21 fine classes fold into its 7 families (Xu Linhong et al., 2008).
CATEGORY_NAMES = ["乐", "好", "怒", "哀", "惧", "恶", "惊"]
_DUTIR_FAMILY = {"PA": 0, "PE": 0, "PD": 1, "PH": 1, "PG": 1, "PB": 1, "PK": 1, "NA": 2, "NB": 3, "NJ": 3,
                 "NH": 3, "PF": 3, "NI": 4, "NC": 4, "NG": 4, "NE": 5, "ND": 5, "NN": 5, "NK": 5, "NL": 5,
                 "PC": 6}
FEATURE_NAMES = ["pos", "neg", "negated_pos", "negated_neg", "negations", *(f"dutir_{c}" for c in CATEGORY_NAMES)]
# Cues in negation_words.txt that negate the following words; verbs such as 反对/放弃/停止 carry
# their own polarity instead and are left to the lexicon.
_NOT_NEGATORS = {"放下", "扼杀", "终止", "停止", "放弃", "反对", "缺乏", "缺少", "禁止", "忌", "拒绝", "杜绝", "不好"}
_HAS_CONTENT = re.compile(r"[0-9A-Za-z\u3400-\u9fff]")
_POLARITY_FILES = {
    "hownet_positive_emotion.txt": 1.0, "hownet_positive_evaluation.txt": 1.0, "ntusd_positive.txt": 1.0,
    "tsinghua_positive.txt": 1.0, "hownet_negative_emotion.txt": -1.0, "hownet_negative_evaluation.txt": -1.0,
    "ntusd_negative.txt": -1.0, "tsinghua_negative.txt": -1.0,
}
# HowNet degree levels, in file order: extreme, very, more, -ish, insufficiently, over.
_HOWNET_DEGREE_LEVELS = [2.0, 1.75, 1.5, 0.8, 0.5, 1.6]


@dataclass
class Lexicon:
    polarity: dict[str, float] = field(default_factory=dict)
    categories: dict[str, int] = field(default_factory=dict)
    degree: dict[str, float] = field(default_factory=dict)
    negation: frozenset[str] = frozenset()
    source: str = ""

    # --- building -------------------------------------------------------------
    @classmethod
    def from_shared_data(cls, lexicon_dir: str | Path) -> "Lexicon":
        folder = Path(lexicon_dir)
        needed = [*_POLARITY_FILES, "dutir_affective_lexicon.csv", "degree_adverbs.txt", "hownet_degree.txt",
                  "negation_words.txt"]
        missing = [name for name in needed if not (folder / name).is_file()]
        if missing:
            raise DataNotFoundError(f"sentiment lexicons {', '.join(missing)} not found in {folder}; pass --data "
                                    "pointing at the shared data folder (../shared/data)")
        votes: dict[str, float] = {}
        conflicted: set[str] = set()
        for name, sign in _POLARITY_FILES.items():
            for word in _word_list(folder / name):
                if votes.get(word, sign) != sign:
                    conflicted.add(word)
                votes[word] = sign
        categories: dict[str, int] = {}
        with (folder / "dutir_affective_lexicon.csv").open(encoding="utf-8-sig", newline="") as fh:
            for row in csv.DictReader(fh):
                word = (row.get("word") or "").strip()
                family = _DUTIR_FAMILY.get((row.get("emotion") or "").strip())
                if not word or family is None:
                    continue
                categories.setdefault(word, family)
                sign = {"1": 1.0, "2": -1.0}.get((row.get("polarity") or "").strip())
                if sign is not None:
                    if votes.get(word, sign) != sign:
                        conflicted.add(word)
                    votes.setdefault(word, sign)
        polarity = {w: s for w, s in votes.items() if w not in conflicted and len(w) > 0}
        degree = {w: 2.0 for w in _word_list(folder / "degree_adverbs.txt", sep=",")}
        degree.update(_hownet_degree(folder / "hownet_degree.txt"))
        negation = frozenset(w for w in _word_list(folder / "negation_words.txt") if w not in _NOT_NEGATORS)
        logger.info("lexicon built", extra={"polar": len(polarity), "categorised": len(categories),
                                            "degree": len(degree), "negation": len(negation)})
        return cls(polarity, categories, degree, negation,
                   source="../shared/data/lexicons: HowNet, NTUSD, Tsinghua Li Jun, DUTIR, degree adverbs, "
                          "negation words (DavionWu2018/Sentiment_dictionary @b48ab15; academic use)")

    def restrict(self, words: Iterable[str]) -> "Lexicon":
        """Only the entries that occur among `words` (what segmentation can actually produce)."""
        seen = set(words)
        return Lexicon({w: v for w, v in self.polarity.items() if w in seen},
                       {w: v for w, v in self.categories.items() if w in seen},
                       {w: v for w, v in self.degree.items() if w in seen},
                       frozenset(w for w in self.negation if w in seen), self.source)

    # --- persistence ----------------------------------------------------------
    def to_json(self) -> str:
        return json.dumps({"source": self.source, "categories_names": CATEGORY_NAMES,
                           "polarity": dict(sorted(self.polarity.items())),
                           "categories": dict(sorted(self.categories.items())),
                           "degree": dict(sorted(self.degree.items())),
                           "negation": sorted(self.negation)}, ensure_ascii=False, separators=(",", ":"))

    @classmethod
    def from_json(cls, text: str, where: str = "lexicon.json") -> "Lexicon":
        try:
            data = json.loads(text)
            return cls({str(k): float(v) for k, v in data["polarity"].items()},
                       {str(k): int(v) for k, v in data["categories"].items()},
                       {str(k): float(v) for k, v in data["degree"].items()},
                       frozenset(map(str, data["negation"])), str(data.get("source", "")))
        except (json.JSONDecodeError, KeyError, TypeError, ValueError, AttributeError) as exc:
            raise ModelFormatError(f"{where} is malformed: {exc}") from None

    # --- use ------------------------------------------------------------------
    def mark_negation(self, words: Sequence[str], window: int = 3) -> list[str]:
        """Prefix the next `window` content words after a negation cue with ¬, within one clause."""
        out: list[str] = []
        left = 0
        for word in words:
            if not _HAS_CONTENT.search(word):
                left = 0          # punctuation closes the clause
                out.append(word)
            elif word in self.negation:
                left = window
                out.append(word)
            elif left > 0:
                out.append(NEGATED + word)
                left -= 1
            else:
                out.append(word)
        return out

    def features(self, docs: Sequence[Sequence[str]], window: int = 3) -> np.ndarray:
        """(n_docs, len(FEATURE_NAMES)) float32: log1p of degree-weighted lexicon hits."""
        out = np.zeros((len(docs), len(FEATURE_NAMES)), dtype=np.float32)
        polarity, categories, degree, negation = self.polarity, self.categories, self.degree, self.negation
        for row, words in enumerate(docs):
            counts = out[row]
            boost, negated_left = 1.0, 0
            for word in words:
                if word in negation:
                    negated_left = window
                    counts[4] += 1
                    continue
                if word in degree:
                    boost = degree[word]
                    continue
                sign = polarity.get(word)
                if sign is not None:
                    if negated_left > 0:
                        counts[2 if sign > 0 else 3] += boost
                    else:
                        counts[0 if sign > 0 else 1] += boost
                family = categories.get(word)
                if family is not None and negated_left == 0:
                    counts[5 + family] += boost
                if _HAS_CONTENT.search(word):
                    negated_left = max(0, negated_left - 1)
                    boost = 1.0
                else:
                    negated_left, boost = 0, 1.0
        return np.log1p(out, out=out)


def _word_list(path: Path, sep: str | None = None) -> list[str]:
    """Words from a one-per-line list; header lines (with tabs or counts) are skipped."""
    words = []
    for line in path.read_text(encoding="utf-8-sig", errors="replace").splitlines():
        word = line.split(sep)[0].strip() if sep else line.strip()
        if word and "\t" not in line and not word[0].isdigit():
            words.append(word)
    return words


def _hownet_degree(path: Path) -> dict[str, float]:
    """HowNet degree words: six numbered sections, each a level of intensity."""
    out: dict[str, float] = {}
    level = -1
    for line in path.read_text(encoding="utf-8-sig", errors="replace").splitlines():
        line = line.strip()
        if not line or line.startswith("中文"):
            continue
        if line[0].isdigit() and "." in line[:3]:
            level += 1
            continue
        if 0 <= level < len(_HOWNET_DEGREE_LEVELS):
            out[line] = _HOWNET_DEGREE_LEVELS[level]
    return out
