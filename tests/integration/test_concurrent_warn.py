"""Two `yuqing warn` processes at the same moment on one store: every alert raised once, every
notification sent once. A slow third-party notifier (named by class path) widens the race window."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
from collections import Counter
from pathlib import Path

import pytest
import yaml

from index.sqlite.store import SQLiteStore
from test_warning_sqlite import BURST, synthetic_posts   # the same scenario as the single-process flow

pytestmark = pytest.mark.integration
REPO = Path(__file__).resolve().parents[2]

SLOW_NOTIFIER = '''
import json, os, time
from warning.notifiers.base import Notifier

class SlowNotifier(Notifier):
    """Appends (pid, alert id, change) to SENT_LOG after a pause, like a slow SMTP server."""
    def send(self, alert, change):
        time.sleep(0.4)
        with open(os.environ["SENT_LOG"], "a", encoding="utf-8") as fh:
            fh.write(json.dumps({"pid": os.getpid(), "alert": alert.id, "change": change.kind}) + "\\n")
'''


@pytest.fixture
def office(tmp_path: Path) -> Path:
    for name in ("sources.yaml", "topics.yaml", "rules.yaml", "agencies.yaml"):
        shutil.copy(REPO / "configs" / name, tmp_path / name)
    app = yaml.safe_load((REPO / "configs" / "app.yaml").read_text(encoding="utf-8"))
    app.update(data_dir=str(tmp_path / "var"), output_dir=str(tmp_path / "var" / "out"),
               inbox_dir=str(tmp_path / "var" / "inbox"),
               store={"backend": "sqlite", "sqlite": {"path": str(tmp_path / "var" / "yuqing.db")}},
               notifiers=[{"name": "slow", "type": "office_plugins.SlowNotifier"}])
    (tmp_path / "app.yaml").write_text(yaml.safe_dump(app, allow_unicode=True), encoding="utf-8")
    (tmp_path / "plugins" / "office_plugins").mkdir(parents=True)
    (tmp_path / "plugins" / "office_plugins" / "__init__.py").write_text(textwrap.dedent(SLOW_NOTIFIER), "utf-8")
    with SQLiteStore(tmp_path / "var" / "yuqing.db") as store:
        assert not store.upsert_posts(synthetic_posts()).errors
    return tmp_path


def _warn_together(office: Path, at: str, n: int = 2) -> list[subprocess.CompletedProcess]:
    env = {**os.environ, "SENT_LOG": str(office / "sent.jsonl"),
           "PYTHONPATH": os.pathsep.join([str(office / "plugins"), str(REPO), os.environ.get("PYTHONPATH", "")])}
    cmd = [sys.executable, "-m", "yuqing", "warn", "--config", str(office / "app.yaml"), "--at", at]
    procs = [subprocess.Popen(cmd, cwd=office, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for _ in range(n)]
    done = []
    for proc in procs:
        out, err = proc.communicate(timeout=180)
        done.append(subprocess.CompletedProcess(cmd, proc.returncode, out, err))
    return done


def test_concurrent_warn_runs_neither_duplicate_alerts_nor_notifications(office: Path):
    at = (BURST.replace(hour=BURST.hour + 6)).isoformat()
    results = _warn_together(office, at)
    for result in results:
        assert result.returncode == 0, result.stderr[-2000:]
    sent = [json.loads(line) for line in (office / "sent.jsonl").read_text("utf-8").splitlines()]
    assert sent, "the burst must raise at least one alert"
    per_alert = Counter((s["alert"], s["change"]) for s in sent)
    assert all(n == 1 for n in per_alert.values()), per_alert
    raised = [line for r in results for line in r.stdout.splitlines() if " new " in line]
    assert len(raised) == len({s["alert"] for s in sent}), raised   # one process raised each, the other saw it
    with SQLiteStore(office / "var" / "yuqing.db") as store:
        alerts = store.list_alerts()
    assert sorted(a.id for a in alerts) == sorted({s["alert"] for s in sent})
    # The same hour again, twice at once: nothing new, nothing resent.
    again = _warn_together(office, at)
    assert all(r.returncode == 0 for r in again)
    assert len((office / "sent.jsonl").read_text("utf-8").splitlines()) == len(sent)
