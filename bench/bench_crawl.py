"""Crawl speed: pages/s of the news spider against a local fixture site, extraction included.

A threaded HTTP server on 127.0.0.1 serves list pages (20 links each, a next link) and article
pages shaped like a portal's (nav, headline, byline, 8–12 paragraphs of real Weibo text when
../shared/data is present, related links, footer). The news source crawls it with throttling off
(no AutoThrottle, no delay, 16 concurrent requests, robots.txt still read), through the real
runner: fetch, decode, extract (ArticleExtractor, trafilatura inside), validate, write to the inbox.
Prints figures only; the target (≥ 50 pages/s on 2 cores) is not asserted.
"""
from __future__ import annotations

import argparse
import json
import os
import random
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import yaml

from bench.bench_store import load_texts

PER_LIST = 20


def _article(i: int, texts: list[str], rng: random.Random) -> str:
    paragraphs = "".join(f"<p>{texts[(i * 13 + k) % len(texts)]}</p>" for k in range(rng.randint(8, 12)))
    related = "".join(f'<li><a href="/news/2024/0601/{(i + k) % 9999}.html">相关新闻标题第{k}条 九江本地资讯</a></li>'
                      for k in range(1, 8))
    return (f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>九江新闻第{i}号：濂溪区民生工程推进_九江新闻网</title>"
            f"<meta name='keywords' content='九江,濂溪'></head><body><div class='nav'><a href='/'>首页</a> &gt; 本地新闻</div>"
            f"<div class='main'><h1>九江新闻第{i}号：濂溪区民生工程推进</h1>"
            f"<div class='info'>发布时间：2024-06-01 {i % 24:02d}:{i % 60:02d}　来源：九江日报　作者：记者{i % 50}</div>"
            f"<div class='content'>{paragraphs}</div></div><div class='related'><h3>相关新闻</h3><ul>{related}</ul></div>"
            f"<div class='footer'>版权所有 九江新闻网 赣ICP备00000000号</div></body></html>")


def _listing(page: int, pages: int) -> str:
    start = (page - 1) * PER_LIST
    links = "".join(f'<li><a href="/news/2024/0601/{n}.html">九江新闻第{n}号</a></li>' for n in range(start, start + PER_LIST))
    nxt = f'<a class="next" href="/news/list_{page + 1}.html">下一页</a>' if page < pages else ""
    return f"<html><head><meta charset='utf-8'></head><body><ul class='news-list'>{links}</ul>{nxt}</body></html>"


def serve(articles: int, texts: list[str]) -> ThreadingHTTPServer:
    rng = random.Random(0)
    bodies = {f"/news/2024/0601/{i}.html": _article(i, texts, rng).encode("utf-8") for i in range(articles)}
    pages = -(-articles // PER_LIST)
    bodies.update({f"/news/list_{p}.html": _listing(p, pages).encode("utf-8") for p in range(1, pages + 1)})
    bodies["/robots.txt"] = b"User-agent: *\nAllow: /\n"

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 - http.server's name
            body = bodies.get(self.path)
            self.send_response(200 if body else 404)
            self.send_header("Content-Type", "text/html; charset=utf-8" if body else "text/plain")
            self.send_header("Content-Length", str(len(body or b"")))
            self.end_headers()
            self.wfile.write(body or b"")

        def log_message(self, *args):  # quiet
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def run(articles: int) -> dict:
    from yuqing.config import load_settings
    from yuqing.jobs import App
    texts = load_texts(20_000)
    server = serve(articles, texts)
    base = f"http://127.0.0.1:{server.server_address[1]}"
    pages = -(-articles // PER_LIST)
    with tempfile.TemporaryDirectory() as tmp:
        tmp_path = Path(tmp)
        repo = Path(__file__).resolve().parents[1]
        for name in ("topics.yaml", "rules.yaml", "agencies.yaml"):
            (tmp_path / name).write_text((repo / "configs" / name).read_text("utf-8"), "utf-8")
        source = {"name": "bench", "type": "news", "start_urls": [f"{base}/news/list_1.html"], "max_pages": pages,
                  "list_page": {"link_selector": "ul.news-list a::attr(href)", "next_selector": "a.next::attr(href)"},
                  "settings": {"AUTOTHROTTLE_ENABLED": False, "DOWNLOAD_DELAY": 0, "CONCURRENT_REQUESTS": 16,
                               "CONCURRENT_REQUESTS_PER_DOMAIN": 16, "LOG_LEVEL": "WARNING"}}
        (tmp_path / "sources.yaml").write_text(yaml.safe_dump({"sources": [source]}, allow_unicode=True), "utf-8")
        (tmp_path / "app.yaml").write_text(yaml.safe_dump({"data_dir": str(tmp_path / "var"),
                                                          "inbox_dir": str(tmp_path / "var/inbox"),
                                                          "output_dir": str(tmp_path / "var/out"),
                                                          "log_level": "WARNING"}), "utf-8")
        app = App(load_settings(tmp_path / "app.yaml", base_dir=tmp_path))
        started = time.perf_counter()
        report = app.crawl_in_child("bench")
        seconds = time.perf_counter() - started
        app.close()
        inbox_lines = sum(len(p.read_text("utf-8").splitlines()) for p in (tmp_path / "var/inbox").glob("*.jsonl"))
    server.shutdown()
    src = (report.get("sources") or {}).get("bench", {})
    fetched = int(src.get("pages", 0))
    return {"bench": "crawl.news", "articles": articles, "list_pages": pages, "pages_fetched": fetched,
            "posts_written": src.get("written"), "inbox_lines": inbox_lines, "errors": src.get("errors"),
            "seconds_wall": round(seconds, 1), "crawl_seconds": src.get("elapsed_s"),
            "pages_per_s_wall": round(fetched / seconds, 1) if seconds else None,
            "pages_per_s_crawl": round(fetched / src["elapsed_s"], 1) if src.get("elapsed_s") else None,
            "target_pages_per_s": 50, "cpus": os.cpu_count(), "load": [round(x, 2) for x in os.getloadavg()]}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--articles", type=int, default=1000)
    args = parser.parse_args(argv or [])
    print(json.dumps(run(args.articles), ensure_ascii=False), flush=True)


if __name__ == "__main__":
    import sys
    main(sys.argv[1:])
