"""Bulk retries with backoff on 429/5xx, per-document errors, auth headers — against a real HTTP
server on 127.0.0.1 standing in for Elasticsearch's _bulk endpoint."""
from __future__ import annotations

import json
import socket
import threading
import time
from collections import defaultdict
from collections.abc import Iterator
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

pytest.importorskip("elasticsearch")

from index.elasticsearch.bulk import BulkInterrupted, BulkWriter  # noqa: E402
from index.elasticsearch.client import ConnectionSettings, build_client  # noqa: E402
from index.elasticsearch.store import ElasticsearchStore  # noqa: E402
from index.schema import Post  # noqa: E402
from index.store import StoreError, StoreUnavailable  # noqa: E402
from yuqing.config import ElasticsearchSettings  # noqa: E402

MAPPING_ERROR = {"type": "strict_dynamic_mapping_exception",
                 "reason": "[1:2] mapping set to strict, dynamic introduction of [bogus] within [_doc] is not allowed"}


class FakeBulk:
    """Answers _bulk with scripted per-document statuses: script[id] = [status of attempt 1, 2, ...]."""

    def __init__(self) -> None:
        self.script: dict[str, list[int]] = {}
        self.request_status: list[int] = []          # statuses for whole requests, consumed first
        self.attempts: dict[str, list[float]] = defaultdict(list)
        self.headers: list[dict[str, str]] = []
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def _reply(self, status: int, body: dict) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("X-Elastic-Product", "Elasticsearch")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self) -> None:   # noqa: N802 - http.server API; health, index lists: all empty
                self._reply(200, {"status": "green"} if "_cluster/health" in self.path else {})

            def do_POST(self) -> None:   # noqa: N802
                body = self.rfile.read(int(self.headers.get("Content-Length", 0))).decode()
                fake.headers.append({k.lower(): v for k, v in self.headers.items()})
                if "_bulk" not in self.path:   # templates, searches, refreshes: nothing there
                    self._reply(200, {"acknowledged": True, "hits": {"hits": []}})
                    return
                if fake.request_status:
                    status = fake.request_status.pop(0)
                    self._reply(status, {"error": {"type": "es_rejected_execution_exception",
                                                   "reason": "rejected"}, "status": status})
                    return
                lines = [json.loads(line) for line in body.splitlines() if line.strip()]
                items, i = [], 0
                while i < len(lines):
                    op, meta = next(iter(lines[i].items()))
                    i += 1 if op == "delete" else 2
                    doc_id = meta["_id"]
                    fake.attempts[doc_id].append(time.monotonic())
                    plan = fake.script.get(doc_id, [201])
                    status = plan[min(len(fake.attempts[doc_id]), len(plan)) - 1]
                    item = {"_index": meta["_index"], "_id": doc_id, "status": status}
                    if status == 400:
                        item["error"] = MAPPING_ERROR
                    elif status >= 300:
                        item["error"] = {"type": "es_rejected_execution_exception", "reason": f"status {status}"}
                    items.append({op: item})
                self._reply(200, {"took": 1, "errors": any(x[next(iter(x))]["status"] >= 300 for x in items),
                                  "items": items})

            do_PUT = do_POST   # noqa: N815

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)


@pytest.fixture
def fake() -> Iterator[FakeBulk]:
    server = FakeBulk()
    server.thread.start()
    yield server
    server.server.shutdown()
    server.server.server_close()


def writer(url: str, **kw) -> BulkWriter:
    client = build_client(ConnectionSettings(hosts=(url,), request_timeout_s=5, transport_retries=0))
    return BulkWriter(client, initial_backoff_s=0.05, max_backoff_s=0.2, **kw)


def actions(*ids: str) -> list[dict]:
    return [{"_op_type": "index", "_index": "t", "_id": i, "_source": {"id": i}} for i in ids]


