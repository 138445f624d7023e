"""Shutdown: crawls get SIGTERM, and one that ignores it is SIGKILLed after the grace period."""
from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

from yuqing.config import load_settings
from yuqing.jobs import App

CONFIGS = Path(__file__).resolve().parents[3] / "configs"
STUBBORN = ("import signal, sys, time\n"
            "signal.signal(signal.SIGTERM, signal.SIG_IGN)\n"
            "print('ready', flush=True)\n"
            "time.sleep(120)\n")
POLITE = "import time\nprint('ready', flush=True)\ntime.sleep(120)\n"


def _child(app: App, code: str) -> subprocess.Popen:
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "ready"   # its signal handler is installed
    with app._children_lock:
        app._children.add(proc)
    return proc


def test_stop_children_escalates_to_sigkill_after_the_grace_period(tmp_path):
    app = App(load_settings(CONFIGS / "app.yaml", base_dir=tmp_path))
    stubborn, polite = _child(app, STUBBORN), _child(app, POLITE)
    started = time.monotonic()
    app.stop_children(grace_s=1.5)
    elapsed = time.monotonic() - started
    assert polite.wait(5) == -15            # SIGTERM was enough
    assert stubborn.wait(5) == -9           # ignored SIGTERM: killed
    assert 1.0 <= elapsed < 10, elapsed
    assert app._stopping.is_set()           # a crawl ending from now on is reported as cancelled
