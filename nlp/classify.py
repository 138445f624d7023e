"""Text classifier: TF-IDF over character and word n-grams feeding a multinomial logistic regression.

A model is a directory (save_pretrained style), readable without pickles:

    config.json    task, labels, feature settings, training data, dev metrics
    vocab.json     the character and word n-gram vocabularies, in column order
    weights.npz    idf per vocabulary, coefficients and intercepts (float32)
    README.md      model card

Inference is a sparse matrix product and a softmax, so a model loads in well
under a second and classifies thousands of short posts per second. Segmentation
is the slow part; callers that already segmented the text (the enricher) pass
the words in.
"""
from __future__ import annotations

import json
import logging
import re
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np
from scipy import sparse
from sklearn.feature_extraction.text import TfidfVectorizer

from .errors import ModelFormatError, ModelNotFoundError
from .textnorm import normalize_text

logger = logging.getLogger(__name__)

FORMAT_NAME = "yuqing-text-classifier"
FORMAT_VERSION = 1
CONFIG_FILE, VOCAB_FILE, WEIGHTS_FILE, CARD_FILE = "config.json", "vocab.json", "weights.npz", "README.md"
_DIGITS = re.compile(r"\d+")


@dataclass
class FeatureConfig:
    char_ngram_range: tuple[int, int] = (1, 3)
    word_ngram_range: tuple[int, int] = (1, 2)
    max_char_features: int = 200_000
    max_word_features: int = 100_000
    min_df: int = 2
    sublinear_tf: bool = True
    max_chars: int = 1000          # long articles: the opening carries topic and tone
    keep_features: int | None = 80_000   # after a first fit, refit on the n-grams with the largest weights
    collapse_digits: bool = True   # every digit run reads as "0": phone numbers and dates are not tone or topic
    normalization: str = "NFKC, lower case, whitespace runs → one space"

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "FeatureConfig":
        known = {k: v for k, v in data.items() if k in cls.__dataclass_fields__}
        for key in ("char_ngram_range", "word_ngram_range"):
            if key in known:
                known[key] = tuple(known[key])
        return cls(**known)


@dataclass
class ModelConfig:
    C: float = 3.0
    class_weight: str | None = "balanced"
    max_iter: int = 300


def _char_vectorizer(cfg: FeatureConfig, vocabulary: dict[str, int] | None = None) -> TfidfVectorizer:
    return TfidfVectorizer(analyzer="char", ngram_range=cfg.char_ngram_range, min_df=cfg.min_df,
                           max_features=cfg.max_char_features, sublinear_tf=cfg.sublinear_tf,
                           lowercase=False, dtype=np.float32, vocabulary=vocabulary)


def _word_vectorizer(cfg: FeatureConfig, vocabulary: dict[str, int] | None = None) -> TfidfVectorizer:
    # Documents are pre-segmented words joined by spaces; str.split keeps the tokenizer picklable-free.
    return TfidfVectorizer(tokenizer=str.split, token_pattern=None, preprocessor=None, lowercase=False,
                           ngram_range=cfg.word_ngram_range, min_df=cfg.min_df,
                           max_features=cfg.max_word_features, sublinear_tf=cfg.sublinear_tf,
                           dtype=np.float32, vocabulary=vocabulary)


def _truncate_words(words: Sequence[str], max_chars: int) -> list[str]:
    out, used = [], 0
    for w in words:
        if used >= max_chars:
            break
        out.append(w)
        used += len(w)
    return out


