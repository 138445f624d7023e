"""The main job end to end, in simulated time: demo site → real spiders → enrichment → SQLite → warnings
→ briefing, every job at the simulated time the service's schedule gives it (yuqing/demo_flow.py)."""
from __future__ import annotations

import json
import re
import sqlite3
import subprocess
import sys
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from index.schema import AlertLevel
from index.sqlite.store import SQLiteStore
from index.store import PostQuery
from yuqing.demo.site import TZ, load_corpus
from yuqing.demo_flow import simulated_span

pytestmark = pytest.mark.e2e

START, END = simulated_span(load_corpus())


def run_demo(out: Path, *extra: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "yuqing.cli", "--log-level", "WARNING", "demo", "--out", str(out),
                           *extra], capture_output=True, text=True, timeout=900)


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    out = tmp_path_factory.mktemp("demo")
    proc = run_demo(out)
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


# --- simulated time ------------------------------------------------------------------------
INTERVALS = {"xyw": 20, "jjzx": 30, "jxnews": 30, "weibo": 10, "wenzheng": 15}   # configs/demo/sources.yaml


def test_posts_are_crawled_progressively_in_simulated_time(demo):
    """Each post is crawled at a simulated time after it was published, by the next crawl of its source."""
    _, _, store = demo
    posts = list(store.iter_posts(PostQuery()))
    assert posts
    late = []
    for post in posts:
        assert START <= post.crawled_at <= END, (post.id, post.crawled_at)
        assert post.crawled_at >= post.published_at, (post.id, post.published_at, post.crawled_at)
        assert START <= post.enriched_at <= END, (post.id, post.enriched_at)
        assert post.enriched_at >= post.crawled_at
        # board messages are re-delivered when their reply appears, so only first deliveries are timed
        if post.platform != "gov_board" and not post.extra.get("date_missing"):
            if post.crawled_at - post.published_at > timedelta(minutes=INTERVALS[post.source]):
                late.append((post.id, post.published_at, post.crawled_at))
    assert not late, late[:5]
    # the crawls were spread over the days, not one sweep
    assert len({p.crawled_at for p in posts}) >= 100
    assert {p.crawled_at.astimezone(TZ).date() for p in posts} == {START.date() + timedelta(days=d)
                                                                    for d in range(5)}


def test_seen_state_stamps_are_simulated(demo):
    out, _, _ = demo
    with sqlite3.connect(out / "crawl_state.sqlite3") as db:
        stamps = [datetime.fromisoformat(r[0]) for r in db.execute("SELECT first_seen FROM seen")]
    assert stamps and all(START <= s <= END for s in stamps)


def test_board_replies_arrive_once_written(demo):
    """Incremental crawls fetch a message again once its list row shows the new reply status."""
    _, _, store = demo
    stored = _stored_by_corpus_id(store)
    replied = [r for r in load_corpus() if r["channel"] == "board" and r["board"].get("reply_time")
               and datetime.fromisoformat(r["board"]["reply_time"]) <= END and r["id"] in stored]
    assert replied
    with_reply = [r for r in replied if stored[r["id"]].extra.get("reply_content") or stored[r["id"]].extra.get("reply")]
    assert len(with_reply) >= 0.9 * len(replied), (len(with_reply), len(replied))


def test_alert_times_are_simulated(demo):
    out, _, store = demo
    alerts = store.list_alerts(limit=1000)
    assert alerts
    for alert in alerts:
        assert START <= alert.first_seen <= alert.last_seen <= END, (alert.id, alert.first_seen)
        assert all(START <= datetime.fromisoformat(h["at"]) <= END for h in alert.history)
    notified = [json.loads(line) for line in (out / "report" / "alerts.jsonl").read_text("utf-8").splitlines()]
    assert notified and all(START <= datetime.fromisoformat(n["notified_at"]) <= END for n in notified)


def test_briefings_at_0730_simulated_each_day(demo):
    out, _, _ = demo
    names = sorted(p.name for p in (out / "report" / "briefings").glob("*.html"))
    days = (END.date() - START.date()).days
    assert names == [f"briefing-{START + timedelta(days=d):%Y%m%d}-0730.html" for d in range(days + 1)]


def test_summary_prints_the_incident_timeline(demo):
    out, stdout, _ = demo
    timeline = json.loads((out / "report" / "timeline.json").read_text("utf-8"))
    assert timeline["first_post"] and timeline["third_post"] and timeline["first_alert"]
    for label in ("首条事件帖", "第三条", "首次预警", "达到的级别", "平静日", "targets:"):
        assert label in stdout, label


