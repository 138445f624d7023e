"""The application's units of work, wired from config: crawl, enrich, warn, brief.

The scheduler (service.py), the CLI and the demo all call these, so every path
through the system runs the same code.
"""
from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

from crawler.inbox import Inbox
from index.store import Store, StoreUnavailable

from .config import Settings

log = logging.getLogger(__name__)


@dataclass
class EnrichReport:
    batches: int = 0
    posts: int = 0
    rejected: int = 0
    failed_batches: int = 0
    duplicates: int = 0          # posts that joined an earlier post's near-duplicate group
    regrouped: int = 0           # stored posts re-stored because a late original took their group (首发)
    events: int = 0              # events opened or updated
    seconds: float = 0.0
    errors: list[str] = field(default_factory=list)


class App:
    """Holds the long-lived pieces (store, models, warning engine) and runs the jobs.

    Models and the store open lazily and once, so a job run by the scheduler
    every few minutes pays their start-up cost only the first time.
    """

    def __init__(self, settings: Settings):
        self.settings = settings
        self._store: Store | None = None
        self._enricher = None
        self._linker = None
        self._engine = None
        self._lock = threading.RLock()  # enrichment and warnings share the store and models
        self._children: set[subprocess.Popen] = set()
        self._children_lock = threading.Lock()

    def stop_children(self) -> None:
        """Ask running crawls to finish: Scrapy flushes its pipelines on SIGTERM."""
        with self._children_lock:
            for proc in self._children:
                if proc.poll() is None:
                    proc.terminate()

    # --- components --------------------------------------------------------
    @property
    def store(self) -> Store:
        if self._store is None:
            store = self.settings.create_store()
            store.open()
            self._store = store
        return self._store

    @property
    def inbox(self) -> Inbox:
        return Inbox(self.settings.path(self.settings.app.inbox_dir))

    @property
    def output_dir(self) -> Path:
        out = self.settings.path(self.settings.app.output_dir)
        out.mkdir(parents=True, exist_ok=True)
        return out

    @property
    def enricher(self):
        if self._enricher is None:
            from nlp.enrich import Enricher
            nlp_cfg = self.settings.app.nlp
            self._enricher = Enricher.from_models_dir(
                self.settings.models_dir,
                home_region=list(self.settings.topics.home_region),
                user_dicts=[self.settings.path(p) for p in nlp_cfg.user_dicts],
                batch_size=nlp_cfg.batch_size,
            )
        return self._enricher

    @property
    def linker(self):
        """Near-duplicate groups and events over the stream; its history is the store's."""
        if self._linker is None:
            from nlp.linking import StreamLinker
            self._linker = StreamLinker.for_enricher(self.store, self.enricher)
        return self._linker

    @property
    def engine(self):
        if self._engine is None:
            from warning.engine import WarningEngine
            self._engine = WarningEngine(self.store, self.settings.rules, self.settings.agencies,
                                         self.settings.topics, notifiers=self.build_notifiers())
        return self._engine

    def build_notifiers(self) -> list:
        """The configured notifiers; with none configured, alerts are still written to output_dir."""
        from warning.notifiers import FileNotifier, build_notifiers
        configured = self.settings.app.notifiers
        if not configured:
            return [FileNotifier(self.output_dir)]
        return build_notifiers(configured, default_dir=self.output_dir, agencies=self.settings.agencies,
                               resolve=self.settings.path, path=self.settings.config_path)

    def close(self) -> None:
        if self._store is not None:
            self._store.close()
            self._store = None

    # --- jobs ----------------------------------------------------------------
    def crawl_in_process(self, source_names: list[str] | None = None):
        """All sources in one Scrapy run in this process. The reactor can run once per
        process, so only one-shot commands (demo, `yuqing crawl`) use this."""
        from crawler.runner import crawl
        return crawl(self.settings.crawl_context(), source_names)

    def crawl_in_child(self, source_name: str, timeout: float = 3600) -> dict:
        """One source crawled in a fresh child process, as the scheduler does it."""
        cmd = [sys.executable, "-m", "yuqing.crawl_child", "--config", str(self.settings.config_path),
               "--source", source_name]
        started = time.monotonic()
        proc = subprocess.Popen(cmd, cwd=self.settings.base_dir, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                text=True, env={**os.environ, "PYTHONUNBUFFERED": "1"})
        with self._children_lock:
            self._children.add(proc)
        try:
            stdout, stderr = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            stdout, stderr = proc.communicate()
        finally:
            with self._children_lock:
                self._children.discard(proc)
        report: dict = {"source": source_name, "exit_code": proc.returncode,
                        "seconds": round(time.monotonic() - started, 1)}
        for line in reversed(stdout.strip().splitlines()):
            try:
                report.update(json.loads(line))
                break
            except json.JSONDecodeError:
                continue
        if proc.returncode != 0:
            log.error("crawl failed", extra={"source": source_name, "exit_code": proc.returncode,
                                             "stderr": stderr[-2000:]})
        else:
            log.info("crawl finished", extra={"report": report})
        return report

    def enrich_pending(self) -> EnrichReport:
        """Drain the inbox: enrich each batch and store it; a batch leaves the inbox only once stored.

        If the store is unreachable the batch stays (the inbox is the spool) and the
        next run retries it; ids are stable, so a retried batch never duplicates posts.
        """
        report = EnrichReport()
        started = time.monotonic()
        with self._lock:
            inbox = self.inbox
            for batch in inbox.batches():
                report.batches += 1
                report.rejected += len(batch.rejected)
                for lineno, reason in batch.rejected:
                    log.warning("inbox line rejected", extra={"file": batch.path.name, "line": lineno,
                                                               "reason": reason})
                try:
                    enriched = self.enricher.enrich(batch.posts) if batch.posts else []
                    linked = self._link(enriched)
                    result = self.store.upsert_posts(linked.posts if linked else enriched)
                    if linked is not None:
                        if linked.updated:
                            self.store.upsert_posts(linked.updated)
                        self.linker.commit(linked)
                        report.duplicates += linked.duplicates
                        report.regrouped += len(linked.updated)
                        report.events += len(linked.events)
                except StoreUnavailable as exc:
                    self._forget_links()
                    report.failed_batches += 1
                    report.errors.append(f"{batch.path.name}: store unavailable: {exc}")
                    log.warning("store unavailable; batch kept in inbox", extra={"file": batch.path.name})
                    break
                except Exception:
                    self._forget_links()
                    raise
                if result.errors:
                    report.errors.extend(f"{pid}: {why}" for pid, why in result.errors.items())
                report.posts += result.written
                inbox.done(batch)
        report.seconds = round(time.monotonic() - started, 2)
        if report.batches:
            log.info("enrichment done", extra={"posts": report.posts, "batches": report.batches,
                                               "duplicates": report.duplicates, "events": report.events,
                                               "seconds": report.seconds})
        return report

    def _link(self, posts: list):
        """Dup groups and events for an enriched batch; on a linking bug the posts are stored unlinked."""
        if not posts:
            return None
        try:
            return self.linker.link(posts)
        except StoreUnavailable:
            raise
        except Exception:
            log.exception("linking failed; batch stored without dup groups and events",
                          extra={"posts": len(posts)})
            self._forget_links()
            return None

    def _forget_links(self) -> None:
        # The linker's memory may hold posts the store never got: rebuild it from the store next time.
        if self._linker is not None:
            self._linker.reset()

    def evaluate_warnings(self, now: datetime | None = None) -> list:
        with self._lock:
            return self.engine.evaluate(now or self.settings.now())

    def write_briefing(self, now: datetime | None = None, hours: int = 24) -> Path:
        """Daily briefing (日报) for the `hours` before `now`."""
        from warning.reports import render_briefing
        end = now or self.settings.now()
        out = self.output_dir / "briefings"
        out.mkdir(parents=True, exist_ok=True)
        with self._lock:
            path = render_briefing(self.store, start=end - timedelta(hours=hours), end=end, out_dir=out,
                                   office_name=self.settings.app.office_name,
                                   agencies=self.settings.agencies, topics=self.settings.topics,
                                   source_labels={s.name: s.label for s in self.settings.sources.sources if s.label})
        log.info("briefing written", extra={"path": str(path)})
        return path
