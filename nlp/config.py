"""The nlp package's configuration model (app.yaml `nlp:`)."""
from __future__ import annotations

from pathlib import Path

from pydantic import Field

from index.configbase import StrictModel

# The default linear models (sentiment, emotion, topic, rumor) ship inside the package; the
# transformer models beside them in a checkout stay out of the wheel (pyproject.toml).
PACKAGED_MODELS_DIR = Path(__file__).resolve().parent / "models"


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
