"""The nlp package's configuration model (app.yaml `nlp:`)."""
from __future__ import annotations

from pydantic import Field

from index.configbase import StrictModel


class NlpSettings(StrictModel):
    models_dir: str = "models"
    shared_data: str = "../shared/data"
    user_dicts: list[str] = Field(default_factory=list)
    batch_size: int = Field(default=256, ge=1)
