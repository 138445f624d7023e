"""Run configured sources through Scrapy in this process and report what each one yielded.

All requested sources run in ONE CrawlerProcess (one Twisted reactor), each as
its own crawler with its own settings: crawler.settings, then the paths from
app.yaml, then the source's `settings:` (as the spider's custom_settings),
then caller overrides. The reactor cannot be restarted, so a process crawls
once; long-running callers run it in a child process (the shell's
`python -m yuqing.crawl_child`, which prints the report as one JSON line).
"""
from __future__ import annotations

import ipaddress
import json
import logging
import sys
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

from scrapy.settings import Settings as ScrapySettings

from index import clock

from . import metrics
from .config import CrawlContext, Source
from .extract.encoding import UnknownEncoding, normalize_encoding
from .spiders import SourceSpider, spider_for
from .state import STATE_FILE

logger = logging.getLogger(__name__)


@dataclass
class SourceReport:
    name: str
    type: str
    written: int = 0            # posts delivered to the inbox
    skipped_seen: int = 0       # posts an earlier crawl delivered unchanged
    skipped_known: int = 0      # incremental crawls: pages not fetched as nothing new was listed there
    duplicates: int = 0         # the same post reached twice in this crawl
    invalid: int = 0            # items that failed validation (also counted in errors)
    errors: int = 0             # failed requests, undecodable/unparsable pages, invalid items
    pages: int = 0              # pages and API responses fetched
    ignored: int = 0            # requests refused by robots.txt or the offsite rule
    error_kinds: dict[str, int] = field(default_factory=dict)
    finish_reason: str | None = None
    elapsed_s: float = 0.0
    failure: str | None = None  # why the source could not be crawled at all

    @property
    def ok(self) -> bool:
        """Crawled to the end and got at least one page: a dead site, or one whose
        robots.txt refuses everything, is a failed crawl even with nothing to count."""
        return self.failure is None and self.finish_reason == "finished" and self.pages > 0

    @classmethod
    def from_stats(cls, name: str, source_type: str, stats: dict[str, Any]) -> "SourceReport":
        kinds = {k.removeprefix(metrics.ERROR_KIND): int(v) for k, v in stats.items()
                 if k.startswith(metrics.ERROR_KIND)}
        # exceptions escaping a callback are bugs, but they must still show in the totals
        spider_exceptions = int(stats.get("spider_exceptions/count", 0)) or sum(
            int(v) for k, v in stats.items() if k.startswith("spider_exceptions/"))
        if spider_exceptions:
            kinds["spider_exception"] = spider_exceptions
        return cls(name=name, type=source_type, written=int(stats.get(metrics.WRITTEN, 0)),
                   skipped_seen=int(stats.get(metrics.SKIPPED_SEEN, 0)),
                   skipped_known=int(stats.get(metrics.SKIPPED_KNOWN, 0)),
                   duplicates=int(stats.get(metrics.DUPLICATES, 0)), invalid=int(stats.get(metrics.INVALID, 0)),
                   errors=int(stats.get(metrics.ERRORS, 0)) + spider_exceptions,
                   pages=int(stats.get(metrics.PAGES, 0)), ignored=int(stats.get(metrics.IGNORED, 0)),
                   error_kinds=dict(sorted(kinds.items())), finish_reason=stats.get("finish_reason"),
                   elapsed_s=round(float(stats.get("elapsed_time_seconds", 0.0)), 2))

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "ok": self.ok}


@dataclass
class CrawlReport:
    sources: dict[str, SourceReport] = field(default_factory=dict)
    started_at: str = ""
    elapsed_s: float = 0.0

    @property
    def ok(self) -> bool:
        return all(s.ok for s in self.sources.values())

    @property
    def written(self) -> int:
        return sum(s.written for s in self.sources.values())

    @property
    def skipped_seen(self) -> int:
        return sum(s.skipped_seen for s in self.sources.values())

    @property
    def errors(self) -> int:
        return sum(s.errors for s in self.sources.values())

    def as_dict(self) -> dict[str, Any]:
        return {"ok": self.ok, "written": self.written, "skipped_seen": self.skipped_seen, "errors": self.errors,
                "started_at": self.started_at, "elapsed_s": self.elapsed_s,
                "sources": {name: s.as_dict() for name, s in self.sources.items()}}

    def to_json(self) -> str:
        """One line, for a parent process to read from the child's stdout."""
        return json.dumps(self.as_dict(), ensure_ascii=False, separators=(",", ":"))

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "CrawlReport":
        report = cls(started_at=data.get("started_at", ""), elapsed_s=data.get("elapsed_s", 0.0))
        for name, item in (data.get("sources") or {}).items():
            item = {k: v for k, v in item.items() if k in SourceReport.__dataclass_fields__}
            report.sources[name] = SourceReport(**item)
        return report


