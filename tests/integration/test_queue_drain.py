"""The inbox never jams and never loses: quarantine and retry, line rejection, huge posts,
two drainers at once, stale claims and re-enrichment — real files, real processes, SQLite."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from queue_support import REPO, make_posts, write_config

from crawler.claims import owner_name
from crawler.inbox import reason_path
from index.store import PostQuery
from yuqing.cli import main
from yuqing.config import load_settings
from yuqing.jobs import App

pytestmark = pytest.mark.integration


def make_app(tmp_path: Path, **kwargs) -> App:
    return App(load_settings(write_config(tmp_path, **kwargs), base_dir=tmp_path))


@pytest.fixture
def app(tmp_path):
    app = make_app(tmp_path)
    yield app
    app.close()


def test_poison_batch_is_quarantined_later_batches_stored_and_retry_puts_it_back(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)          # the CLI resolves inbox_dir against the working directory
    app = make_app(tmp_path, store_backend="queue_support.PoisonStore")
    try:
        (tmp_path / "var").mkdir(exist_ok=True)
        (tmp_path / "var" / "poison.on").touch()
        inbox = app.inbox
        first = inbox.write(make_posts("a", 3), source="a")
        poison = [p.model_copy(update={"extra": {"poison": True}}) for p in make_posts("p", 2)]
        bad = inbox.write(poison, source="b")
        last = inbox.write(make_posts("c", 3), source="c")
        assert first < bad < last          # the poison batch is drained between good ones
        report = app.enrich_pending()
        assert report.batches == 3 and report.quarantined == 1 and report.failed_batches == 0
        assert report.posts == 6 and app.store.count() == 6
        assert any(bad.name in e and "quarantined" in e for e in report.errors)
        reason = json.loads(reason_path(tmp_path / "var/inbox/quarantine" / bad.name).read_text(encoding="utf-8"))
        assert reason["error"] == "ValueError" and "poison post" in reason["message"] and reason["attempts"] == 1

        assert main(["inbox", "list", "--json", "--config", str(app.settings.config_path)]) == 0
        listed = json.loads(capsys.readouterr().out)
        assert listed["counts"] == {"pending": 0, "claimed": 0, "quarantined": 1, "rejected": 0}
        assert listed["quarantined"] == [bad.name]

        (tmp_path / "var" / "poison.on").unlink()        # the bug is fixed
        assert main(["inbox", "retry", "--config", str(app.settings.config_path)]) == 0
        assert [p.name for p in inbox.pending()] == [bad.name]
        report = app.enrich_pending()
        assert report.posts == 2 and report.quarantined == 0 and app.store.count() == 8
        assert inbox.status().counts() == {"pending": 0, "claimed": 0, "quarantined": 0, "rejected": 0}
        assert not reason_path(tmp_path / "var/inbox/quarantine" / bad.name).exists()
    finally:
        app.close()


def test_retry_of_an_unknown_batch_names_it(app, capsys, monkeypatch):
    monkeypatch.chdir(app.settings.base_dir)
    assert main(["inbox", "retry", "nope.jsonl", "--config", str(app.settings.config_path)]) == 2
    assert "nope.jsonl" in capsys.readouterr().err


def test_undecodable_and_invalid_lines_are_rejected_while_good_lines_are_stored(app):
    path = app.inbox.write(make_posts("g", 3), source="mixed")
    lines = path.read_bytes().splitlines()
    broken = json.loads(lines[1])
    broken["published_at"] = "not a time"
    del broken["source"]
    mixed = [lines[0], "九江市浔阳区停电".encode("gbk"), json.dumps(broken, ensure_ascii=False).encode(), lines[2]]
    path.write_bytes(b"\n".join(mixed) + b"\n")
    report = app.enrich_pending()
    assert report.posts == 2 and report.rejected == 2 and report.quarantined == 0
    assert {p.id for p in app.store.iter_posts(PostQuery())} == {"weibo:g0", "weibo:g2"}
    assert any("line 2: not UTF-8" in e for e in report.errors)
    [line3] = [e for e in report.errors if "line 3:" in e]
    assert "published_at: Input should be a valid datetime" in line3 and "source: Field required" in line3
    kept = app.inbox.dir / "rejected" / path.name
    assert kept.exists()
    reasons = json.loads(reason_path(kept).read_text(encoding="utf-8"))["rejected"]
    assert [r["line"] for r in reasons] == [2, 3]


def test_a_5mb_post_is_enriched_quickly_stored_whole_and_flagged(app):
    [post] = make_posts("big", 1)
    content = "九江市濂溪区化工园区夜间偷排废气刺鼻异味" * 250_000
    app.inbox.write([post.model_copy(update={"content": content})], source="big")
    started = time.monotonic()
    report = app.enrich_pending()
    # Enrichment itself is bounded (tests/unit/nlp/test_nlp_bounded.py: < 60 s); the SQLite
    # store still cuts the whole text for full-text search, which costs ~30 s for 5M characters.
    assert time.monotonic() - started < 150, report
    assert report.posts == 1
    [stored] = app.store.get_posts(["weibo:big0"])
    assert stored.analysis_truncated and stored.enriched_at is not None and len(stored.content) == len(content)


def test_stale_claim_of_a_killed_drainer_is_recovered(app):
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    path = app.inbox.write(make_posts("s", 2), source="stale")
    folder = app.inbox.dir / "claimed" / owner_name(pid=proc.pid)
    folder.mkdir(parents=True)
    os.replace(path, folder / path.name)
    report = app.enrich_pending()
    assert report.recovered == [path.name] and report.posts == 2 and not folder.exists()


def test_an_unenriched_stored_post_is_reenriched_by_the_next_run(app):
    [post] = make_posts("u", 1)
    app.store.upsert_posts([post])          # stored as a model failure leaves it: enriched_at None
    assert app.store.count(PostQuery(enriched=False)) == 1
    report = app.enrich_pending()
    assert report.reenriched == 1 and report.batches == 0
    [stored] = app.store.get_posts([post.id])
    assert stored.enriched_at is not None and stored.sentiment is not None
    assert app.store.count(PostQuery(enriched=False)) == 0
    assert app.enrich_pending().reenriched == 0


def test_two_processes_draining_one_inbox_store_every_post_once(tmp_path):
    config = write_config(tmp_path)
    app = App(load_settings(config, base_dir=tmp_path))
    batches, per_batch = 40, 5
    for b in range(batches):
        app.inbox.write(make_posts(f"b{b}-", per_batch), source=f"s{b}")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))}
    cmd = [sys.executable, "-m", "yuqing", "--log-level", "WARNING", "enrich", "--config", str(config)]
    procs = [subprocess.Popen(cmd, cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for _ in range(2)]
    reports = []
    for proc in procs:
        out, err = proc.communicate(timeout=300)
        assert proc.returncode == 0, err[-3000:]
        reports.append(json.loads(out.strip().splitlines()[-1]))
    assert sum(r["batches"] for r in reports) == batches, reports
    assert sum(r["posts"] for r in reports) == batches * per_batch
    assert all(r["quarantined"] == 0 and r["failed_batches"] == 0 for r in reports)
    try:
        assert app.store.count() == batches * per_batch
        assert app.inbox.status().counts() == {"pending": 0, "claimed": 0, "quarantined": 0, "rejected": 0}
    finally:
        app.close()


def test_a_missing_model_fails_the_job_and_quarantines_nothing(tmp_path):
    """A broken installation is not a poison batch: the run fails, every batch waits in the inbox."""
    app = make_app(tmp_path, models_dir=str(tmp_path / "no-models"))
    app.inbox.write(make_posts("m-", 3), source="s")
    app.inbox.write(make_posts("n-", 3), source="s")
    try:
        with pytest.raises(Exception, match="no-models"):
            app.enrich_pending()
        status = app.inbox.status()
    finally:
        app.close()
    assert len(app.inbox.pending()) == 2
    assert not list((app.inbox.dir / "quarantine").glob("*.jsonl")), status
