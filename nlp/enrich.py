"""The enrichment stage: clean, segment, classify, locate and flag posts before they are stored.

One cleaning and one segmentation per post feed everything (tokens, keywords,
every classifier's word features, region boundaries); each model runs once per
batch. A batch that fails falls back to post-by-post, and a post that still
fails is returned unenriched (enriched_at stays None) so nothing is lost.

Models (a models directory; the defaults ship in nlp/models): sentiment/ and topic/
are required; polarity/, emotion/ and rumor/ are used when present (an INFO line says when one
is skipped). Polarity (舆情倾向, what warnings count) without a polarity/ model falls back to the
sentiment model's reading, with a WARNING at load: a models directory from before issue 9.
Near-duplicate groups and events need the posts that came before, so they are a
separate, stateful step over the store: nlp.linking.StreamLinker.

Analysis reads at most max_analysis_chars of a post and segments it within
segment_timeout_s (nlp.bounded), so one pasted novel cannot stall the queue; such
a post is stored whole and flagged analysis_truncated.
"""
from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from index.schema import Emotion, Post, Region, RiskFlag, Sentiment, Topic, now

from .bounded import bounded_cut
from .cleaning import clean_text
from .errors import ModelFormatError, ModelNotFoundError
from .keywords import KeywordExtractor
from .privacy import contains_pii
from .regions import Gazetteer, RegionExtractor
from .schemes import SchemeMatcher
from .segment import Segmenter, default_segmenter

logger = logging.getLogger(__name__)

SENTIMENT_DIR, TOPIC_DIR, EMOTION_DIR, RUMOR_DIR, REGIONS_DIR = "sentiment", "topic", "emotion", "rumor", "regions"
POLARITY_DIR = "polarity"
# Label names a risk model may use for "this is a rumour"; config.json may name it as positive_label.
RISK_LABELS = ("rumor", "rumour", "谣言", "1", "true", "yes", "risk", "flagged")


def load_model(path: Path, segmenter: Segmenter | None = None) -> Any:
    """A classifier directory, through nlp.classify.load_classifier (linear or transformer) when it exists."""
    from . import classify
    loader = getattr(classify, "load_classifier", None)
    if loader is None:     # a checkout from before the transformer path
        return classify.TextClassifier.load(path, segmenter=segmenter)
    return loader(path, segmenter=segmenter)


def load_optional_model(path: Path, segmenter: Segmenter | None = None) -> Any | None:
    """Like load_model, but an absent directory means 'not installed': None, with an INFO line."""
    if not (Path(path) / "config.json").is_file():
        logger.info("optional model %s not installed; skipped", Path(path).name, extra={"path": str(path)})
        return None
    return load_model(path, segmenter)


def probability_matrix(model: Any, texts: Sequence[str], words: Sequence[Sequence[str]],
                       shared: dict | None = None) -> np.ndarray:
    """(n, labels) probabilities in model.labels order, from either classifier protocol. `shared`:
    one dict per batch, so the linear models clean and normalise the batch once between them."""
    from .classify import TextClassifier
    if isinstance(model, TextClassifier):
        return np.asarray(model.probabilities(texts, words=words, shared=shared))
    if hasattr(model, "probabilities"):
        return np.asarray(model.probabilities(texts, words=words))
    rows = model.predict_proba(texts, words=words)
    return np.array([[row.get(label, 0.0) for label in model.labels] for row in rows], dtype=np.float32)


def risk_label_index(model: Any) -> int:
    """Which column of a risk model is the risk."""
    labels = [str(label) for label in model.labels]
    config = getattr(model, "config", None) or {}
    named = config.get("positive_label") if isinstance(config, dict) else None
    if named is not None and str(named) in labels:
        return labels.index(str(named))
    for i, label in enumerate(labels):
        if label.lower() in RISK_LABELS:
            return i
    raise ModelFormatError(f"rumor model labels {labels}: none of them names the risk; "
                           "set positive_label in its config.json")


