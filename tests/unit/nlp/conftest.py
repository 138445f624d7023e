"""Fixtures for the nlp unit tests: shared data (skipped when absent), the shipped models."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[3]
MODELS = REPO / "nlp" / "models"
SHARED_DATA = Path(os.environ.get("YUQING_SHARED_DATA", REPO.parent / "shared" / "data"))


@pytest.fixture(scope="session")
def shared_data() -> Path:
    if not (SHARED_DATA / "README.md").exists():
        pytest.skip(f"shared data not found at {SHARED_DATA} (set YUQING_SHARED_DATA to run these tests)")
    return SHARED_DATA


@pytest.fixture(scope="session")
def segmenter():
    from nlp.segment import default_segmenter
    return default_segmenter().warm_up()


@pytest.fixture(scope="session")
def models_dir() -> Path:
    return MODELS
