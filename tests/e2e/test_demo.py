"""The main job end to end: demo site → real spiders → enrichment → SQLite → warnings → briefing."""
from __future__ import annotations

import json
import re
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from index.sqlite.store import SQLiteStore
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


def _stored_by_corpus_id(store) -> dict[str, object]:
    """Corpus rows → stored posts: Weibo by native id, pages by URL path."""
    from urllib.parse import urlsplit
    stored = {}
    by_path = {urlsplit(p.url).path: p for p in store.iter_posts(PostQuery()) if p.url and p.platform != "weibo"}
    for row in load_corpus():
        if row["channel"] == "weibo":
            found = store.get_posts([f"weibo:{row['id']}"])
            post = found[0] if found else None
        else:
            post = by_path.get(row["path"])
        if post is not None:
            stored[row["id"]] = post
    return stored


def test_reposts_share_a_dup_group_with_the_first_report(demo):
    _, _, store = demo
    stored = _stored_by_corpus_id(store)
    pairs = [(stored[r["id"]], stored[r["dup_of"]]) for r in load_corpus()
             if r["dup_of"] and r["id"] in stored and r["dup_of"] in stored]
    assert len(pairs) >= 30
    together = [(copy, original) for copy, original in pairs if copy.dup_group == original.dup_group]
    assert len(together) >= 0.9 * len(pairs), len(together)
    assert sum(original.is_first_report for _, original in together) >= 0.8 * len(pairs)
    # every group: one 首发, the earliest post, and the group is named after it
    groups: dict[str, list] = {}
    for post in store.iter_posts(PostQuery()):
        groups.setdefault(post.dup_group, []).append(post)
    assert None not in groups
    for group, members in groups.items():
        [first] = [p for p in members if p.is_first_report]
        assert first.id == group
        assert first.published_at == min(p.published_at for p in members)


def test_the_incident_forms_a_few_events(demo):
    _, _, store = demo
    stored = _stored_by_corpus_id(store)
    incident = [stored[r["id"]] for r in load_corpus() if r["incident"] and r["id"] in stored]
    sizes: dict[str, int] = {}
    for post in incident:
        sizes[post.event_id] = sizes.get(post.event_id, 0) + 1
    # Online clustering splits a multi-day incident into its sub-stories (dead fish, the tap-water rumour,
    # the chemical plant …); which ones depends on crawl order. A few events must hold most of it.
    top = sorted(sizes, key=sizes.get, reverse=True)[:5]
    assert sum(sizes[e] for e in top) >= 0.8 * len(incident), sizes
    assert sizes[top[0]] >= 0.25 * len(incident), sizes
    events = store.get_events(top)
    assert [e.id for e in events] == top
    members = {e.id: store.count(PostQuery(event_ids=(e.id,))) for e in events}
    assert sum(sizes.values()) and sum(sizes[e] for e in top) >= 0.85 * sum(members.values())   # little else
    for event in events[:2]:
        assert sizes[event.id] >= 0.9 * members[event.id]
    for event in events:
        assert event.post_count == members[event.id]
        assert event.title and event.keywords
        assert event.first_post_id and store.get_posts([event.first_post_id])[0].published_at == event.first_seen
        assert sum(event.platforms.values()) == event.post_count
    assert events[0].topic == "环境保护" and "weibo" in events[0].platforms
    assert any("十里" in e.title or "死鱼" in e.title for e in events)
