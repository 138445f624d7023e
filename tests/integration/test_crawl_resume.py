"""A crawl killed with SIGKILL mid-run and started again loses nothing and stores nothing twice."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import yaml

from tests.support.http import html_handler, start

REPO = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.integration
ARTICLES, PER_LIST, BATCH = 80, 20, 5


def _article(i: int) -> str:
    return (f"<html><head><meta charset='utf-8'><title>九江民生新闻第{i}号_九江新闻网</title></head><body>"
            f"<h1>九江民生新闻第{i}号</h1><div class='info'>发布时间：2026-11-18 {i % 24:02d}:{i % 60:02d}</div>"
            f"<div class='content'><p>第{i}号新闻：濂溪区推进老旧小区改造，居民反映施工噪音问题，街道表示将调整施工时间。</p>"
            f"<p>相关部门表示，改造工程预计年底完工，届时小区环境将明显改善，居民出行更加方便。</p></div></body></html>")


def _listing(page: int) -> str:
    links = "".join(f'<li><a href="/news/{n}.html">九江民生新闻第{n}号</a></li>'
                    for n in range((page - 1) * PER_LIST, page * PER_LIST))
    nxt = f'<a class="next" href="/list_{page + 1}.html">下一页</a>' if page * PER_LIST < ARTICLES else ""
    return f"<html><head><meta charset='utf-8'></head><body><ul class='news'>{links}</ul>{nxt}</body></html>"


def _route(path: str) -> str | None:
    if path.startswith("/news/"):
        time.sleep(0.08)                        # slow enough to kill the crawl in the middle
        return _article(int(path[6:-5]))
    if path.startswith("/list_"):
        return _listing(int(path[6:-5]))
    return "User-agent: *\nAllow: /\n" if path == "/robots.txt" else None


def _serve() -> ThreadingHTTPServer:
    return start(html_handler(_route))


@pytest.fixture
def slow_site():
    server = _serve()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


def _config(tmp: Path, base: str, incremental: bool = False) -> Path:
    import shutil
    for name in ("topics.yaml", "rules.yaml", "agencies.yaml"):
        shutil.copy(REPO / "configs" / name, tmp / name)
    source = {"name": "jjnews", "type": "news", "start_urls": [f"{base}/list_1.html"], "max_pages": 10,
              "list_page": {"link_selector": "ul.news a::attr(href)", "next_selector": "a.next::attr(href)"},
              "settings": {"AUTOTHROTTLE_ENABLED": False, "DOWNLOAD_DELAY": 0, "CONCURRENT_REQUESTS": 2,
                           "CONCURRENT_REQUESTS_PER_DOMAIN": 2, "YUQING_INBOX_BATCH_SIZE": BATCH,
                           "YUQING_INCREMENTAL": incremental}}
    (tmp / "sources.yaml").write_text(yaml.safe_dump({"sources": [source]}, allow_unicode=True), "utf-8")
    (tmp / "app.yaml").write_text(yaml.safe_dump({"data_dir": str(tmp / "var"), "inbox_dir": str(tmp / "var/inbox"),
                                                 "output_dir": str(tmp / "var/out"),
                                                 "store": {"backend": "sqlite", "sqlite": {"path": str(tmp / "var/y.db")}}}),
                                  "utf-8")
    return tmp / "app.yaml"


def _ids(inbox: Path) -> list[str]:
    return [json.loads(line)["id"] for path in sorted(inbox.glob("*.jsonl"))
            for line in path.read_text("utf-8").splitlines() if line.strip()]


@pytest.mark.parametrize("incremental", [False, True])
@pytest.mark.parametrize("kill_after", [3 * BATCH, 5 * BATCH, 9 * BATCH])   # inside list page 1, 2, 3
def test_a_killed_crawl_resumes_without_loss_or_duplicates(slow_site, tmp_path, kill_after, incremental):
    config = _config(tmp_path, slow_site, incremental)
    inbox = tmp_path / "var" / "inbox"
    cmd = [sys.executable, "-m", "yuqing.crawl_child", "--config", str(config), "--base-dir", str(tmp_path),
           "--source", "jjnews"]
    proc = subprocess.Popen(cmd, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while len(_ids(inbox)) < kill_after and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.05)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(10)
    delivered_before = len(_ids(inbox))
    assert 0 < delivered_before < ARTICLES, "the crawl was killed in the middle"

    again = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=120)
    assert again.returncode == 0, again.stderr[-2000:]
    ids = _ids(inbox)
    assert len(set(ids)) == ARTICLES, f"{ARTICLES - len(set(ids))} articles lost after the restart"
    assert len(ids) - len(set(ids)) <= BATCH          # at most the batch in flight when killed comes again

    from yuqing.config import load_settings
    from yuqing.jobs import App
    app = App(load_settings(config, base_dir=tmp_path))
    try:
        app.enrich_pending()
        assert app.store.count() == ARTICLES           # ids are stable: a repeat is one post
    finally:
        app.close()


def test_a_site_moved_to_another_port_gives_the_same_ids_with_id_pattern(slow_site, tmp_path):
    """The same articles served on two ports (as when a site moves, or http becomes https): with
    id_pattern the site's own article number is the id, so the second crawl adds nothing new."""
    import shutil
    from yuqing.config import load_settings
    from yuqing.jobs import App
    config = _config(tmp_path, slow_site)
    sources = yaml.safe_load((tmp_path / "sources.yaml").read_text("utf-8"))
    sources["sources"][0]["id_pattern"] = r"/news/(\d+)\.html$"
    sources["sources"][0]["max_pages"] = 1
    (tmp_path / "sources.yaml").write_text(yaml.safe_dump(sources, allow_unicode=True), "utf-8")
    cmd = [sys.executable, "-m", "yuqing.crawl_child", "--config", str(config), "--base-dir", str(tmp_path),
           "--source", "jjnews"]
    assert subprocess.run(cmd, cwd=REPO, capture_output=True, timeout=120).returncode == 0
    first = set(_ids(tmp_path / "var" / "inbox"))
    assert len(first) == PER_LIST and all(i.startswith("news:jjnews/") for i in first)
    # the same site on another port: a second server, the seen-state forgotten so every page is delivered again
    moved = _serve()
    try:
        sources["sources"][0]["start_urls"] = [f"http://127.0.0.1:{moved.server_address[1]}/list_1.html"]
        (tmp_path / "sources.yaml").write_text(yaml.safe_dump(sources, allow_unicode=True), "utf-8")
        shutil.rmtree(tmp_path / "var" / "inbox")
        for state in (tmp_path / "var").glob("crawl_state*"):
            state.unlink()
        assert subprocess.run(cmd, cwd=REPO, capture_output=True, timeout=120).returncode == 0
    finally:
        moved.shutdown()
    assert set(_ids(tmp_path / "var" / "inbox")) == first


