"""Backends under the Store contract suite.

Every backend runs the same tests in test_store_contract.py. To add one, register a
factory in BACKENDS: it gets the test's tmp_path and pytest request and returns a
StoreMaker, a callable that builds a fresh, unopened Store over that test's storage
(called again to check that reopening keeps data); keyword arguments it is given (such
as timezone="Europe/Berlin") go to the backend's constructor. A backend that needs a service
should skip from its factory when the service is absent, isolate each test (e.g. a
unique index prefix, removed via request.addfinalizer) and make writes visible to
the next read (e.g. Elasticsearch with refresh="wait_for").
"""
from __future__ import annotations

import secrets
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from index.sqlite.store import SQLiteStore
from index.store import Store

StoreMaker = Callable[..., Store]
BackendFactory = Callable[[Path, pytest.FixtureRequest], StoreMaker]


def sqlite_backend(tmp_path: Path, request: pytest.FixtureRequest) -> StoreMaker:
    path = tmp_path / "contract.db"
    return lambda **options: SQLiteStore(path, **options)


def elasticsearch_backend(tmp_path: Path, request: pytest.FixtureRequest) -> StoreMaker:
    """The real test node (tests/support/es_node.py); each test gets its own index prefix, dropped afterwards."""
    from index.elasticsearch.client import ConnectionSettings
    from index.elasticsearch.store import ElasticsearchStore
    from tests.support.es_node import url_for_tests

    url = url_for_tests()
    prefix = f"yqt-{secrets.token_hex(4)}"

    def make(**options) -> Store:
        return ElasticsearchStore(ConnectionSettings(hosts=(url,)), index_prefix=prefix, replicas=0,
                                  spool_dir=tmp_path / "spool", **options)

    def drop() -> None:
        cleaner = ElasticsearchStore(ConnectionSettings(hosts=(url,)), index_prefix=prefix)
        cleaner.drop()
        cleaner.close()

    request.addfinalizer(drop)
    return make


BACKENDS: dict[str, BackendFactory] = {
    "sqlite": sqlite_backend,
    "elasticsearch": elasticsearch_backend,
}


@pytest.fixture(params=sorted(BACKENDS))
def store_maker(request: pytest.FixtureRequest, tmp_path: Path) -> StoreMaker:
    return BACKENDS[request.param](tmp_path, request)


@pytest.fixture
def store(store_maker: StoreMaker) -> Iterator[Store]:
    instance = store_maker()
    instance.open()
    yield instance
    instance.close()