class Enricher:
    def __init__(self, *, segmenter: Segmenter, sentiment: Any, topic: Any,
                 regions: RegionExtractor | None, keywords: KeywordExtractor | None = None,
                 emotion: Any | None = None, rumor: Any | None = None, polarity: Any | None = None,
                 batch_size: int = 256, top_keywords: int = 8, topic_min_score: float = 0.25, max_topics: int = 3,
                 rumor_threshold: float | None = None,
                 max_analysis_chars: int = 20000, segment_timeout_s: float = 5.0,
                 schemes: SchemeMatcher | None = None):
        self.segmenter = segmenter
        self.schemes = schemes or SchemeMatcher([])
        self.sentiment = sentiment
        self.polarity = polarity
        self.topic = topic
        self.emotion = emotion
        self.rumor = rumor
        self.regions = regions
        self.keywords = keywords or KeywordExtractor(segmenter)
        self.batch_size = max(1, batch_size)
        self.top_keywords = top_keywords
        self.topic_min_score = topic_min_score
        self.max_topics = max_topics
        self._risk_column = risk_label_index(rumor) if rumor is not None else 0
        self.rumor_threshold = rumor_threshold if rumor_threshold is not None else _configured_threshold(rumor)
        self.max_analysis_chars = max(1, max_analysis_chars)
        self.segment_timeout_s = segment_timeout_s
        from .classify import FusedLinearModels, TextClassifier
        heads = {"sentiment": sentiment, "polarity": polarity, "topic": topic, "emotion": emotion, "rumor": rumor}
        linear = {name: m for name, m in heads.items() if isinstance(m, TextClassifier)}
        # the linear heads count their n-grams once between them (FusedLinearModels), not once each
        self._fused = FusedLinearModels(list(linear.values())) if len(linear) > 1 else None
        self._fused_names = list(linear) if self._fused is not None else []

    @classmethod
    def from_models_dir(cls, models_dir: Path, *, home_region: Sequence[str] = (), user_dicts: Sequence[Path] = (),
                        batch_size: int = 256, max_analysis_chars: int = 20000,
                        segment_timeout_s: float = 5.0, schemes: SchemeMatcher | None = None) -> "Enricher":
        """Load <models_dir>/sentiment and /topic (required), /emotion and /rumor (when present); the
        gazetteer from <models_dir>/regions if present, else the shipped one. The defaults: nlp/models."""
        models_dir = Path(models_dir)
        if not models_dir.is_dir():
            raise ModelNotFoundError(f"models directory {models_dir} not found (config nlp.models_dir)")
        segmenter = default_segmenter(user_dicts)
        sentiment = load_model(models_dir / SENTIMENT_DIR, segmenter)
        topic = load_model(models_dir / TOPIC_DIR, segmenter)
        polarity = load_optional_model(models_dir / POLARITY_DIR, segmenter)
        if polarity is None:
            logger.warning("no polarity model in %s: polarity (what warnings count) falls back to the sentiment "
                           "model's reading; install nlp/models/polarity", models_dir)
        emotion = load_optional_model(models_dir / EMOTION_DIR, segmenter)
        rumor = load_optional_model(models_dir / RUMOR_DIR, segmenter)
        gazetteer = _local_gazetteer(models_dir / REGIONS_DIR) or Gazetteer.default()
        regions = RegionExtractor(gazetteer, home_region, segmenter) if gazetteer else None
        if regions is None:
            logger.warning("region extraction disabled: no gazetteer")
        segmenter.warm_up()
        return cls(segmenter=segmenter, sentiment=sentiment, topic=topic, emotion=emotion, rumor=rumor,
                   polarity=polarity,
                   regions=regions, batch_size=batch_size, max_analysis_chars=max_analysis_chars,
                   segment_timeout_s=segment_timeout_s, schemes=schemes)

    def enrich(self, posts: Sequence[Post]) -> list[Post]:
        """New Post objects with tokens, keywords, sentiment, polarity, topics, region, schemes, pii_masked and
        enriched_at set."""
        out: list[Post] = []
        for start in range(0, len(posts), self.batch_size):
            batch = list(posts[start:start + self.batch_size])
            try:
                out.extend(self._enrich_batch(batch))
            except Exception:
                logger.exception("enrichment batch failed; retrying post by post", extra={"posts": len(batch)})
                out.extend(self._enrich_one_by_one(batch))
        return out

    def _enrich_one_by_one(self, batch: list[Post]) -> list[Post]:
        out = []
        for post in batch:
            try:
                out.extend(self._enrich_batch([post]))
            except Exception:
                logger.exception("could not enrich post; kept unenriched", extra={"post_id": post.id})
                out.append(post)
        return out

    def _enrich_batch(self, batch: list[Post]) -> list[Post]:
        texts, words, truncated = [], [], []
        for post in batch:
            text, ws, cut_short = self._analysable(post)
            texts.append(text)
            words.append(ws)
            truncated.append(cut_short)
        probs = self._probabilities(texts, words)
        sentiment_probs, polarity_probs, topic_probs = probs["sentiment"], probs["polarity"], probs["topic"]
        emotion_probs, rumor_probs = probs["emotion"], probs["rumor"]
        stamp = now()
        out = []
        for i, (post, text, ws) in enumerate(zip(batch, texts, words)):
            s_row = sentiment_probs[i]
            best = int(s_row.argmax())
            sentiment = Sentiment(label=self.sentiment.labels[best], score=_prob(s_row[best]))
            if polarity_probs is not None:
                p = int(polarity_probs[i].argmax())
                polarity = Sentiment(label=self.polarity.labels[p], score=_prob(polarity_probs[i][p]))
            else:
                polarity = sentiment
            region = self._region(post, text, ws)
            update = {
                "tokens": self.segmenter.content_tokens(ws),
                "keywords": self.keywords.from_words(ws, self.top_keywords),
                "sentiment": sentiment,
                "polarity": polarity,
                "topics": self._topics(topic_probs[i]),
                "region": region,
                "schemes": self._schemes(post.text, region),
                "pii_masked": contains_pii(post.text),
                "analysis_truncated": truncated[i],
                "enriched_at": stamp,
            }
            if emotion_probs is not None:
                e = int(emotion_probs[i].argmax())
                update["emotion"] = Emotion(label=str(self.emotion.labels[e]), score=_prob(emotion_probs[i][e]))
            if rumor_probs is not None:
                risk = _prob(rumor_probs[i][self._risk_column])
                update["rumor"] = RiskFlag(flagged=risk >= self.rumor_threshold, score=risk)
            out.append(post.model_copy(update=update))
        return out

    def _probabilities(self, texts: list[str], words: list[list[str]]) -> dict[str, np.ndarray | None]:
        """Each head's (n, labels) probabilities (None for a head not loaded)."""
        out: dict[str, np.ndarray | None] = {}
        if self._fused is not None:
            out.update(zip(self._fused_names, self._fused.probabilities(texts, words=words)))
        shared: dict = {}
        for name in ("sentiment", "polarity", "topic", "emotion", "rumor"):
            if name not in out:
                model = getattr(self, name)
                out[name] = None if model is None else probability_matrix(model, texts, words, shared)
        return out

    def _analysable(self, post: Post) -> tuple[str, list[str], bool]:
        """(analysed text, its words, whether anything was left out) within the length and time caps."""
        raw = post.text
        capped = raw[: self.max_analysis_chars]
        result = bounded_cut(self.segmenter.cut, clean_text(capped), max_chars=self.max_analysis_chars,
                             timeout_s=self.segment_timeout_s)
        if result.timed_out:
            logger.warning("segmentation stopped at its deadline; post analysed in part",
                           extra={"post_id": post.id, "timeout_s": self.segment_timeout_s,
                                  "chars_analysed": len(result.text)})
        return result.text, result.words, result.truncated or len(capped) < len(raw)

    def _topics(self, row) -> list[Topic]:
        order = row.argsort()[::-1]
        chosen = [i for i in order[: self.max_topics] if row[i] >= self.topic_min_score] or [int(order[0])]
        return [Topic(label=self.topic.labels[i], score=_prob(row[i])) for i in chosen]

    def _schemes(self, text: str, region: Region | None) -> list[str]:
        return self.schemes.match_text(text, region.codes if region else ())

    def _region(self, post: Post, text: str, words: list[str]) -> Region | None:
        if self.regions is None:
            return post.region
        return self.regions.extract(text, post.author.location, words=words)