def test_429_and_5xx_documents_are_retried_with_backoff(fake: FakeBulk):
    fake.script = {"busy": [429, 201], "flaky": [503, 500, 201], "bad": [400]}
    outcome = writer(fake.url, max_retries=3).write(actions("ok", "busy", "flaky", "bad"))
    assert sorted(outcome.ok) == ["busy", "flaky", "ok"]
    assert list(outcome.failed) == ["bad"] and "strict_dynamic_mapping_exception" in outcome.failed["bad"]
    assert outcome.retry_later == {}
    assert len(fake.attempts["ok"]) == 1 and len(fake.attempts["bad"]) == 1     # only 429/5xx are retried
    flaky = fake.attempts["flaky"]
    assert len(flaky) == 3
    assert flaky[1] - flaky[0] >= 0.04 and flaky[2] - flaky[1] >= 0.09        # 0.05 s, then doubled


def test_documents_still_rejected_after_the_last_retry_are_reported_for_later(fake: FakeBulk):
    fake.script = {"stuck": [429]}
    outcome = writer(fake.url, max_retries=2).write(actions("a", "stuck"))
    assert outcome.ok == ["a"]
    assert list(outcome.retry_later) == ["stuck"] and len(fake.attempts["stuck"]) == 3


def test_a_rejected_request_is_retried_whole(fake: FakeBulk):
    fake.request_status = [429]
    outcome = writer(fake.url, max_retries=2).write(actions("a", "b"))
    assert sorted(outcome.ok) == ["a", "b"]


def test_an_unreachable_cluster_interrupts_with_what_was_settled():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]       # closed again when the block ends: nobody listens there
    with pytest.raises(BulkInterrupted) as info:
        writer(f"http://127.0.0.1:{port}").write(actions("a"))
    assert isinstance(info.value, StoreUnavailable) and info.value.outcome.ok == []


def test_store_spools_what_the_cluster_keeps_refusing(fake: FakeBulk, tmp_path: Path):
    """A document still 429 after the retries is neither lost nor reported as bad: it waits in the spool."""
    fake.script = {"news:2": [429], "news:3": [400]}
    store = ElasticsearchStore(ConnectionSettings(hosts=(fake.url,), transport_retries=0), spool_dir=tmp_path,
                               max_retries=1, initial_backoff_s=0.01)
    posts = [Post(id=f"news:{i}", platform="news", source="s", title="标题", published_at=datetime(2024, 5, 6))
             for i in range(1, 4)]
    report = store.upsert_posts(posts)
    assert report.written == 1 and report.spooled == 1
    assert list(report.errors) == ["news:3"] and "strict_dynamic_mapping_exception" in report.errors["news:3"]
    assert [p.id for b in store.spool.batches() for p in b.posts] == ["news:2"]


def test_api_key_and_basic_auth_are_sent(fake: FakeBulk, monkeypatch):
    monkeypatch.setenv("YQ_KEY", "a2V5OnNlY3JldA==")
    conn = ConnectionSettings.from_settings(ElasticsearchSettings(hosts=[fake.url], api_key_env="YQ_KEY"))
    assert "a2V5" not in repr(conn)
    BulkWriter(build_client(conn)).write(actions("a"))
    assert fake.headers[-1]["authorization"] == "ApiKey a2V5OnNlY3JldA=="
    monkeypatch.setenv("YQ_PASS", "s3cret")
    conn = ConnectionSettings.from_settings(ElasticsearchSettings(hosts=[fake.url], username="elastic",
                                                                  password_env="YQ_PASS"))
    BulkWriter(build_client(conn)).write(actions("b"))
    assert fake.headers[-1]["authorization"].startswith("Basic ")


def test_ca_file_must_exist(tmp_path: Path):
    with pytest.raises(StoreError, match="CA file"):
        ConnectionSettings.from_settings(ElasticsearchSettings(ca_certs="certs/ca.crt"), base_dir=tmp_path)
    (tmp_path / "ca.crt").write_text("-----BEGIN CERTIFICATE-----\n", encoding="utf-8")
    conn = ConnectionSettings.from_settings(ElasticsearchSettings(ca_certs="ca.crt"), base_dir=tmp_path)
    assert conn.ca_certs == str(tmp_path / "ca.crt")