class TextClassifier:
    """Predicts one label per text with class probabilities."""

    def __init__(self, config: dict[str, Any], char_vectorizer: TfidfVectorizer, word_vectorizer: TfidfVectorizer,
                 coef: np.ndarray, intercept: np.ndarray, segmenter=None):
        self.config = config
        self.labels: list[str] = list(config["labels"])
        self.features = FeatureConfig.from_dict(config.get("features", {}))
        self._char = char_vectorizer
        self._word = word_vectorizer
        self._coef_t = np.ascontiguousarray(coef.T, dtype=np.float32)    # (n_features, n_labels)
        self._intercept = intercept.astype(np.float32)
        self._segmenter = segmenter
        if self._coef_t.shape != (self.n_features, len(self.labels)):
            raise ModelFormatError(f"weights shape {coef.shape} does not match {len(self.labels)} labels × "
                                   f"{self.n_features} features")

    @property
    def task(self) -> str:
        return self.config.get("task", "")

    @property
    def n_features(self) -> int:
        return len(self._char.vocabulary_) + len(self._word.vocabulary_)

    @property
    def segmenter(self):
        if self._segmenter is None:
            from .segment import default_segmenter
            self._segmenter = default_segmenter()
        return self._segmenter

    # --- features --------------------------------------------------------
    def _documents(self, texts: Sequence[str], words: Sequence[Sequence[str]] | None) -> tuple[list[str], list[str]]:
        return prepare_documents(texts, words, self.features, lambda: self.segmenter)

    def _matrix(self, texts: Sequence[str], words: Sequence[Sequence[str]] | None) -> sparse.csr_matrix:
        chars, word_docs = self._documents(texts, words)
        return sparse.hstack([self._char.transform(chars), self._word.transform(word_docs)], format="csr")

    # --- prediction ------------------------------------------------------
    def probabilities(self, texts: Sequence[str], *, words: Sequence[Sequence[str]] | None = None,
                      batch_size: int = 512) -> np.ndarray:
        """(n_texts, n_labels) probability matrix, columns in `labels` order."""
        texts = ["" if t is None else str(t) for t in texts]
        out = np.zeros((len(texts), len(self.labels)), dtype=np.float32)
        for start in range(0, len(texts), batch_size):
            stop = start + batch_size
            chunk_words = None if words is None else words[start:stop]
            scores = self._matrix(texts[start:stop], chunk_words) @ self._coef_t + self._intercept
            scores -= scores.max(axis=1, keepdims=True)
            np.exp(scores, out=scores)
            out[start:stop] = scores / scores.sum(axis=1, keepdims=True)
        return out

    def predict_proba(self, texts: Sequence[str], *, words: Sequence[Sequence[str]] | None = None) -> list[dict[str, float]]:
        return [dict(zip(self.labels, map(float, row))) for row in self.probabilities(texts, words=words)]

    def predict(self, texts: Sequence[str], *, words: Sequence[Sequence[str]] | None = None) -> list[tuple[str, float]]:
        """Best label and its probability for each text."""
        probs = self.probabilities(texts, words=words)
        best = probs.argmax(axis=1) if len(probs) else np.zeros(0, dtype=int)
        return [(self.labels[i], float(probs[row, i])) for row, i in enumerate(best)]

    # --- training --------------------------------------------------------
    @classmethod
    def train(cls, texts: Sequence[str], labels: Sequence[str], *, task: str = "custom",
              label_order: Sequence[str] | None = None, features: FeatureConfig | None = None,
              model: ModelConfig | None = None, words: Sequence[Sequence[str]] | None = None,
              segmenter=None, extra_config: dict[str, Any] | None = None) -> "TextClassifier":
        """Fit vectorizers and a multinomial logistic regression on (text, label) pairs."""
        if len(texts) != len(labels):
            raise ValueError(f"{len(texts)} texts but {len(labels)} labels")
        present = sorted(set(labels))
        if len(present) < 2:
            raise ValueError(f"need at least two distinct labels to train, got {present}")
        order = list(label_order) if label_order else present
        unknown = set(present) - set(order)
        if unknown:
            raise ValueError(f"labels {sorted(unknown)} are not in label_order {order}")
        features = features or FeatureConfig()
        model = model or ModelConfig()
        config: dict[str, Any] = {
            "format": FORMAT_NAME, "format_version": FORMAT_VERSION, "task": task, "labels": order,
            "features": asdict(features), "model": {"type": "multinomial_logistic_regression", **asdict(model)},
            "created_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "library_versions": _versions(),
            **(extra_config or {}),
        }
        # min_df is relaxed for tiny corpora (tests, few-shot) so the vocabulary is not empty.
        eff = FeatureConfig(**{**asdict(features), "min_df": features.min_df if len(texts) >= 50 else 1})
        char_vec, word_vec = _char_vectorizer(eff), _word_vectorizer(eff)
        if segmenter is None and words is None:
            from .segment import default_segmenter
            segmenter = default_segmenter()
        chars, word_docs = prepare_documents(texts, words, features, lambda: segmenter)
        X = sparse.hstack([char_vec.fit_transform(chars), word_vec.fit_transform(word_docs)], format="csr")
        for vec in (char_vec, word_vec):
            vec.stop_words_ = None   # the pruned-terms set is large and useless after fitting
        clf = _fit(X, labels, model, task)
        if features.keep_features and X.shape[1] > features.keep_features:
            # Most n-grams carry almost no weight; dropping them shrinks the model several-fold
            # at no measurable cost, and the refit lets the kept weights absorb their share.
            strength = np.abs(clf.coef_).max(axis=0)
            keep = np.sort(np.argsort(strength)[::-1][: features.keep_features])
            n_char = len(char_vec.vocabulary_)
            char_vec = _restrict(char_vec, keep[keep < n_char], eff, _char_vectorizer)
            word_vec = _restrict(word_vec, keep[keep >= n_char] - n_char, eff, _word_vectorizer)
            X = sparse.hstack([char_vec.transform(chars), word_vec.transform(word_docs)], format="csr")
            clf = _fit(X, labels, model, task)
        coef = np.zeros((len(order), X.shape[1]), dtype=np.float32)
        intercept = np.full(len(order), -1e4, dtype=np.float32)   # a label unseen in training is never predicted
        if len(clf.classes_) == 2:   # sklearn keeps one row for binary problems
            rows = {clf.classes_[1]: (clf.coef_[0], clf.intercept_[0]), clf.classes_[0]: (-clf.coef_[0], -clf.intercept_[0])}
            rows = {k: (c / 2, b / 2) for k, (c, b) in rows.items()}   # softmax over ±z/2 equals the sigmoid
        else:
            rows = {c: (clf.coef_[i], clf.intercept_[i]) for i, c in enumerate(clf.classes_)}
        for label, (c, b) in rows.items():
            coef[order.index(label)] = c
            intercept[order.index(label)] = b
        return cls(config, char_vec, word_vec, coef, intercept, segmenter)

    # --- persistence -----------------------------------------------------
    def save(self, path: str | Path, card: str | None = None) -> None:
        """Write the model directory (config.json, vocab.json, weights.npz, README.md)."""
        path = Path(path)
        path.mkdir(parents=True, exist_ok=True)
        vocab = {"char": _ordered_vocab(self._char), "word": _ordered_vocab(self._word)}
        _atomic_write(path / VOCAB_FILE, json.dumps(vocab, ensure_ascii=False, separators=(",", ":")))
        tmp = path / f".{WEIGHTS_FILE}.tmp.npz"
        np.savez_compressed(tmp, char_idf=self._char.idf_.astype(np.float32), word_idf=self._word.idf_.astype(np.float32),
                            coef=self._coef_t.T.astype(np.float32), intercept=self._intercept)
        tmp.replace(path / WEIGHTS_FILE)
        _atomic_write(path / CONFIG_FILE, json.dumps(self.config, ensure_ascii=False, indent=2) + "\n")
        _atomic_write(path / CARD_FILE, card if card is not None else default_card(self.config))

    @classmethod
    def load(cls, path: str | Path, segmenter=None) -> "TextClassifier":
        path = Path(path)
        missing = [f for f in (CONFIG_FILE, VOCAB_FILE, WEIGHTS_FILE) if not (path / f).is_file()]
        if missing:
            raise ModelNotFoundError(f"model directory {path} is missing {', '.join(missing)}; "
                                     "train one with `yuqing nlp train <task>`")
        try:
            config = json.loads((path / CONFIG_FILE).read_text(encoding="utf-8"))
            vocab = json.loads((path / VOCAB_FILE).read_text(encoding="utf-8"))
            with np.load(path / WEIGHTS_FILE, allow_pickle=False) as weights:
                arrays = {k: weights[k] for k in ("char_idf", "word_idf", "coef", "intercept")}
        except (OSError, ValueError, KeyError) as exc:
            raise ModelFormatError(f"model directory {path} is unreadable: {exc}") from None
        if config.get("format") != FORMAT_NAME or config.get("format_version", 0) > FORMAT_VERSION:
            raise ModelFormatError(f"{path / CONFIG_FILE}: not a {FORMAT_NAME} v{FORMAT_VERSION} model "
                                   f"(format={config.get('format')!r}, version={config.get('format_version')!r})")
        features = FeatureConfig.from_dict(config.get("features", {}))
        char_vec = _char_vectorizer(features, {t: i for i, t in enumerate(vocab["char"])})
        word_vec = _word_vectorizer(features, {t: i for i, t in enumerate(vocab["word"])})
        if len(arrays["char_idf"]) != len(vocab["char"]) or len(arrays["word_idf"]) != len(vocab["word"]):
            raise ModelFormatError(f"model directory {path}: vocabulary and idf sizes differ")
        char_vec.idf_ = arrays["char_idf"]
        word_vec.idf_ = arrays["word_idf"]
        model = cls(config, char_vec, word_vec, arrays["coef"], arrays["intercept"], segmenter)
        logger.info("loaded %s model", model.task, extra={"path": str(path), "features": model.n_features})
        return model


