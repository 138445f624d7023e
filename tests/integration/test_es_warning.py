"""The warning flow of test_warning_sqlite.py, run unchanged on the Elasticsearch store.

A quiet baseline, then a burst of negative 环境保护 posts: the alert is raised once, escalates,
is routed, survives a restart of the engine without a repeat notification (its state is read
back from the yuqing-alerts index and the state index), ends after quiet, and the briefing
names it. Only the `store` fixture differs; the scenario and its assertions are imported.
"""
from __future__ import annotations

import importlib.util
import secrets
from pathlib import Path

import pytest

pytest.importorskip("elasticsearch")

from index.elasticsearch.client import ConnectionSettings  # noqa: E402
from tests.support.es_node import url_for_tests  # noqa: E402
from index.elasticsearch.store import ElasticsearchStore  # noqa: E402

_spec = importlib.util.spec_from_file_location("_warning_flow_scenario",
                                               Path(__file__).with_name("test_warning_sqlite.py"))
_scenario = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_scenario)
# The scenario's fixtures (run) and tests, collected here again against the store below.
globals().update({name: value for name, value in vars(_scenario).items()
                  if name.startswith("test_") or name in ("run", "pytestmark")})


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    url = url_for_tests()
    prefix = f"yqt-{secrets.token_hex(4)}"
    es = ElasticsearchStore(ConnectionSettings(hosts=(url,)), index_prefix=prefix, replicas=0,
                            spool_dir=tmp_path_factory.mktemp("spool"))
    es.open()
    report = es.upsert_posts(_scenario.synthetic_posts())
    assert not report.errors and report.spooled == 0
    yield es
    es.drop()
    es.close()
