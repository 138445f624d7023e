"""`yuqing kibana import`: the request it sends, checked on a real HTTP server on 127.0.0.1 standing
in for Kibana's saved-objects import API."""
from __future__ import annotations

import email.parser
import email.policy
import json
import logging
import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

import pytest

pytest.importorskip("httpx")

from index.elasticsearch.kibana.objects import load_ndjson  # noqa: E402
from yuqing.cli import main  # noqa: E402


class FakeKibana:
    def __init__(self) -> None:
        self.requests: list[dict] = []
        self.reply: tuple[int, dict] = (200, {"success": True, "successCount": len(load_ndjson()), "errors": []})
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def do_POST(self) -> None:   # noqa: N802 - http.server API
                body = self.rfile.read(int(self.headers["Content-Length"]))
                message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(
                    b"Content-Type: " + self.headers["Content-Type"].encode() + b"\r\n\r\n" + body)
                parts = {p.get_param("name", header="content-disposition"): p for p in message.iter_parts()}
                url = urlsplit(self.path)
                fake.requests.append({
                    "path": url.path, "query": parse_qs(url.query),
                    "headers": {k.lower(): v for k, v in self.headers.items()},
                    "file": parts["file"].get_content() if "file" in parts else None,
                    "filename": parts["file"].get_filename() if "file" in parts else None,
                })
                status, reply = fake.reply
                data = json.dumps(reply).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"


@pytest.fixture
def kibana() -> Iterator[FakeKibana]:
    fake = FakeKibana()
    thread = threading.Thread(target=fake.server.serve_forever, daemon=True)
    thread.start()
    yield fake
    fake.server.shutdown()
    fake.server.server_close()


@pytest.fixture(autouse=True)
def no_credentials(monkeypatch):
    for var in ("YUQING_KIBANA_API_KEY", "YUQING_KIBANA_USERNAME", "YUQING_KIBANA_PASSWORD"):
        monkeypatch.delenv(var, raising=False)


@pytest.fixture(autouse=True)
def restore_logging() -> Iterator[None]:
    """The CLI configures the root logger; later tests must not inherit that."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


def sent_objects(request: dict) -> list[dict]:
    text = request["file"] if isinstance(request["file"], str) else request["file"].decode("utf-8")
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def test_import_posts_the_ndjson_to_the_saved_objects_api(kibana: FakeKibana, capsys):
    assert main(["kibana", "import", "--url", kibana.url + "/"]) == 0
    [request] = kibana.requests
    assert request["path"] == "/api/saved_objects/_import"
    assert request["query"] == {"overwrite": ["true"]}
    assert request["headers"]["kbn-xsrf"] == "true"
    assert "authorization" not in request["headers"]
    assert request["headers"]["content-type"].startswith("multipart/form-data")
    assert request["filename"].endswith(".ndjson")
    assert sent_objects(request) == load_ndjson()
    n = len(load_ndjson())
    assert f"imported {n} of {n}" in capsys.readouterr().out


def test_space_prefix_api_key_and_no_overwrite(kibana: FakeKibana, monkeypatch):
    monkeypatch.setenv("YUQING_KIBANA_API_KEY", "a2V5OnNlY3JldA==")
    assert main(["kibana", "import", "--url", kibana.url, "--space", "jiujiang", "--index-prefix", "city",
                 "--no-overwrite"]) == 0
    [request] = kibana.requests
    assert request["path"] == "/s/jiujiang/api/saved_objects/_import"
    assert request["query"] == {"overwrite": ["false"]}
    assert request["headers"]["authorization"] == "ApiKey a2V5OnNlY3JldA=="
    views = [o for o in sent_objects(request) if o["type"] == "index-pattern"]
    assert {v["attributes"]["title"] for v in views} == {"city-posts*", "city-alerts"}


def test_basic_auth_from_the_environment(kibana: FakeKibana, monkeypatch):
    monkeypatch.setenv("YUQING_KIBANA_USERNAME", "elastic")
    monkeypatch.setenv("YUQING_KIBANA_PASSWORD", "changeme")
    assert main(["kibana", "import", "--url", kibana.url]) == 0
    assert kibana.requests[0]["headers"]["authorization"] == "Basic ZWxhc3RpYzpjaGFuZ2VtZQ=="


def test_objects_kibana_rejects_are_listed_and_fail_the_command(kibana: FakeKibana, capsys):
    kibana.reply = (200, {"success": False, "successCount": 10, "errors": [
        {"id": "yuqing-overview", "type": "dashboard", "title": "舆情总览",
         "error": {"type": "missing_references", "references": [{"type": "lens", "id": "yuqing-hot-words"}]}}]})
    assert main(["kibana", "import", "--url", kibana.url]) == 1
    err = capsys.readouterr().err
    assert "dashboard/yuqing-overview: missing_references (missing: lens/yuqing-hot-words)" in err


@pytest.mark.parametrize("status, message", [(401, "refused the credentials"), (400, "HTTP 400: bad file")])
def test_http_errors_are_explained(kibana: FakeKibana, capsys, status: int, message: str):
    kibana.reply = (status, {"statusCode": status, "error": "Bad Request", "message": "bad file"})
    assert main(["kibana", "import", "--url", kibana.url]) == 1
    assert message in capsys.readouterr().err


def test_unreachable_kibana_and_unreadable_file(tmp_path, capsys):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    assert main(["kibana", "import", "--url", f"http://127.0.0.1:{port}"]) == 1
    assert "cannot reach Kibana" in capsys.readouterr().err
    bad = tmp_path / "bad.ndjson"
    bad.write_text("{not json\n", encoding="utf-8")
    assert main(["kibana", "import", "--url", "http://127.0.0.1:1", "--file", str(bad)]) == 2