def _fit(X, labels: Sequence[str], model: ModelConfig, task: str):
    from sklearn.linear_model import LogisticRegression
    logger.info("fitting %s classifier", task, extra={"docs": X.shape[0], "features": X.shape[1]})
    clf = LogisticRegression(C=model.C, max_iter=model.max_iter, class_weight=model.class_weight)
    return clf.fit(X, list(labels))


def _restrict(vec: TfidfVectorizer, columns: np.ndarray, cfg: FeatureConfig, make) -> TfidfVectorizer:
    """A vectorizer over a subset of `vec`'s columns, keeping their idf."""
    terms = _ordered_vocab(vec)
    restricted = make(cfg, {terms[c]: i for i, c in enumerate(columns)})
    restricted.idf_ = vec.idf_[columns]
    return restricted


def prepare_documents(texts: Sequence[str], words: Sequence[Sequence[str]] | None, cfg: FeatureConfig,
                      get_segmenter) -> tuple[list[str], list[str]]:
    """Normalised character documents and space-joined word documents for the two vectorizers."""
    max_chars = cfg.max_chars

    def norm(text: str) -> str:
        text = normalize_text(text)
        return _DIGITS.sub("0", text) if cfg.collapse_digits else text

    chars = [norm(t[:max_chars]) for t in texts]
    if words is None:
        segmenter = get_segmenter()
        words = [segmenter.cut(t[:max_chars]) for t in texts]
    elif len(words) != len(texts):
        raise ValueError(f"got {len(words)} word lists for {len(texts)} texts")
    word_docs = [" ".join(w for w in (norm(x) for x in _truncate_words(ws, max_chars)) if w) for ws in words]
    return chars, word_docs


def _ordered_vocab(vec: TfidfVectorizer) -> list[str]:
    terms = [""] * len(vec.vocabulary_)
    for term, i in vec.vocabulary_.items():
        terms[i] = term
    return terms


def _atomic_write(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(path)


def _versions() -> dict[str, str]:
    import jieba
    import scipy
    import sklearn
    return {"scikit-learn": sklearn.__version__, "numpy": np.__version__, "scipy": scipy.__version__,
            "jieba": jieba.__version__}


def default_card(config: dict[str, Any]) -> str:
    """A minimal model card; nlp.train writes a fuller one with data and metrics."""
    return (f"# {config.get('task', 'text')} classifier\n\n"
            f"Labels: {', '.join(config['labels'])}\n\n"
            "TF-IDF character (1–3) and word n-grams → multinomial logistic regression.\n")
