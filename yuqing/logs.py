"""Logging setup: stdlib logging everywhere, rendered by structlog as key=value or JSON lines."""
from __future__ import annotations

import logging
import sys

import structlog


class _StderrHandler(logging.StreamHandler):
    """Writes to whatever sys.stderr is at the time of each record (not the one at setup), so a
    caller that swaps stderr (a test harness, a daemonizer) never leaves us writing to a closed file."""

    def __init__(self) -> None:
        super().__init__(sys.stderr)

    @property
    def stream(self):  # type: ignore[override]
        return sys.stderr

    @stream.setter
    def stream(self, _value) -> None:
        pass


def setup_logging(level: str = "INFO", fmt: str = "console") -> None:
    """Route every stdlib logger (ours, Scrapy's, APScheduler's) through one structlog renderer.

    fmt: "console" for people at a terminal, "json" for log shippers.
    """
    renderer = (structlog.processors.JSONRenderer(ensure_ascii=False) if fmt == "json"
                else structlog.dev.ConsoleRenderer(colors=sys.stderr.isatty()))
    formatter = structlog.stdlib.ProcessorFormatter(
        processor=renderer,
        foreign_pre_chain=[
            structlog.stdlib.add_log_level,
            structlog.stdlib.add_logger_name,
            structlog.stdlib.ExtraAdder(),
            structlog.processors.TimeStamper(fmt="iso"),
        ],
    )
    handler = _StderrHandler()
    handler.setFormatter(formatter)
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # jieba installs its own stderr handler at DEBUG on import; route it through ours instead.
    import jieba
    jieba_logger = logging.getLogger("jieba")
    jieba_logger.handlers.clear()
    jieba_logger.propagate = True
    # Third-party chatter stays at WARNING unless we debug.
    if level != "DEBUG":
        for noisy in ("scrapy", "twisted", "apscheduler", "jieba", "urllib3", "elastic_transport", "filelock"):
            logging.getLogger(noisy).setLevel(logging.WARNING)