def _configured_threshold(model: Any) -> float:
    """A risk model may carry its decision threshold in config.json ("threshold"); 0.5 otherwise."""
    config = getattr(model, "config", None)
    return float(config.get("threshold", 0.5)) if isinstance(config, dict) else 0.5


def _local_gazetteer(folder: Path) -> Gazetteer | None:
    """<models_dir>/regions/gazetteer.tsv (with its own aliases and townships, else the shipped ones), if present."""
    if not (folder / "gazetteer.tsv").exists():
        return None
    from .regions import DEFAULT_TOWNSHIPS, RESOURCE_ALIASES

    def pick(name: str, shipped: Path) -> Path | None:
        return folder / name if (folder / name).exists() else (shipped if shipped.exists() else None)

    return Gazetteer.load(folder / "gazetteer.tsv", pick(RESOURCE_ALIASES.name, RESOURCE_ALIASES),
                          pick(DEFAULT_TOWNSHIPS.name, DEFAULT_TOWNSHIPS))


def _prob(value: float) -> float:
    return min(1.0, max(0.0, round(float(value), 4)))


def models_dir_problems(models_dir: Path) -> list[str]:
    """What would stop Enricher.from_models_dir: a missing folder, or a required/optional model unreadable."""
    from .classify import read_model_config
    from .errors import NlpError

    models_dir = Path(models_dir)
    if not models_dir.is_dir():
        return [f"models directory {models_dir} not found"]
    problems = []
    for name, required in ((SENTIMENT_DIR, True), (TOPIC_DIR, True), (POLARITY_DIR, False), (EMOTION_DIR, False),
                           (RUMOR_DIR, False)):
        path = models_dir / name
        if not required and not path.exists():
            continue
        try:
            read_model_config(path)
        except NlpError as exc:
            problems.append(str(exc))
    return problems
