"""Text classifiers behind one loader.

`load_classifier(path)` reads path/config.json and returns the implementation
its `format` names: the linear `TextClassifier` below, or the transformer in
`nlp.transformer` (needs torch). Both follow the `Classifier` protocol.

The linear model: TF-IDF over character and word n-grams, optionally with
negation scope marking and a lexicon block (nlp.lexicons), feeding a
multinomial logistic regression or a linear SVM with calibrated softmax
scores. A model is a directory (save_pretrained style), readable without
pickles:

    config.json    task, labels, feature settings, training data, dev metrics
    vocab.json     the character and word n-gram vocabularies, in column order
    weights.npz    idf per vocabulary, coefficients and intercepts (float32)
    lexicon.json   lexicon entries and negation cues (only when the features use them)
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
from typing import Any, Protocol, runtime_checkable

import numpy as np
from scipy import sparse
from sklearn.feature_extraction.text import TfidfVectorizer

from .cleaning import clean_text
from .errors import ModelFormatError, ModelNotFoundError
from .lexicons import FEATURE_NAMES as LEXICON_FEATURES, Lexicon
from .textnorm import normalize_text

logger = logging.getLogger(__name__)

FORMAT_NAME = "yuqing-text-classifier"
FORMAT_VERSION = 1
CONFIG_FILE, VOCAB_FILE, WEIGHTS_FILE, CARD_FILE = "config.json", "vocab.json", "weights.npz", "README.md"
LEXICON_FILE = "lexicon.json"
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
    negation: bool = False         # words in a negation's scope become ¬word (不满意 ≠ 满意)
    negation_window: int = 3       # content words a negation cue reaches, within one clause
    lexicon: bool = False          # dense lexicon block: polarity hits (negation-aware) and DUTIR families
    lexicon_scale: float = 0.3     # weight of the lexicon block next to the unit-length TF-IDF rows

    @property
    def needs_lexicon(self) -> bool:
        return self.negation or self.lexicon

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
    # "logistic": multinomial logistic regression. "svm": linear SVM (squared hinge), whose
    # scores become probabilities through a softmax temperature fitted on out-of-fold scores.
    loss: str = "logistic"
    calibration_folds: int = 3




@runtime_checkable
class Classifier(Protocol):
    """What every model directory loads into (linear or transformer).

    `words` are pre-segmented jieba words for each text; the linear model reuses
    them, the transformer ignores them. `probabilities` returns the same numbers
    as `predict_proba` as an (n_texts, n_labels) float32 array in `labels` order.
    """

    labels: list[str]
    config: dict[str, Any]

    @property
    def task(self) -> str: ...

    def predict(self, texts: Sequence[str], *, words: Sequence[Sequence[str]] | None = None
                ) -> list[tuple[str, float]]: ...

    def predict_proba(self, texts: Sequence[str], *, words: Sequence[Sequence[str]] | None = None
                      ) -> list[dict[str, float]]: ...

    def probabilities(self, texts: Sequence[str], *, words: Sequence[Sequence[str]] | None = None) -> np.ndarray: ...


def read_model_config(path: str | Path) -> dict[str, Any]:
    """config.json of a model directory, with errors that say what to do."""
    config_path = Path(path) / CONFIG_FILE
    if not config_path.is_file():
        raise ModelNotFoundError(f"model directory {path} has no {CONFIG_FILE}; "
                                 "train one with `yuqing nlp train <task>`")
    try:
        config = json.loads(config_path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ModelFormatError(f"{config_path} is unreadable: {exc}") from None
    if not isinstance(config, dict):
        raise ModelFormatError(f"{config_path} is not a JSON object")
    return config


def load_classifier(path: str | Path, *, segmenter=None, device: str | None = None) -> Classifier:
    """Load any model directory: reads path/config.json and returns the right implementation.

    Linear models (`yuqing-text-classifier`) load with numpy alone; transformer
    models (`yuqing-transformer-classifier`) need torch and transformers
    (`pip install -e '.[transformer]'`). `segmenter` is shared with the linear
    model; `device` ("cpu", "cuda") only matters for the transformer.
    """
    path = Path(path)
    config = read_model_config(path)
    fmt = config.get("format")
    if fmt == FORMAT_NAME:
        return TextClassifier.load(path, segmenter=segmenter)
    from .transformer import TRANSFORMER_FORMAT  # light: the package imports torch only when used
    if fmt == TRANSFORMER_FORMAT:
        try:
            from .transformer.model import TransformerClassifier
        except ImportError as exc:
            raise ModelFormatError(f"{path} is a transformer model but {exc.name or exc} is not installed; "
                                   "install the extra: pip install -e '.[transformer]'") from None
        return TransformerClassifier.load(path, device=device)
    raise ModelFormatError(f"{path / CONFIG_FILE}: unknown model format {fmt!r} "
                           f"(expected {FORMAT_NAME!r} or {TRANSFORMER_FORMAT!r})")


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

    uses_words = True    # callers that segmented already should pass `words`

    def __init__(self, config: dict[str, Any], char_vectorizer: TfidfVectorizer, word_vectorizer: TfidfVectorizer,
                 coef: np.ndarray, intercept: np.ndarray, segmenter=None, lexicon: Lexicon | None = None):
        self.config = config
        self.labels: list[str] = list(config["labels"])
        self.features = FeatureConfig.from_dict(config.get("features", {}))
        if self.features.needs_lexicon and lexicon is None:
            raise ModelFormatError("the model's features use a lexicon but none was given (lexicon.json missing?)")
        self._char = char_vectorizer
        self._word = word_vectorizer
        self._lexicon = lexicon
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
        return len(self._char.vocabulary_) + len(self._word.vocabulary_) + _n_lexicon_columns(self.features)

    @property
    def lexicon(self) -> Lexicon | None:
        return self._lexicon

    @property
    def segmenter(self):
        if self._segmenter is None:
            from .segment import default_segmenter
            self._segmenter = default_segmenter()
        return self._segmenter

    # --- features --------------------------------------------------------
    def _matrix(self, texts: Sequence[str], words: Sequence[Sequence[str]] | None,
                shared: dict | None = None, part: int = 0) -> sparse.csr_matrix:
        docs = prepare_documents(texts, words, self.features, lambda: self.segmenter, self._lexicon,
                                 shared=shared, part=part)
        blocks = [self._char.transform(docs.chars), self._word.transform(docs.words)]
        if docs.lexicon is not None:
            blocks.append(sparse.csr_matrix(docs.lexicon))
        return sparse.hstack(blocks, format="csr")

    # --- prediction ------------------------------------------------------
    def probabilities(self, texts: Sequence[str], *, words: Sequence[Sequence[str]] | None = None,
                      batch_size: int = 512, shared: dict | None = None) -> np.ndarray:
        """(n_texts, n_labels) probability matrix, columns in `labels` order.

        `shared`: one dict the caller passes to every model it runs over the *same* texts and words
        (the enricher, per batch), so cleaning and normalisation are done once, not once per model."""
        texts = ["" if t is None else str(t) for t in texts]
        out = np.zeros((len(texts), len(self.labels)), dtype=np.float32)
        for start in range(0, len(texts), batch_size):
            stop = start + batch_size
            chunk_words = None if words is None else words[start:stop]
            scores = self._matrix(texts[start:stop], chunk_words, shared, start) @ self._coef_t + self._intercept
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
              segmenter=None, extra_config: dict[str, Any] | None = None,
              lexicon: Lexicon | None = None, weights: Sequence[float] | None = None) -> "TextClassifier":
        """Fit vectorizers and a multinomial logistic regression on (text, label) pairs.

        `lexicon` is required when `features.negation` or `features.lexicon` is on; it is
        restricted to the words of the training texts and saved with the model. `weights` are
        per-text sample weights (weak labels count less); None: all 1.
        """
        if weights is not None and len(weights) != len(texts):
            raise ValueError(f"{len(texts)} texts but {len(weights)} weights")
        sample_weight = None if weights is None or all(w == 1 for w in weights) else np.asarray(weights, float)
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
        if features.needs_lexicon and lexicon is None:
            raise ValueError("features.negation / features.lexicon need a lexicon (nlp.lexicons.Lexicon)")
        if model.loss not in _MODEL_TYPES:
            raise ValueError(f"unknown loss {model.loss!r}; use one of {', '.join(_MODEL_TYPES)}")
        config: dict[str, Any] = {
            "format": FORMAT_NAME, "format_version": FORMAT_VERSION, "task": task, "labels": order,
            "features": asdict(features), "model": {"type": _MODEL_TYPES[model.loss], **asdict(model)},
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
        if words is None:
            words = [segmenter.cut(t[: features.max_chars]) for t in texts]
        if lexicon is not None:
            lexicon = lexicon.restrict(normalize_text(w) for ws in words for w in ws)
        docs = prepare_documents(texts, words, features, lambda: segmenter, lexicon)
        dense = [] if docs.lexicon is None else [sparse.csr_matrix(docs.lexicon)]
        X = sparse.hstack([char_vec.fit_transform(docs.chars), word_vec.fit_transform(docs.words), *dense],
                          format="csr")
        for vec in (char_vec, word_vec):
            vec.stop_words_ = None   # the pruned-terms set is large and useless after fitting
        clf = _fit(X, labels, model, task, sample_weight)
        n_ngrams = len(char_vec.vocabulary_) + len(word_vec.vocabulary_)
        if features.keep_features and n_ngrams > features.keep_features:
            # Most n-grams carry almost no weight; dropping them shrinks the model several-fold
            # at no measurable cost, and the refit lets the kept weights absorb their share.
            strength = np.abs(clf.coef_[:, :n_ngrams]).max(axis=0)
            keep = np.argsort(strength)[::-1][: features.keep_features]
            n_char = len(char_vec.vocabulary_)
            # each block keeps at least its strongest column: an empty vocabulary cannot be restored
            for block in (slice(0, n_char), slice(n_char, n_ngrams)):
                if not ((keep >= block.start) & (keep < block.stop)).any() and block.stop > block.start:
                    keep = np.append(keep, block.start + int(strength[block].argmax()))
            keep = np.sort(keep)
            char_vec = _restrict(char_vec, keep[keep < n_char], eff, _char_vectorizer)
            word_vec = _restrict(word_vec, keep[keep >= n_char] - n_char, eff, _word_vectorizer)
            X = sparse.hstack([char_vec.transform(docs.chars), word_vec.transform(docs.words), *dense], format="csr")
            clf = _fit(X, labels, model, task, sample_weight)
        temperature = _calibrate(X, labels, model, task) if model.loss == "svm" else 1.0
        config["model"]["temperature"] = round(temperature, 4)
        coef = np.zeros((len(order), X.shape[1]), dtype=np.float32)
        intercept = np.full(len(order), -1e4, dtype=np.float32)   # a label unseen in training is never predicted
        if len(clf.classes_) == 2:   # sklearn keeps one row for binary problems
            rows = {clf.classes_[1]: (clf.coef_[0], clf.intercept_[0]), clf.classes_[0]: (-clf.coef_[0], -clf.intercept_[0])}
            rows = {k: (c / 2, b / 2) for k, (c, b) in rows.items()}   # softmax over ±z/2 equals the sigmoid
        else:
            rows = {c: (clf.coef_[i], clf.intercept_[i]) for i, c in enumerate(clf.classes_)}
        for label, (c, b) in rows.items():
            # The temperature is folded into the weights: softmax(T·(Wx+b)) = softmax((TW)x + Tb).
            coef[order.index(label)] = c * temperature
            intercept[order.index(label)] = b * temperature
        return cls(config, char_vec, word_vec, coef, intercept, segmenter, lexicon if features.needs_lexicon else None)

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
        if self._lexicon is not None:
            _atomic_write(path / LEXICON_FILE, self._lexicon.to_json())
        elif (path / LEXICON_FILE).exists():
            (path / LEXICON_FILE).unlink()   # a stale lexicon from an earlier model in this folder
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
        lexicon = None
        if features.needs_lexicon:
            try:
                lexicon = Lexicon.from_json((path / LEXICON_FILE).read_text(encoding="utf-8"), str(path / LEXICON_FILE))
            except OSError as exc:
                raise ModelFormatError(f"model directory {path}: {LEXICON_FILE} unreadable ({exc})") from None
        char_vec = _char_vectorizer(features, {t: i for i, t in enumerate(vocab["char"])})
        word_vec = _word_vectorizer(features, {t: i for i, t in enumerate(vocab["word"])})
        if len(arrays["char_idf"]) != len(vocab["char"]) or len(arrays["word_idf"]) != len(vocab["word"]):
            raise ModelFormatError(f"model directory {path}: vocabulary and idf sizes differ")
        char_vec.idf_ = arrays["char_idf"]
        word_vec.idf_ = arrays["word_idf"]
        model = cls(config, char_vec, word_vec, arrays["coef"], arrays["intercept"], segmenter, lexicon)
        logger.info("loaded %s model", model.task, extra={"path": str(path), "features": model.n_features})
        return model


_MODEL_TYPES = {"logistic": "multinomial_logistic_regression", "svm": "linear_svm_softmax_calibrated"}


def _fit(X, labels: Sequence[str], model: ModelConfig, task: str, sample_weight=None):
    logger.info("fitting %s classifier", task, extra={"docs": X.shape[0], "features": X.shape[1]})
    if model.loss == "svm":
        from sklearn.svm import LinearSVC
        clf = LinearSVC(C=model.C, class_weight=model.class_weight, max_iter=max(model.max_iter, 2000))
    elif model.loss == "logistic":
        from sklearn.linear_model import LogisticRegression
        clf = LogisticRegression(C=model.C, max_iter=model.max_iter, class_weight=model.class_weight)
    else:
        raise ValueError(f"unknown loss {model.loss!r}; use 'logistic' or 'svm'")
    return clf.fit(X, list(labels), sample_weight=sample_weight)


def _calibrate(X, labels: Sequence[str], model: ModelConfig, task: str) -> float:
    """Softmax temperature for SVM scores that minimises log-loss on out-of-fold predictions."""
    from scipy.optimize import minimize_scalar
    from sklearn.model_selection import StratifiedKFold

    y = np.asarray(labels)
    counts = np.unique(y, return_counts=True)[1]
    folds = min(model.calibration_folds, int(counts.min()))
    if folds < 2:
        return 1.0
    scores, gold = [], []
    for train_idx, test_idx in StratifiedKFold(folds, shuffle=True, random_state=0).split(X, y):
        clf = _fit(X[train_idx], y[train_idx], model, f"{task} calibration")
        s = clf.decision_function(X[test_idx])
        if s.ndim == 1:   # binary: softmax over ±s/2 is the sigmoid of s
            s = np.stack([-s / 2, s / 2], axis=1)
        scores.append(s)
        gold.append(np.searchsorted(clf.classes_, y[test_idx]))
    S, G = np.vstack(scores), np.concatenate(gold)

    def nll(t: float) -> float:
        z = S * t
        z = z - z.max(axis=1, keepdims=True)
        return float(-(z[np.arange(len(G)), G] - np.log(np.exp(z).sum(axis=1))).mean())

    best = minimize_scalar(nll, bounds=(0.05, 50.0), method="bounded")
    logger.info("calibrated %s svm", task, extra={"temperature": round(best.x, 3), "log_loss": round(best.fun, 4)})
    return float(best.x)


def _restrict(vec: TfidfVectorizer, columns: np.ndarray, cfg: FeatureConfig, make) -> TfidfVectorizer:
    """A vectorizer over a subset of `vec`'s columns, keeping their idf."""
    terms = _ordered_vocab(vec)
    restricted = make(cfg, {terms[c]: i for i, c in enumerate(columns)})
    restricted.idf_ = vec.idf_[columns]
    return restricted