def test_the_demo_fails_when_the_incident_raises_no_alert(tmp_path):
    rules = tmp_path / "rules.yaml"
    rules.write_text("rules:\n  - name: never\n    type: volume_spike\n    window: 6h\n    baseline: 48h\n"
                     "    group_by: topic\n    min_count: 100000\n    levels: {蓝: 2.0}\n", encoding="utf-8")
    proc = run_demo(tmp_path / "out", "--rules", str(rules))
    assert proc.returncode == 1, proc.stdout[-2000:] + proc.stderr[-2000:]
    assert "没有触发任何预警" in proc.stderr
    assert "演示失败" in proc.stdout


# --- the demo's timing targets (issue 8) ---------------------------------------------------------
# Stated in simulated time. They depend on the warning rules; if one fails, the rules miss the target,
# not the demo: do not loosen these to make them pass.
def _incident(store):
    stored = _stored_by_corpus_id(store)
    records = load_corpus()
    ids = {stored[r["id"]].id for r in records if r["incident"] and r["id"] in stored}
    alerts = [a for a in store.list_alerts(limit=1000) if ids & set(a.post_ids)]
    posts = sorted(datetime.fromisoformat(r["published_at"]).astimezone(TZ) for r in records if r["incident"])
    return posts, alerts


def _reached(alerts, level: str) -> datetime | None:
    """When an incident alert first stood at `level` or higher (from the alerts' history)."""
    rank = AlertLevel.parse(level).rank
    times = [datetime.fromisoformat(h["at"]) for a in alerts for h in a.history
             if h.get("event") in ("raised", "escalated") and h.get("level")
             and AlertLevel.parse(h["level"]).rank >= rank]
    return min(times) if times else None


def test_target_first_alert_on_the_first_day_within_3h_of_the_third_post(demo):
    """TARGET: the incident's first alert (any level) is raised on 11-18, within 3 simulated hours of
    its third post."""
    _, _, store = demo
    posts, alerts = _incident(store)
    assert alerts, "the incident raised no alert"
    first = min(a.first_seen for a in alerts).astimezone(TZ)
    deadline = posts[2] + timedelta(hours=3)
    assert first.date() == posts[0].date() and first <= deadline, (
        f"first alert {first:%m-%d %H:%M}, target: on {posts[0]:%m-%d} by {deadline:%m-%d %H:%M} "
        f"(third post {posts[2]:%H:%M}); late by {first - deadline}")


def test_target_red_by_the_peak(demo):
    """TARGET: the incident is 红 by its 11-19 peak: the end of the busiest incident hour of 11-19."""
    _, _, store = demo
    posts, alerts = _incident(store)
    peak_day = [p for p in posts if p.date() == posts[0].date() + timedelta(days=1)]
    hours: dict[datetime, int] = {}
    for p in peak_day:
        hour = p.replace(minute=0, second=0, microsecond=0)
        hours[hour] = hours.get(hour, 0) + 1
    peak_end = min(hours, key=lambda h: (-hours[h], h)) + timedelta(hours=1)
    red = _reached(alerts, "红")
    assert red is not None and red <= peak_end, f"红 reached {red}, target: by {peak_end:%m-%d %H:%M}"


def test_target_quiet_days_raise_no_alert(demo):
    """TARGET: no alert at all on the days before the incident's first post (11-16, 11-17)."""
    _, _, store = demo
    posts, _ = _incident(store)
    quiet = [a for a in store.list_alerts(limit=1000) if a.first_seen.astimezone(TZ).date() < posts[0].date()]
    assert not quiet, [(a.title, a.first_seen) for a in quiet]


def test_target_the_peak_day_0730_briefing_lists_the_open_alert(demo):
    """TARGET: the 11-19 07:30 briefing lists the incident's alert, open by then."""
    out, _, store = demo
    posts, alerts = _incident(store)
    at = (posts[0] + timedelta(days=1)).replace(hour=7, minute=30, second=0, microsecond=0)
    html = (out / "report" / "briefings" / f"briefing-{at:%Y%m%d-%H%M}.html").read_text("utf-8")
    open_then = [a for a in alerts if a.first_seen <= at]
    assert open_then, f"no incident alert open at {at:%m-%d %H:%M} (first: {min(a.first_seen for a in alerts)})"
    assert any(a.title in html for a in open_then)


def _demo_config(out: Path) -> Path:
    """configs/demo/app.yaml pointed at this demo's folder, as `yuqing demo` itself points it."""
    import yaml
    repo = Path(__file__).resolve().parents[2]
    app = yaml.safe_load((repo / "configs" / "demo" / "app.yaml").read_text(encoding="utf-8"))
    app.update({"data_dir": str(out), "output_dir": str(out / "report"), "inbox_dir": str(out / "inbox"),
                "store": {"backend": "sqlite", "sqlite": {"path": str(out / "yuqing.db")}},
                "sources_file": str(repo / "configs" / "demo" / "sources.yaml")})
    for key in ("topics_file", "rules_file", "agencies_file"):
        app[key] = str((repo / "configs" / "demo" / app[key]).resolve())
    path = out / "loop-app.yaml"
    path.write_text(yaml.safe_dump(app, allow_unicode=True), encoding="utf-8")
    return path


