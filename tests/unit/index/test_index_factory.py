"""create_store: settings → backend."""
from __future__ import annotations

from pathlib import Path

import pytest

from index import BackendNotAvailable, SQLiteStore, StoreError, create_store
from yuqing.config import (
    Agency, AgenciesFile, AppConfig, NlpSettings, RulesFile, Settings, SourcesFile, StoreSettings, TopicsFile,
)


def settings(tmp_path: Path, **store) -> Settings:
    app = AppConfig(store=StoreSettings(**store), nlp=NlpSettings(user_dicts=["dicts/places.txt"]))
    return Settings(app, SourcesFile(sources=[]), TopicsFile(topics=[]), RulesFile(rules=[]),
                    AgenciesFile(default_agency="office", agencies=[Agency(id="office", name="网信办")]),
                    config_path=tmp_path / "configs" / "app.yaml", base_dir=tmp_path)


def test_sqlite_backend_resolves_its_path_against_the_base_dir(tmp_path: Path):
    store = create_store(settings(tmp_path, backend="sqlite", sqlite={"path": "var/test.db"}))
    assert isinstance(store, SQLiteStore)
    assert store.path == tmp_path / "var" / "test.db"
    assert store._segmenter.user_dicts == (tmp_path / "dicts" / "places.txt",)
    with store:
        assert store.count() == 0
    assert store.path.exists()


def test_elasticsearch_backend_is_not_available_yet(tmp_path: Path):
    with pytest.raises(BackendNotAvailable, match="elasticsearch") as info:
        create_store(settings(tmp_path, backend="elasticsearch"))
    assert isinstance(info.value, StoreError) and isinstance(info.value, NotImplementedError)