def test_proxies_are_used_in_turn_and_a_dead_one_is_passed_over(slow_site, tmp_path):
    import socket
    import urllib.request
    relayed: list[str] = []

    class Proxy(BaseHTTPRequestHandler):
        def log_message(self, *args):
            pass

        def do_GET(self):  # noqa: N802 - a forward proxy: the request line holds the absolute URL
            relayed.append(self.path)
            with urllib.request.urlopen(self.path, timeout=10) as upstream:   # noqa: S310 - loopback test
                data = upstream.read()
                self.send_response(upstream.status)
                self.send_header("Content-Type", upstream.headers.get("Content-Type", "text/html"))
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

    proxy = ThreadingHTTPServer(("127.0.0.1", 0), Proxy)
    threading.Thread(target=proxy.serve_forever, daemon=True).start()
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        dead = f"http://127.0.0.1:{s.getsockname()[1]}"          # nobody listens there once closed
    config = _config(tmp_path, slow_site)
    sources = yaml.safe_load((tmp_path / "sources.yaml").read_text("utf-8"))
    sources["sources"][0].update(max_pages=1, proxies=[dead, f"http://127.0.0.1:{proxy.server_address[1]}"])
    (tmp_path / "sources.yaml").write_text(yaml.safe_dump(sources, allow_unicode=True), "utf-8")
    try:
        run = subprocess.run([sys.executable, "-m", "yuqing.crawl_child", "--config", str(config), "--base-dir",
                              str(tmp_path), "--source", "jjnews"], cwd=REPO, capture_output=True, text=True, timeout=120)
    finally:
        proxy.shutdown()
    report = json.loads(run.stdout.strip().splitlines()[-1])["sources"]["jjnews"]
    assert report["ok"] is True and report["written"] == PER_LIST, report
    assert len(set(_ids(tmp_path / "var" / "inbox"))) == PER_LIST
    assert sum("/news/" in u for u in relayed) == PER_LIST          # every article came through the live proxy
    assert "proxy" in run.stderr and "passed over" in run.stderr
