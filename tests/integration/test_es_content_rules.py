"""The sensitive_terms and influencer scenarios of tests/unit/warning/test_content_rules.py on Elasticsearch.

Both rules read counts and engagement-sorted top hits (word-level full-text queries);
this runs the same scenarios and assertions against a real node, with
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
_spec = importlib.util.spec_from_file_location("_content_scenarios", _unit / "test_content_rules.py")
_scenarios = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_scenarios)

_opened: list[ElasticsearchStore] = []


def _es_store(tmp_root: Path) -> ElasticsearchStore:
    es = ElasticsearchStore(ConnectionSettings(hosts=(url_for_tests(),)), index_prefix=f"yqc-{secrets.token_hex(4)}",
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


SCENARIOS = ["test_dead_fish_is_not_a_human_death_and_one_low_reach_mention_stays_quiet",
             "test_negative_only_and_window", "test_influencer_counts_big_accounts_and_media_not_verified_individuals",
             "test_sensitive_terms_escalate_and_end_through_the_engine"]


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_content_scenario_on_elasticsearch(scenario):
    getattr(_scenarios, scenario)()
