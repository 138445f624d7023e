"""The main job end to end: demo site → real spiders → enrichment → SQLite → warnings → briefing."""
from __future__ import annotations

import json
import re
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from index.sqlite_store import SQLiteStore
from index.store import PostQuery
from yuqing.demo.site import load_corpus

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    out = tmp_path_factory.mktemp("demo")
    proc = subprocess.run([sys.executable, "-m", "yuqing.cli", "demo", "--out", str(out)],
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-5000:]
    store = SQLiteStore(out / "yuqing.db")
    store.open()
    yield out, proc.stdout, store
    store.close()


def test_every_channel_was_crawled_and_stored(demo):
    _, _, store = demo
    corpus = load_corpus()
    stored = store.count()
    # Deliberately broken links (500/404) may cost a few posts; everything else arrives.
    assert stored >= 0.95 * len(corpus), (stored, len(corpus))
    platforms = {b.key for b in store.terms(PostQuery(), "platform", size=10)}
    assert {"news", "rss", "weibo", "gov_board"} <= platforms
    sources = {b.key for b in store.terms(PostQuery(), "source", size=20)}
    assert len(sources) == 5, sources


def test_gbk_site_decoded(demo):
    _, _, store = demo
    gbk_titles = {r["title"] for r in load_corpus() if r["channel"] == "jjzx" and r.get("title")}
    stored_titles = {p.title for p in store.iter_posts(PostQuery()) if p.source.startswith("jjzx")}
    assert stored_titles and len(stored_titles & gbk_titles) >= 0.9 * len(stored_titles)


def test_posts_are_enriched(demo):
    _, _, store = demo
    posts = list(store.iter_posts(PostQuery()))
    assert all(p.sentiment and p.topics and p.tokens and p.enriched_at for p in posts)
    with_region = [p for p in posts if p.region and p.region.city_code == "3604"]
    assert len(with_region) >= 0.3 * len(posts)


def test_incident_raised_an_alert_routed_to_the_environment_bureau(demo):
    out, stdout, store = demo
    alerts = store.list_alerts(limit=100)
    incident = [a for a in alerts if a.topic == "环境保护"]
    assert incident, [a.title for a in alerts]
    assert all(a.agency == "eco_env" and a.agency_name == "九江市生态环境局" for a in incident)
    # The incident began on 11-18; it must be flagged by the surge on 11-19, not a day late.
    first = min(a.first_seen for a in incident)
    assert first.strftime("%m-%d") in ("11-18", "11-19"), first
    top_level = max(incident, key=lambda a: ["蓝", "黄", "橙", "红"].index(a.level))
    assert top_level.level in ("橙", "红")
    assert top_level.title in stdout
    assert json.loads((out / "report" / "alerts.json").read_text(encoding="utf-8"))


def test_no_alerts_in_the_quiet_baseline(demo):
    _, _, store = demo
    early = [a for a in store.list_alerts(limit=100) if a.first_seen.strftime("%m-%d") <= "11-17"]
    assert not early, [(a.title, a.first_seen) for a in early]


def test_briefing_names_the_incident_and_masks_personal_data(demo):
    out, _, store = demo
    briefings = sorted((out / "report" / "briefings").glob("*.html"))
    assert len(briefings) >= 4
    html = next(p for p in briefings if "20261120" in p.name).read_text(encoding="utf-8")
    incident = [a for a in store.list_alerts(limit=100) if a.topic == "环境保护"]
    assert any(a.title in html for a in incident)
    assert "九江市生态环境局" in html
    assert "<svg" in html
    assert "问政九江" in html and "wenzheng" not in html     # sources appear under the names readers know
    assert not re.search(r"(?<!\d)1[3-9]\d{9}(?!\d)", html), "unmasked mobile number in briefing"