def yuqing(config: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "yuqing.cli", "--log-level", "WARNING", *args, "--config", str(config)],
                          capture_output=True, text=True, timeout=300)


def test_the_closed_loop_on_the_demo_incident(demo):
    """The whole loop through the CLI on the demo's alerts: list what is overdue, acknowledge, refuse
    what is not allowed, resolve with a note, and see it in the response metrics."""
    out, stdout, store = demo
    config = _demo_config(out)
    red = next(a for a in sorted(store.list_alerts(limit=100), key=lambda a: a.first_seen) if a.level == "红")
    # the summary's "try the closed loop" commands read var/demo, so they are shown only for it
    assert "ack " not in stdout
    assert red.reported_to == ["city_gov"], "a 红 alert goes to the parent at once (直报)"
    listing = yuqing(config, "alerts", "--overdue", "--json")
    assert listing.returncode == 0, listing.stderr
    overdue = [json.loads(line) for line in listing.stdout.splitlines()]
    assert red.id in {a["id"] for a in overdue} and all(a["overdue"] for a in overdue)
    refused = yuqing(config, "alerts", "ack", red.id, "--by", "jtj_duty")
    assert refused.returncode == 1 and "may not act" in refused.stderr
    assert yuqing(config, "alerts", "ack", red.id, "--by", "hjj_duty").returncode == 0
    no_note = yuqing(config, "alerts", "resolve", red.id, "--by", "hjj_duty")
    assert no_note.returncode == 2 and "--note" in no_note.stderr           # argparse: the note is required
    done = yuqing(config, "alerts", "resolve", red.id, "--by", "hjj_chen", "--note", "排污口已封堵<script>")
    assert done.returncode == 0 and "已办结" in done.stdout, done.stderr
    shown = yuqing(config, "alerts", "show", red.id, "--json")
    alert = json.loads(shown.stdout)
    assert alert["status"] == "resolved" and alert["resolve_due"] is None
    assert [e["by"] for e in alert["history"] if e["event"] in ("acknowledged", "resolved")] == ["hjj_duty", "hjj_chen"]
    assert yuqing(config, "alerts", "show", red.id, "--by", "jtj_duty").returncode == 1
    report = yuqing(config, "report", "response", "--period", red.first_seen.strftime("%Y-%m"), "--out", str(out))
    assert report.returncode == 0, report.stderr
    rows = (out / f"response-{red.first_seen:%Y-%m}.csv").read_text(encoding="utf-8-sig").splitlines()
    eco = next(r.split(",") for r in rows if r.startswith("eco_env,"))
    received, acknowledged, resolved = map(int, eco[2:5])
    assert received == len([a for a in store.list_alerts(limit=100) if a.agency == "eco_env"])
    assert acknowledged == 1 and resolved == 1


def test_an_action_waits_for_a_running_warning_evaluation(demo):
    """Atomic against a concurrent evaluation: while an evaluation holds the warning lock, an
    acknowledgement waits, then lands after it — neither overwrites the other."""
    import time

    from yuqing.locks import process_lock
    out, _, store = demo
    config = _demo_config(out)
    target = next(a for a in store.list_alerts(limit=100) if a.status == "new")
    with process_lock(out / "locks" / "warning.lock"):
        proc = subprocess.Popen([sys.executable, "-m", "yuqing.cli", "--log-level", "WARNING", "alerts",
                                 "--config", str(config), "ack", target.id, "--by", "hjj_duty"],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        time.sleep(3)
        assert proc.poll() is None, "the action must wait for the lock"
        assert store.get_alert(target.id).status == "new"
    assert proc.wait(timeout=120) == 0, proc.stderr.read()
    assert store.get_alert(target.id).status == "acknowledged"


def test_special_reports_for_the_incidents_orange_and_red_alerts(demo):
    """The 专报 of the demo incident: written when its alerts reached 橙/红, in HTML and DOCX."""
    from docx import Document
    out, stdout, store = demo
    red = [a for a in store.list_alerts(limit=100) if a.level == "红"]
    assert red
    folder = out / "report" / "reports"
    for alert in red:
        docx_path = folder / f"zhuanbao-{alert.id}.docx"
        assert docx_path.is_file() and (folder / f"zhuanbao-{alert.id}.html").is_file(), alert.id
    texts = [p.text for p in Document(str(folder / f"zhuanbao-{red[0].id}.docx")).paragraphs]
    assert any("十里河" in t for t in texts)
    for heading in ("一、事件概况", "三、传播态势", "七、处置建议"):
        assert heading in texts
    html = (folder / f"zhuanbao-{red[0].id}.html").read_text(encoding="utf-8")
    assert "<script" not in html.lower()
    assert "专报" in stdout
