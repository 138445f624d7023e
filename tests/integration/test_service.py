"""`yuqing run`: the scheduled service crawls in child processes, enriches, and stops cleanly on SIGTERM."""
from __future__ import annotations

import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from yuqing.demo.site import DemoSite

REPO = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.integration


def _write_config(tmp: Path) -> Path:
    for name in ("topics.yaml", "rules.yaml", "agencies.yaml"):
        shutil.copy(REPO / "configs" / name, tmp / name)
    sources = yaml.safe_load((REPO / "configs" / "demo" / "sources.yaml").read_text(encoding="utf-8"))
    for source in sources["sources"]:
        source["schedule"] = {"interval_minutes": 60}
    (tmp / "sources.yaml").write_text(yaml.safe_dump(sources, allow_unicode=True), encoding="utf-8")
    app = {
        "data_dir": "var", "output_dir": "var/out", "inbox_dir": "var/inbox",
        "store": {"backend": "sqlite", "sqlite": {"path": "var/yuqing.db"}},
        "nlp": {"models_dir": str(REPO / "nlp" / "models")},
        "schedule": {"enrich": {"interval_minutes": 0.05}, "warning": {"interval_minutes": 0.05},
                     "briefing": {"cron": "30 7 * * *"}},
    }
    (tmp / "app.yaml").write_text(yaml.safe_dump(app, allow_unicode=True), encoding="utf-8")
    return tmp / "app.yaml"


def _count(db: Path) -> int:
    if not db.exists():
        return 0
    try:
        with sqlite3.connect(db, timeout=5) as conn:
            return conn.execute("SELECT count(*) FROM posts").fetchone()[0]
    except sqlite3.OperationalError:
        return 0


def test_service_crawls_enriches_and_stops_on_sigterm(tmp_path):
    config = _write_config(tmp_path)
    with DemoSite() as site:
        env = {**os.environ, "YUQING_DEMO_BASE": site.base_url, "PYTHONUNBUFFERED": "1"}
        proc = subprocess.Popen([sys.executable, "-m", "yuqing", "run", "--config", str(config)],
                                cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        try:
            db = tmp_path / "var" / "yuqing.db"
            deadline = time.monotonic() + 240
            stored = 0
            while time.monotonic() < deadline and proc.poll() is None:
                stored = _count(db)
                if stored >= 300 and not any((tmp_path / "var" / "inbox").glob("*.jsonl")):
                    break
                time.sleep(2)
            assert proc.poll() is None, "service exited early:\n" + proc.stdout.read()[-3000:]
            assert stored >= 300, f"only {stored} posts stored"
        finally:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
            try:
                output, _ = proc.communicate(timeout=60)
            except subprocess.TimeoutExpired:
                proc.kill()
                output, _ = proc.communicate()
    assert proc.returncode == 0, output[-3000:]
    assert "service stopped" in output
    assert "crawl failed" not in output and "job failed" not in output, output[-3000:]


def test_service_evaluates_the_rules_at_start_not_after_the_first_interval(tmp_path):
    """A service (re)started during an incident raises the alert at once, with hour-long intervals."""
    from datetime import datetime, timedelta

    from index.schema import DEFAULT_TZ, Post, Sentiment, Topic

    def spread(start, end, n, *, text, sentiment="中性"):
        return [Post(id=f"weibo:{text}{i}", platform="weibo", source="s", content=text,
                     published_at=start + (end - start) / n * i, sentiment=Sentiment(label=sentiment, score=0.9),
                         polarity=Sentiment(label=sentiment, score=0.9),
                     topics=[Topic(label="环境保护", score=0.9)], enriched_at=start) for i in range(n)]
    from yuqing.config import load_settings
    from yuqing.service import Service

    for name in ("topics.yaml", "rules.yaml", "agencies.yaml"):
        shutil.copy(REPO / "configs" / name, tmp_path / name)
    (tmp_path / "sources.yaml").write_text("sources: []\n", encoding="utf-8")
    app = {"data_dir": "var", "output_dir": "var/out", "inbox_dir": "var/inbox",
           "store": {"backend": "sqlite", "sqlite": {"path": "var/yuqing.db"}},
           "nlp": {"models_dir": str(REPO / "nlp" / "models")},
           "schedule": {"enrich": {"interval_minutes": 60}, "warning": {"interval_minutes": 60},
                        "briefing": {"cron": "30 7 * * *"}}}
    (tmp_path / "app.yaml").write_text(yaml.safe_dump(app, allow_unicode=True), encoding="utf-8")
    settings = load_settings(tmp_path / "app.yaml", base_dir=tmp_path)

    now = datetime.now(DEFAULT_TZ)
    service = Service(settings)
    store = service.app.store
    store.upsert_posts(spread(now - timedelta(hours=50), now - timedelta(hours=6), 20, text="河道日常巡查"))
    store.upsert_posts(spread(now - timedelta(hours=4), now - timedelta(minutes=5), 30, sentiment="负面",
                              text="化工厂排污 河道死鱼"))
    assert store.get_state("warning.last_evaluated_at") is None
    service.schedule_jobs()
    service.scheduler.start()
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and store.get_state("warning.last_evaluated_at") is None:
            time.sleep(0.2)
    finally:
        service.scheduler.shutdown(wait=True)
        service.app.close()
    evaluated = store.get_state("warning.last_evaluated_at")
    assert evaluated is not None, "the warning job did not run at start"
    assert datetime.fromisoformat(evaluated) - now < timedelta(minutes=1)
    store.open()
    alerts = store.list_alerts()
    store.close()
    assert {a.rule for a in alerts} == {"volume_spike", "negative_surge"} and all(a.examples for a in alerts)


def test_service_serves_the_workbench_when_enabled_and_stops_it_on_sigterm(tmp_path):
    pytest.importorskip("fastapi")
    import socket
    import httpx
    config = _write_config(tmp_path)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    app = yaml.safe_load(config.read_text(encoding="utf-8"))
    app["web"] = {"enabled": True, "host": "127.0.0.1", "port": port}
    app["schedule"] = {"enrich": {"interval_minutes": 60}, "warning": {"interval_minutes": 60},
                       "briefing": {"cron": "30 7 * * *"}}
    config.write_text(yaml.safe_dump(app, allow_unicode=True), encoding="utf-8")
    sources = yaml.safe_load((tmp_path / "sources.yaml").read_text(encoding="utf-8"))
    sources["sources"] = sources["sources"][:0]
    (tmp_path / "sources.yaml").write_text(yaml.safe_dump(sources, allow_unicode=True), encoding="utf-8")
    proc = subprocess.Popen([sys.executable, "-m", "yuqing", "run", "--config", str(config)], cwd=tmp_path,
                            env={**os.environ, "PYTHONUNBUFFERED": "1"}, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    try:
        deadline, status = time.monotonic() + 60, None
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                status = httpx.get(f"http://127.0.0.1:{port}/login", timeout=2).status_code
                break
            except httpx.TransportError:
                time.sleep(0.5)
        assert status == 200, "workbench not served:\n" + (proc.stdout.read()[-3000:] if proc.poll() is not None else "")
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
        output, _ = proc.communicate(timeout=60)
    assert proc.returncode == 0, output[-3000:]
    assert "workbench started" in output and "service stopped" in output
