"""The enrichment stage: segment, classify, locate and flag posts before they are stored.

One segmentation per post feeds everything (tokens, keywords, both classifiers'
word features, region boundaries); each model runs once per batch. A batch that
fails falls back to post-by-post, and a post that still fails is returned
unenriched (enriched_at stays None) so nothing is lost and the next run retries it.
"""
from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

from index.schema import Post, Region, Sentiment, Topic, now

from .classify import TextClassifier
from .errors import ModelNotFoundError
from .keywords import KeywordExtractor
from .privacy import contains_pii
from .regions import Gazetteer, RegionExtractor
from .segment import Segmenter, default_segmenter

logger = logging.getLogger(__name__)

SENTIMENT_DIR, TOPIC_DIR, REGIONS_DIR = "sentiment", "topic", "regions"


class Enricher:
    def __init__(self, *, segmenter: Segmenter, sentiment: TextClassifier, topic: TextClassifier,
                 regions: RegionExtractor | None, keywords: KeywordExtractor | None = None,
                 batch_size: int = 256, top_keywords: int = 8, topic_min_score: float = 0.25, max_topics: int = 3):
        self.segmenter = segmenter
        self.sentiment = sentiment
        self.topic = topic
        self.regions = regions
        self.keywords = keywords or KeywordExtractor(segmenter)
        self.batch_size = max(1, batch_size)
        self.top_keywords = top_keywords
        self.topic_min_score = topic_min_score
        self.max_topics = max_topics

    @classmethod
    def from_models_dir(cls, models_dir: Path, *, home_region: Sequence[str] = (), user_dicts: Sequence[Path] = (),
                        batch_size: int = 256) -> "Enricher":
        """Load models/sentiment and models/topic; the gazetteer from models/regions if present, else the shipped one."""
        models_dir = Path(models_dir)
        if not models_dir.is_dir():
            raise ModelNotFoundError(f"models directory {models_dir} not found (config nlp.models_dir)")
        segmenter = default_segmenter(user_dicts)
        sentiment = TextClassifier.load(models_dir / SENTIMENT_DIR, segmenter=segmenter)
        topic = TextClassifier.load(models_dir / TOPIC_DIR, segmenter=segmenter)
        local = models_dir / REGIONS_DIR / "gazetteer.tsv"
        gazetteer = Gazetteer.load(local) if local.exists() else Gazetteer.default()
        regions = RegionExtractor(gazetteer, home_region, segmenter) if gazetteer else None
        if regions is None:
            logger.warning("region extraction disabled: no gazetteer")
        segmenter.warm_up()
        return cls(segmenter=segmenter, sentiment=sentiment, topic=topic, regions=regions, batch_size=batch_size)

    def enrich(self, posts: Sequence[Post]) -> list[Post]:
        """New Post objects with tokens, keywords, sentiment, topics, region, pii_masked and enriched_at set."""
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
        texts = [p.text for p in batch]
        words = [self.segmenter.cut(t) for t in texts]
        sentiment_probs = self.sentiment.probabilities(texts, words=words)
        topic_probs = self.topic.probabilities(texts, words=words)
        stamp = now()
        out = []
        for post, text, ws, s_row, t_row in zip(batch, texts, words, sentiment_probs, topic_probs):
            best = int(s_row.argmax())
            out.append(post.model_copy(update={
                "tokens": self.segmenter.content_tokens(ws),
                "keywords": self.keywords.from_words(ws, self.top_keywords),
                "sentiment": Sentiment(label=self.sentiment.labels[best], score=_prob(s_row[best])),
                "topics": self._topics(t_row),
                "region": self._region(post, text, ws),
                "pii_masked": contains_pii(text),
                "enriched_at": stamp,
            }))
        return out

    def _topics(self, row) -> list[Topic]:
        order = row.argsort()[::-1]
        chosen = [i for i in order[: self.max_topics] if row[i] >= self.topic_min_score] or [int(order[0])]
        return [Topic(label=self.topic.labels[i], score=_prob(row[i])) for i in chosen]

    def _region(self, post: Post, text: str, words: list[str]) -> Region | None:
        if self.regions is None:
            return post.region
        return self.regions.extract(text, post.author.location, words=words)


def _prob(value: float) -> float:
    return min(1.0, max(0.0, round(float(value), 4)))
