"""The nlp package's configuration model (app.yaml `nlp:`)."""
from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from pydantic import Field

from index.configbase import StrictModel

from .events import EventConfig

# The default linear models (sentiment, emotion, topic, rumor) ship inside the package; the
# transformer models beside them in a checkout stay out of the wheel (pyproject.toml).
PACKAGED_MODELS_DIR = Path(__file__).resolve().parent / "models"
_DORMANCY_HOURS = EventConfig.dormancy / timedelta(hours=1)


class EventSettings(StrictModel):
    """app.yaml `nlp.events:` how reposts and sub-stories hold together in events (nlp.events)."""
    relation_weight: float = Field(default=0.2, ge=0.0, le=1.0,
                                   description="weight of a repost's own words in its event's centroid "
                                               "(the k-th repost of an event adds relation_weight/k²)")
    repost_topic_words: int = Field(default=15, ge=0, le=100,
                                    description="a repost or comment with fewer words of its own than this "
                                                "(转发微博, an emoji, a one-line remark) takes its event's topic; 0: never")
    merge: bool = Field(default=True, description="merge sub-stories of one incident into one event")
    merge_window_hours: float = Field(default=48.0, gt=0, le=_DORMANCY_HOURS,
                                      description="the other event was active this close to the post "
                                                  f"(at most the event dormancy, {_DORMANCY_HOURS:g} h)")
    merge_similarity: float = Field(default=0.2, gt=0.0, le=1.0, description="centroid cosine to merge")
    merge_min_shared_terms: int = Field(default=2, ge=1, description="shared non-place terms to merge")
    merge_strong_terms: int = Field(default=5, ge=0, description="this many shared non-place terms merge at half "
                                                                "merge_similarity; 0: never")

    def event_config(self) -> EventConfig:
        """The nlp.events.EventConfig these settings describe (the other fields keep their defaults)."""
        return EventConfig(relation_weight=self.relation_weight, repost_topic_words=self.repost_topic_words,
                           merge=self.merge,
                           merge_window=timedelta(hours=self.merge_window_hours),
                           merge_similarity=self.merge_similarity,
                           merge_min_shared_terms=self.merge_min_shared_terms,
                           merge_strong_terms=self.merge_strong_terms)


class NlpSettings(StrictModel):
    models_dir: str | None = Field(default=None, description="trained model directories; "
                                                             "default: the models shipped in the nlp package")
    shared_data: str = "../shared/data"
    user_dicts: list[str] = Field(default_factory=list)
    batch_size: int = Field(default=256, ge=1)
    # A pasted novel or a spam wall must not stall the queue: analysis reads at most this much
    # of a post (the stored text stays whole; the post is flagged analysis_truncated).
    max_analysis_chars: int = Field(default=20000, ge=100)
    segment_timeout_s: float = Field(default=5.0, gt=0, description="segmentation budget per post")
    reenrich_per_run: int = Field(default=500, ge=0,
                                  description="stored unenriched posts retried per enrichment run")
    events: EventSettings = Field(default_factory=EventSettings)
