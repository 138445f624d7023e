"""create_store: settings → backend."""
from __future__ import annotations

from pathlib import Path

import pytest

from index import StoreError
from index.sqlite.store import SQLiteStore
from yuqing.config import (
    Agency, AgenciesFile, AppConfig, NlpSettings, RulesFile, Settings, SourcesFile, StoreSettings, TopicsFile,
)


def settings(tmp_path: Path, **store) -> Settings:
    (tmp_path / "dicts").mkdir(exist_ok=True)
    (tmp_path / "dicts" / "places.txt").write_text("十里河村 ns\n", encoding="utf-8")
    app = AppConfig(store=StoreSettings(**store), nlp=NlpSettings(user_dicts=["dicts/places.txt"]))
    return Settings(app, SourcesFile(sources=[]), TopicsFile(topics=[]), RulesFile(rules=[]),
                    AgenciesFile(default_agency="office", agencies=[Agency(id="office", name="网信办")]),
                    config_path=tmp_path / "configs" / "app.yaml", base_dir=tmp_path)


def test_sqlite_backend_resolves_its_path_against_the_base_dir(tmp_path: Path):
    configured = settings(tmp_path, backend="sqlite", sqlite={"path": "var/test.db"})
    store = configured.create_store()
    assert isinstance(store, SQLiteStore)
    assert store.path == tmp_path / "var" / "test.db"
    # the application's one segmenter: the enricher's, with the configured dictionary
    assert store._segmenter is configured.segmenter()
    assert store._segmenter.user_dicts[-1] == (tmp_path / "dicts" / "places.txt").resolve()
    assert "十里河村" in store._segmenter.index_tokens("十里河村反映问题")
    with store:
        assert store.count() == 0
    assert store.path.exists()


def test_elasticsearch_backend_is_built_from_its_settings(tmp_path: Path):
    from index.elasticsearch.store import ElasticsearchStore
    store = settings(tmp_path, backend="elasticsearch",
                     elasticsearch={"hosts": "http://es1:9200,http://es2:9200", "index_prefix": "city"}).create_store()
    assert isinstance(store, ElasticsearchStore)
    assert store.connection.hosts == ("http://es1:9200", "http://es2:9200")
    assert store.names.posts_alias == "city-posts"
    assert store.spool.directory == tmp_path / "var" / "spool"


def test_elasticsearch_backend_names_a_missing_secret(tmp_path: Path, monkeypatch):
    monkeypatch.delenv("YQ_TEST_ES_KEY", raising=False)
    with pytest.raises(StoreError, match="YQ_TEST_ES_KEY"):
        settings(tmp_path, backend="elasticsearch", elasticsearch={"api_key_env": "YQ_TEST_ES_KEY"}).create_store()
