"""Logging setup: stdlib logging everywhere, rendered by structlog as key=value or JSON lines."""
from __future__ import annotations

import logging
import sys

import structlog


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
    handler = logging.StreamHandler(sys.stderr)
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
