"""Source health records: runs, successes, failures, blocked (403/429/captcha) and deliveries."""
from __future__ import annotations

from datetime import datetime, timedelta

from index import health
from index.schema import DEFAULT_TZ
from index.sqlite.store import SQLiteStore

T = datetime(2026, 12, 1, 8, 0, tzinfo=DEFAULT_TZ)


def test_crawls_fold_into_one_record_per_source(tmp_path):
    with SQLiteStore(tmp_path / "s.db") as store:
        assert health.load(store, "xyw").status == "never"
        health.record(store, "xyw", {"ok": True, "pages": 5, "written": 3, "errors": 0}, T)
        h = health.record(store, "xyw", {"ok": False, "pages": 2, "written": 0, "errors": 4,
                                         "error_kinds": {"http_403": 3, "timeout": 1}}, T + timedelta(hours=1))
        assert h.status == "blocked" and h.last.blocked == 3 and h.consecutive_failures == 1
        assert h.last_success_at == T and h.last_delivery_at == T and h.last_failure == "http_403×3, timeout×1"
        assert h.total.pages == 7 and h.total.written == 3 and h.total.error_kinds == {"http_403": 3, "timeout": 1}
        h = health.record(store, "xyw", {"ok": True, "pages": 1, "written": 0}, T + timedelta(hours=2))
        assert h.status == "ok" and h.runs == 3 and h.failed_runs == 1 and h.last_delivery_at == T
    with SQLiteStore(tmp_path / "s.db") as store:                 # kept across processes
        assert health.load(store, "xyw").runs == 3 and health.load(store, "other").runs == 0
