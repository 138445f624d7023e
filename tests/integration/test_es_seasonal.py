"""The seasonal volume_spike scenarios of tests/unit/warning/test_seasonal_spike.py on Elasticsearch.

The seasonal baseline reads shifted-window terms aggregations and one oldest-first
top hit; this runs the same scenarios and assertions against a real node, with
only the store swapped (a fresh index prefix per test).
"""
from __future__ import annotations

import importlib.util
import secrets
import sys
from pathlib import Path

import pytest

pytest.importorskip("elasticsearch")

from index.elasticsearch.client import ConnectionSettings  # noqa: E402
from index.elasticsearch.store import ElasticsearchStore  # noqa: E402
from tests.support.es_node import url_for_tests  # noqa: E402

pytestmark = pytest.mark.integration

_unit = Path(__file__).parents[1] / "unit" / "warning"
sys.path.insert(0, str(_unit))
_spec = importlib.util.spec_from_file_location("_seasonal_scenarios", _unit / "test_seasonal_spike.py")
_scenarios = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_scenarios)

_opened: list[ElasticsearchStore] = []


def _es_store(tmp_root: Path) -> ElasticsearchStore:
    es = ElasticsearchStore(ConnectionSettings(hosts=(url_for_tests(),)), index_prefix=f"yqs-{secrets.token_hex(4)}",
                            replicas=0, spool_dir=tmp_root / secrets.token_hex(4))
    es.open()
    _opened.append(es)
    return es


@pytest.fixture(autouse=True)
def es_backend(monkeypatch, tmp_path):
    monkeypatch.setattr(_scenarios, "RecordingStore", lambda: _es_store(tmp_path))
    yield
    while _opened:
        es = _opened.pop()
        es.drop()
        es.close()


SCENARIOS = [name for name in vars(_scenarios)
             if name.startswith("test_") and name not in ("test_seasonal_rule_only_aggregates", "test_robust_statistics",
                                                          "test_invalid_seasonal_parameters_are_rejected")]


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_seasonal_scenario_on_elasticsearch(scenario):
    getattr(_scenarios, scenario)()