# --- settings ------------------------------------------------------------------
def build_settings(context: CrawlContext, overrides: dict[str, Any] | None = None) -> ScrapySettings:
    """crawler/settings.py + the paths and zone of the crawl context + caller overrides (highest)."""
    scrapy_settings = ScrapySettings()
    scrapy_settings.setmodule("crawler.settings", priority="project")
    scrapy_settings.setdict({
        "YUQING_INBOX_DIR": str(context.inbox_dir),
        "YUQING_STATE_PATH": str(Path(context.data_dir) / STATE_FILE),
        "YUQING_TIMEZONE": context.timezone,
        "LOG_LEVEL": context.log_level,
    }, priority="project")
    if overrides:
        scrapy_settings.setdict(overrides, priority="cmdline")
    return scrapy_settings


def _is_loopback(url: str) -> bool:
    host = urlsplit(url).hostname or ""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def source_custom_settings(source: Source, base: ScrapySettings) -> dict[str, Any]:
    """The per-source layer: loopback speed-up, forced encoding, then the source's own `settings:`."""
    custom: dict[str, Any] = {}
    if base.getbool("YUQING_LOOPBACK_FAST") and all(_is_loopback(u) for u in source.start_urls):
        custom.update(DOWNLOAD_DELAY=0, AUTOTHROTTLE_ENABLED=False)
    if source.encoding:
        custom["YUQING_SOURCE_ENCODING"] = normalize_encoding(source.encoding)
    if source.proxies:
        custom["YUQING_PROXIES"] = list(source.proxies)
    custom.update(source.settings)
    return custom


def source_problems(source: Source) -> list[str]:
    problems = []
    try:
        spider_cls = spider_for(source.type)
    except ValueError as exc:
        return [str(exc)]
    problems += spider_cls.check_source(source)
    if source.encoding:
        try:
            normalize_encoding(source.encoding)
        except UnknownEncoding as exc:
            problems.append(f"source {source.name!r}: {exc}")
    return problems


def spider_class_for_source(source: Source, base: ScrapySettings) -> type[SourceSpider]:
    """The type's spider class, specialised with this source's settings (Scrapy's custom_settings)."""
    spider_cls = spider_for(source.type)
    return type(f"{spider_cls.__name__}_{source.name}", (spider_cls,),
                {"custom_settings": source_custom_settings(source, base), "__module__": spider_cls.__module__})


def select_sources(context: CrawlContext, source_names: list[str] | None) -> list[Source]:
    """Named sources (even disabled ones: the caller asked), else every enabled source."""
    if source_names:
        return [context.source(name) for name in dict.fromkeys(source_names)]  # ConfigError on unknown
    return [s for s in context.sources.sources if s.enabled]


def _reactor_already_ran() -> bool:
    reactor = sys.modules.get("twisted.internet.reactor")
    return bool(reactor is not None and getattr(reactor, "_startedBefore", False))


# --- running ---------------------------------------------------------------------
def crawl(context: CrawlContext, source_names: list[str] | None = None, *,
          overrides: dict[str, Any] | None = None) -> CrawlReport:
    """Crawl the given sources (default: all enabled) once, in this process, into the inbox.

    Blocks until every source is done. Raises ConfigError for unknown source names
    and RuntimeError when this process already ran a crawl (Twisted's reactor
    cannot restart: run it in a child process, as `python -m yuqing.crawl_child` does).
    """
    sources = select_sources(context, source_names)
    report = CrawlReport(started_at=clock.now(ZoneInfo(context.timezone)).isoformat(timespec="seconds"))
    if not sources:
        logger.warning("no sources to crawl")
        return report
    if _reactor_already_ran():
        raise RuntimeError("this process already ran a crawl and Twisted's reactor cannot restart; "
                           "crawl in a child process (python -m yuqing.crawl_child)")
    started = time.monotonic()
    base = build_settings(context, overrides)
    process = _crawler_process(base)
    runs = _schedule(process, sources, base, report)
    if runs:
        logger.info("crawling %s", ", ".join(s.name for s, _ in runs))
        process.start(install_signal_handlers=threading.current_thread() is threading.main_thread())
    _collect(report, runs)
    report.elapsed_s = round(time.monotonic() - started, 2)
    return report


def _schedule(runner: Any, sources: list[Source], base: ScrapySettings,
              report: CrawlReport) -> list[tuple[Source, Any]]:
    """One crawler per crawlable source on `runner` (a CrawlerProcess or CrawlerRunner)."""
    runs: list[tuple[Source, Any]] = []
    for source in sources:
        problems = source_problems(source)
        if problems:
            report.sources[source.name] = SourceReport(source.name, source.type, failure="; ".join(problems))
            logger.error("source %s not crawled: %s", source.name, "; ".join(problems),
                         extra={"source": source.name})
            continue
        crawler = runner.create_crawler(spider_class_for_source(source, base))
        deferred = runner.crawl(crawler, source=source)
        deferred.addErrback(_crawl_failed, report, source)
        runs.append((source, crawler))
    return runs


