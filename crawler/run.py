"""`python -m crawler.run --config configs/app.yaml --source NAME [--source NAME2]`

Crawls in this (fresh) process and prints the report as ONE JSON line on stdout;
logs go to stderr. Exit status: 0 all sources ok, 1 a source failed or the
crawl crashed, 2 bad configuration. The scheduler runs this in a child process
because Twisted's reactor cannot be restarted inside a long-running service.
"""
from __future__ import annotations

import argparse
import json
import logging
import sys
from typing import Any

import yaml

from yuqing.config import ConfigError, load_settings

logger = logging.getLogger("crawler.run")

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
    try:
        from yuqing.logs import setup_logging
    except ImportError:  # the service's logging module is optional here
        logging.basicConfig(level=level, stream=sys.stderr,
                            format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    else:
        setup_logging(level)


def _emit(payload: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(payload, ensure_ascii=False, separators=(",", ":")) + "\n")
    sys.stdout.flush()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m crawler.run", description="Crawl configured sources once.")
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
        for name in args.source:
            settings.source(name)  # unknown names fail here, before Scrapy starts
        overrides = _parse_overrides(args.set)
    except ConfigError as exc:
        _setup_logging(args.log_level or "INFO")
        logger.error("%s", exc)
        _emit({"ok": False, "error": str(exc)})
        return EXIT_CONFIG

    from .runner import crawl

    try:
        report = crawl(settings, args.source or None, overrides=overrides)
    except Exception as exc:  # report every crash as JSON too, so the parent sees why
        logger.exception("crawl crashed")
        _emit({"ok": False, "error": f"{type(exc).__name__}: {exc}"})
        return EXIT_FAILED
    _emit(report.as_dict())
    return EXIT_OK if report.ok else EXIT_FAILED


if __name__ == "__main__":
    sys.exit(main())