@dataclass
class Documents:
    chars: list[str]                 # normalised text for the character vectorizer
    words: list[str]                 # space-joined (negation-marked) words for the word vectorizer
    lexicon: np.ndarray | None       # dense lexicon block, already scaled


def _n_lexicon_columns(cfg: FeatureConfig) -> int:
    return len(LEXICON_FEATURES) if cfg.lexicon else 0


def prepare_documents(texts: Sequence[str], words: Sequence[Sequence[str]] | None, cfg: FeatureConfig,
                      get_segmenter, lexicon: Lexicon | None = None, *, shared: dict | None = None,
                      part: int = 0) -> Documents:
    """Normalised character documents, word documents and the lexicon block for one batch.

    `shared` (with `part`, the batch's offset) keeps the normalised characters and words for other
    models with the same max_chars and collapse_digits over the same texts (TextClassifier.probabilities)."""
    key = (part, len(texts), cfg.max_chars, cfg.collapse_digits)
    if shared is not None and key in shared:
        chars, word_lists = shared[key]
    else:
        chars, word_lists = _normalised(texts, words, cfg, get_segmenter)
        if shared is not None:
            shared[key] = (chars, word_lists)
    dense = None
    if cfg.lexicon and lexicon is not None:
        dense = lexicon.features(word_lists, cfg.negation_window) * np.float32(cfg.lexicon_scale)
    if cfg.negation and lexicon is not None:
        word_lists = [lexicon.mark_negation(ws, cfg.negation_window) for ws in word_lists]
    return Documents(chars, [" ".join(ws) for ws in word_lists], dense)