def _collect(report: CrawlReport, runs: list[tuple[Source, Any]]) -> None:
    for source, crawler in runs:
        stats = crawler.stats.get_stats() if crawler.stats else {}
        result = SourceReport.from_stats(source.name, source.type, stats)
        previous = report.sources.get(source.name)
        if previous is not None and previous.failure:
            result.failure = previous.failure
        report.sources[source.name] = result
        logger.info("%s: %d written, %d seen, %d errors", source.name, result.written, result.skipped_seen,
                    result.errors, extra={"source": source.name, **{k: v for k, v in result.as_dict().items()
                                                                     if k in ("written", "skipped_seen", "errors")}})


class CrawlSession:
    """Many crawls in one process: Twisted's reactor runs once, in a background thread, for the
    session's life, and each crawl() schedules the sources on it and waits for them.

    For one-shot programs that crawl repeatedly (the simulated-time demo). The reactor cannot
    restart, so a process gets one session and no crawl() afterwards; the service instead runs
    every crawl in a child process (yuqing.crawl_child), which also isolates a misbehaving site.
    """

    def __init__(self, context: CrawlContext, overrides: dict[str, Any] | None = None):
        self.context = context
        self.base = build_settings(context, overrides)
        self._runner: Any = None
        self._reactor: Any = None
        self._thread: threading.Thread | None = None

    def __enter__(self) -> "CrawlSession":
        if _reactor_already_ran():
            raise RuntimeError("this process already ran a crawl and Twisted's reactor cannot restart")
        from scrapy.crawler import CrawlerRunner
        from scrapy.utils.reactor import install_reactor

        install_reactor(self.base.get("TWISTED_REACTOR") or "twisted.internet.asyncioreactor.AsyncioSelectorReactor")
        from twisted.internet import reactor
        self._reactor = reactor
        self._runner = CrawlerRunner(self.base)
        self._thread = threading.Thread(target=reactor.run, kwargs={"installSignalHandlers": False},
                                        name="crawl-reactor", daemon=True)
        self._thread.start()
        return self

    def crawl(self, source_names: list[str] | None = None) -> CrawlReport:
        """Crawl the given sources (default: all enabled) once; blocks until every one is done."""
        from twisted.internet.threads import blockingCallFromThread

        if self._runner is None:
            raise RuntimeError("CrawlSession.crawl outside its `with` block")
        sources = select_sources(self.context, source_names)
        report = CrawlReport(started_at=clock.now(ZoneInfo(self.context.timezone)).isoformat(timespec="seconds"))
        started = time.monotonic()
        holder: dict[str, list] = {}

        def schedule():   # in the reactor thread; the Deferred fires when every crawler is done
            holder["runs"] = _schedule(self._runner, sources, self.base, report)
            return self._runner.join()

        blockingCallFromThread(self._reactor, schedule)
        _collect(report, holder.get("runs", []))
        report.elapsed_s = round(time.monotonic() - started, 2)
        return report

    def __exit__(self, *exc: object) -> None:
        if self._reactor is not None and self._thread is not None:
            self._reactor.callFromThread(self._reactor.stop)
            self._thread.join(timeout=30)
        self._runner = None


def _crawler_process(base: ScrapySettings) -> Any:
    """A CrawlerProcess that leaves an application's logging alone.

    When the caller (CLI, demo, service) already configured logging, Scrapy must
    not add its own root handler, and its logging setup must not lower the
    "scrapy" logger to DEBUG behind the caller's back.
    """
    from scrapy.crawler import CrawlerProcess
    from scrapy.settings import default_settings

    app_logging = bool(logging.getLogger().handlers)
    saved = {name: logging.getLogger(name).level for name in ("scrapy", "twisted", "py.warnings")}
    if hasattr(default_settings, "LOG_INSTALL_ROOT_HANDLER"):   # Scrapy >= 2.13 reads the setting
        base.set("LOG_INSTALL_ROOT_HANDLER", not app_logging, priority="cmdline")
        process = CrawlerProcess(base)
    else:
        process = CrawlerProcess(base, install_root_handler=not app_logging)
    if app_logging:
        for name, level in saved.items():
            fallback = logging.getLevelName(base.get("LOG_LEVEL", "INFO")) if name == "scrapy" else level
            logging.getLogger(name).setLevel(level or fallback)
    return process


def _crawl_failed(failure: Any, report: CrawlReport, source: Source) -> None:
    reason = f"{failure.type.__name__ if failure.type else 'Error'}: {failure.getErrorMessage()}"
    logger.error("source %s crashed: %s", source.name, reason, extra={"source": source.name, "reason": reason})
    report.sources[source.name] = SourceReport(source.name, source.type, failure=reason)
