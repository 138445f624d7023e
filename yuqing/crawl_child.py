"""`python -m yuqing.crawl_child --config configs/app.yaml --source NAME [--source NAME2]`

Crawls in this (fresh) process and prints the report as ONE JSON line on stdout;
logs go to stderr. Exit status: 0 all sources ok, 1 a source failed or the
crawl crashed, 2 bad configuration. The scheduler runs this in a child process
because Twisted's reactor cannot be restarted inside a long-running service.
"""
from __future__ import annotations

import argparse
import json
import logging
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml

from crawler.runner import CrawlReport, crawl

from .config import ConfigError, load_settings

logger = logging.getLogger("yuqing.crawl_child")

EXIT_OK, EXIT_FAILED, EXIT_CONFIG = 0, 1, 2


def _parse_overrides(pairs: list[str]) -> dict[str, Any]:
    """KEY=VALUE pairs; values are read as YAML so numbers, booleans and lists keep their type."""
    overrides: dict[str, Any] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise ConfigError(f"--set expects KEY=VALUE, got {pair!r}")
        try:
            overrides[key.strip()] = yaml.safe_load(value)
        except yaml.YAMLError:
            overrides[key.strip()] = value
    return overrides


def _setup_logging(level: str) -> None:
    from .logs import setup_logging
    setup_logging(level)


def _emit(payload: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(payload, ensure_ascii=False, separators=(",", ":")) + "\n")
    sys.stdout.flush()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m yuqing.crawl_child", description="Crawl configured sources once.")
    parser.add_argument("--config", default="configs/app.yaml", help="app.yaml (default: %(default)s)")
    parser.add_argument("--source", action="append", default=[], metavar="NAME",
                        help="source to crawl (repeatable; default: every enabled source)")
    parser.add_argument("--base-dir", default=None, help="directory relative data paths resolve against (default: cwd)")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                        help="override a Scrapy setting, e.g. --set DOWNLOAD_TIMEOUT=10 (repeatable)")
    parser.add_argument("--log-level", default=None, choices=["DEBUG", "INFO", "WARNING", "ERROR"])
    args = parser.parse_args(argv)

    try:
        settings = load_settings(args.config, base_dir=args.base_dir)
        _setup_logging(args.log_level or settings.app.log_level)
        context = settings.crawl_context()
        for name in args.source:
            context.source(name)  # unknown names fail here, before Scrapy starts
        overrides = _parse_overrides(args.set)
    except ConfigError as exc:
        _setup_logging(args.log_level or "INFO")
        logger.error("%s", exc)
        _emit({"ok": False, "error": str(exc)})
        return EXIT_CONFIG

    try:
        report = crawl(context, args.source or None, overrides=overrides)
    except Exception as exc:  # report every crash as JSON too, so the parent sees why
        logger.exception("crawl crashed")
        _emit({"ok": False, "error": f"{type(exc).__name__}: {exc}"})
        return EXIT_FAILED
    _emit(report.as_dict())
    return EXIT_OK if report.ok else EXIT_FAILED


def crawl_in_subprocess(config_path: str | os.PathLike[str], source_names: list[str] | None = None, *,
                        base_dir: str | os.PathLike[str] | None = None, overrides: dict[str, Any] | None = None,
                        timeout: float | None = None) -> CrawlReport:
    """Run `python -m yuqing.crawl_child` in a fresh process and return its report.

    For callers that crawl more than once per process (the scheduler, tests). A
    child that dies without a report gives a report whose sources carry the failure.
    """
    cmd = [sys.executable, "-m", "yuqing.crawl_child", "--config", str(config_path)]
    for name in source_names or []:
        cmd += ["--source", name]
    if base_dir is not None:
        cmd += ["--base-dir", str(base_dir)]
    for key, value in (overrides or {}).items():
        cmd += ["--set", f"{key}={json.dumps(value)}"]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout,
                          cwd=str(base_dir) if base_dir is not None else None,
                          env={**os.environ, "PYTHONPATH": _pythonpath()})
    for line in reversed(proc.stdout.strip().splitlines()):
        try:
            data = json.loads(line)
        except json.JSONDecodeError:
            continue
        if isinstance(data, dict) and "sources" in data:
            return CrawlReport.from_dict(data)
        if isinstance(data, dict) and "error" in data:
            raise ConfigError(data["error"]) if proc.returncode == 2 else RuntimeError(data["error"])
    raise RuntimeError(f"crawl process exited {proc.returncode} without a report; stderr tail:\n"
                       f"{proc.stderr[-2000:]}")


def _pythonpath() -> str:
    # the child must import this checkout even when started from another directory
    root = str(Path(__file__).resolve().parent.parent)
    current = os.environ.get("PYTHONPATH", "")
    return root if not current else f"{root}{os.pathsep}{current}"


if __name__ == "__main__":
    sys.exit(main())