def _normalised(texts: Sequence[str], words: Sequence[Sequence[str]] | None, cfg: FeatureConfig,
                get_segmenter) -> tuple[list[str], list[list[str]]]:
    max_chars = cfg.max_chars

    def norm(text: str) -> str:
        text = normalize_text(text)
        return _DIGITS.sub("0", text) if cfg.collapse_digits else text

    texts = [clean_text(t) for t in texts]     # markup, links and invisible characters are not text
    chars = [norm(t[:max_chars]) for t in texts]
    if words is None:
        segmenter = get_segmenter()
        words = [segmenter.cut(t[:max_chars]) for t in texts]
    elif len(words) != len(texts):
        raise ValueError(f"got {len(words)} word lists for {len(texts)} texts")
    word_lists = [[w for w in (norm(x) for x in _truncate_words(ws, max_chars)) if w] for ws in words]
    return chars, word_lists


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



class FusedLinearModels:
    """Several linear models scored over the same texts with one n-gram pass per feature kind.

    Each TextClassifier alone counts its own character and word n-grams (sklearn `transform`, a
    Python loop per document): five models over one batch count the same n-grams five times.
    Here the character n-grams of every model with the same range are counted once against the
    union of their vocabularies, and the word n-grams once per distinct word document (models
    with the same negation cues mark their words the same way). A model's TF-IDF block is then
    exact arithmetic on the shared counts: with sublinear counts t over the union, its row is
    x = t·D / ‖t·D‖, D selecting its columns and scaling them by their idf, so its scores are
    x·W = t·(D W) / sqrt(t²·idf²) — products with dense matrices built once at load time for all
    models together. The probabilities equal each model's own (tested). Models whose features
    this cannot share (no sublinear tf) are scored on their own.
    """

    def __init__(self, models: Sequence[TextClassifier]):
        self.models = list(models)
        char_groups: dict[tuple, list] = {}
        word_groups: dict[tuple, list] = {}
        self._plans: list[dict[str, Any]] = []
        for m in self.models:
            f = m.features
            if not (f.sublinear_tf and m._char.norm == "l2" and m._word.norm == "l2"):
                self._plans.append({"model": m, "solo": True})
                continue
            neg = (frozenset(m.lexicon.negation), f.negation_window) if f.negation and m.lexicon else None
            char_key = ("char", f.char_ngram_range, f.max_chars, f.collapse_digits)
            word_key = ("word", f.word_ngram_range, f.max_chars, f.collapse_digits, neg)
            n_char, n_word = len(m._char.vocabulary_), len(m._word.vocabulary_)
            char_groups.setdefault(char_key, []).append((m, m._char, m._coef_t[:n_char]))
            word_groups.setdefault(word_key, []).append((m, m._word, m._coef_t[n_char:n_char + n_word]))
            self._plans.append({"model": m, "solo": False, "char": char_key, "word": word_key,
                                "lex_coef": m._coef_t[n_char + n_word:]})
        self._groups = {key: self._union(key, members, members[0][0].lexicon)
                        for key, members in (*char_groups.items(), *word_groups.items())}

    @staticmethod
    def _union(key: tuple, members: list, lexicon: Lexicon | None) -> dict[str, Any]:
        from sklearn.feature_extraction.text import CountVectorizer
        terms: dict[str, int] = {}
        for _, vec, _ in members:
            for term in _ordered_vocab(vec):
                terms.setdefault(term, len(terms))
        weights = np.zeros((len(terms), sum(coef.shape[1] for _, _, coef in members)), dtype=np.float32)
        squares = np.zeros((len(terms), len(members)), dtype=np.float32)
        columns, at = {}, 0
        for j, (m, vec, coef) in enumerate(members):
            rows = np.fromiter((terms[t] for t in _ordered_vocab(vec)), dtype=np.int64, count=len(vec.vocabulary_))
            idf = np.asarray(vec.idf_, dtype=np.float32)
            weights[rows, at:at + coef.shape[1]] = coef * idf[:, None]     # D W: the idf-scaled weights
            squares[rows, j] = idf * idf                                  # idf², for the row norm
            columns[id(m)] = (slice(at, at + coef.shape[1]), j)
            at += coef.shape[1]
        if key[0] == "char":
            counter = CountVectorizer(analyzer="char", ngram_range=key[1], lowercase=False,
                                      vocabulary=terms, dtype=np.float32)
        else:
            counter = CountVectorizer(tokenizer=str.split, token_pattern=None, preprocessor=None,
                                      lowercase=False, ngram_range=key[1], vocabulary=terms, dtype=np.float32)
        negation = key[-1] if key[0] == "word" else None
        return {"counter": counter, "weights": weights, "squares": squares, "columns": columns,
                "negation": negation, "lexicon": lexicon, "norm_key": (key[2], key[3])}

    def probabilities(self, texts: Sequence[str], *, words: Sequence[Sequence[str]] | None = None,
                      batch_size: int = 512) -> list[np.ndarray]:
        """One (n_texts, n_labels) probability matrix per model, in the order the models were given."""
        texts = ["" if t is None else str(t) for t in texts]
        out = [np.zeros((len(texts), len(m.labels)), dtype=np.float32) for m in self.models]
        for start in range(0, len(texts), batch_size):
            chunk = texts[start:start + batch_size]
            chunk_words = None if words is None else list(words[start:start + batch_size])
            for i, probs in enumerate(self._chunk(chunk, chunk_words)):
                out[i][start:start + len(chunk)] = probs
        return out

    def _chunk(self, texts: list[str], words) -> list[np.ndarray]:
        normalised: dict[tuple, tuple[list[str], list[list[str]]]] = {}

        def docs(model: TextClassifier) -> tuple[list[str], list[list[str]]]:
            f = model.features
            if (f.max_chars, f.collapse_digits) not in normalised:
                normalised[(f.max_chars, f.collapse_digits)] = _normalised(texts, words, f, lambda: model.segmenter)
            return normalised[(f.max_chars, f.collapse_digits)]

        first = {key: plan["model"] for plan in self._plans if not plan["solo"] for key in (plan["char"], plan["word"])}
        products = {}
        for key, group in self._groups.items():
            chars, word_lists = docs(first[key])
            if key[0] == "char":
                documents = chars
            else:
                if group["negation"] is not None:
                    word_lists = [group["lexicon"].mark_negation(ws, group["negation"][1]) for ws in word_lists]
                documents = [" ".join(ws) for ws in word_lists]
            t = group["counter"].transform(documents)
            np.log(t.data, out=t.data)
            t.data += 1                                                 # sublinear tf: 1 + log(count)
            weighted = np.asarray(t @ group["weights"])
            t.data **= 2
            norms = np.sqrt(np.asarray(t @ group["squares"]))
            norms[norms == 0] = 1.0                                     # an empty row stays zero, as in sklearn
            products[key] = (weighted, norms)
        results = []
        for plan in self._plans:
            m = plan["model"]
            if plan["solo"]:
                results.append(m.probabilities(texts, words=words))
                continue
            scores = np.zeros((len(texts), len(m.labels)), dtype=np.float32)
            for key in (plan["char"], plan["word"]):
                weighted, norms = products[key]
                cols, j = self._groups[key]["columns"][id(m)]
                scores += weighted[:, cols] / norms[:, j:j + 1]
            if m.features.lexicon and m.lexicon is not None:
                dense = m.lexicon.features(docs(m)[1], m.features.negation_window)
                scores += (dense * np.float32(m.features.lexicon_scale)) @ plan["lex_coef"]
            scores += m._intercept
            scores -= scores.max(axis=1, keepdims=True)
            np.exp(scores, out=scores)
            results.append(scores / scores.sum(axis=1, keepdims=True))
        return results
