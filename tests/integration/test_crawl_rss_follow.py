"""RSS feeds that carry a summary only: the crawl follows each entry to its article page for the
text, and keeps the summary when the article cannot be had."""
from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.support.http import html_site

REPO = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.integration
BODY = ("濂溪区十里河综合整治工程今日正式开工，工程计划投资两亿元，整治河道八公里，沿岸将新建步道和绿地。"
        "据介绍，工程分三期实施，清淤工作年内完成，届时十里河水质将明显改善，周边居民出行也更加便利。")


def _route(base: list[str]):
    def route(path: str) -> str | None:
        if path == "/rss.xml":
            items = "".join(
                f"<item><title>十里河整治第{i}期</title><link>{base[0]}/a/{i}.html</link>"
                f"<description>十里河整治工程开工（摘要{i}）</description><pubDate>Wed, 18 Nov 2026 0{i}:00:00 +0800</pubDate></item>"
                for i in (1, 2))
            return f'<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>九江新闻</title>{items}</channel></rss>'
        if path == "/a/1.html":
            return (f"<html><head><meta charset='utf-8'><title>十里河整治第1期_九江新闻网</title></head><body>"
                    f"<h1>十里河整治第1期</h1><div class='content'><p>{BODY}</p><p>{BODY}</p></div></body></html>")
        if path == "/robots.txt":
            return "User-agent: *\nAllow: /\n"
        return None                                        # /a/2.html is gone: the summary stays
    return route


def test_summary_only_entries_take_the_article_text(tmp_path):
    base: list[str] = []
    with html_site(_route(base)) as url:
        base.append(url)
        for name in ("topics.yaml", "rules.yaml", "agencies.yaml"):
            shutil.copy(REPO / "configs" / name, tmp_path / name)
        source = {"name": "jjrss", "type": "rss", "start_urls": [f"{url}/rss.xml"]}
        (tmp_path / "sources.yaml").write_text(yaml.safe_dump({"sources": [source]}, allow_unicode=True), "utf-8")
        (tmp_path / "app.yaml").write_text(yaml.safe_dump({"data_dir": "var", "inbox_dir": "var/inbox"}), "utf-8")
        proc = subprocess.run([sys.executable, "-m", "yuqing.crawl_child", "--config", str(tmp_path / "app.yaml"),
                               "--base-dir", str(tmp_path), "--source", "jjrss"], capture_output=True, text=True,
                              timeout=120, cwd=REPO)
    report = json.loads(proc.stdout.strip().splitlines()[-1])["sources"]["jjrss"]
    posts = {json.loads(line)["title"]: json.loads(line) for p in (tmp_path / "var" / "inbox").glob("*.jsonl")
             for line in p.read_text("utf-8").splitlines()}
    assert report["written"] == 2 and report["error_kinds"] == {"http_404": 1}
    full, summary = posts["十里河整治第1期"], posts["十里河整治第2期"]
    assert BODY[:30] in full["content"] and full["extra"]["feed_content"] == "article"
    assert full["published_at"].startswith("2026-11-18T01:00")
    assert summary["content"] == "十里河整治工程开工（摘要2）" and summary["extra"]["feed_content"] == "description"
