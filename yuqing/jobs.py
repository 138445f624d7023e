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
from datetime import date, datetime, time as clock_time, timedelta
from pathlib import Path

from crawler.inbox import Inbox
from index.store import Store, StoreUnavailable

from .config import Settings

log = logging.getLogger(__name__)

MAX_ENRICH_ATTEMPTS = 3   # re-enrichment tries of one stored post before it is passed over


@dataclass
class _Unread:
    """A claimed batch that failed before it was read: enough for Inbox.release."""
    path: Path


@dataclass
class EnrichReport:
    batches: int = 0
    posts: int = 0
    rejected: int = 0
    failed_batches: int = 0
    duplicates: int = 0          # posts that joined an earlier post's near-duplicate group
    regrouped: int = 0           # stored posts re-stored because a late original took their group (首发)
    events: int = 0              # events opened or updated
    quarantined: int = 0         # batches set aside in inbox_dir/quarantine (see `yuqing inbox list`)
    reenriched: int = 0          # stored unenriched posts enriched by this run
    recovered: list[str] = field(default_factory=list)   # stale claims of dead drainers put back
    seconds: float = 0.0
    errors: list[str] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)   # seconds per step: enrich, link, store


def _lap(timings: dict[str, float], step: str, since: float) -> float:
    now = time.perf_counter()
    timings[step] = timings.get(step, 0.0) + now - since
    return now


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
        self._reports_written: set[str] = set()   # 专报 made for a 红 mail during the current evaluation
        self._stopping = threading.Event()   # set once shutdown began: a crawl ending now was cancelled

    def stop_children(self, grace_s: float = 20.0) -> None:
        """Ask running crawls to finish (Scrapy flushes its pipelines on SIGTERM), then SIGKILL
        any still running after `grace_s`, so a stuck crawl cannot hold up shutdown."""
        self._stopping.set()
        with self._children_lock:
            children = [p for p in self._children if p.poll() is None]
        for proc in children:
            proc.terminate()
        deadline = time.monotonic() + grace_s
        for proc in children:
            try:
                proc.wait(timeout=max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                log.warning("crawl did not stop within the grace period; killed",
                            extra={"pid": proc.pid, "grace_s": grace_s})
                proc.kill()

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
            from nlp.schemes import SchemeMatcher
            nlp_cfg = self.settings.app.nlp
            self._enricher = Enricher.from_models_dir(
                self.settings.models_dir,
                home_region=list(self.settings.topics.home_region),
                user_dicts=[self.settings.path(p) for p in nlp_cfg.user_dicts],
                batch_size=nlp_cfg.batch_size,
                max_analysis_chars=nlp_cfg.max_analysis_chars,
                segment_timeout_s=nlp_cfg.segment_timeout_s,
                schemes=SchemeMatcher(self.settings.topics.schemes),
            )
        return self._enricher

    def retag_schemes(self, start: datetime | None = None, end: datetime | None = None,
                      progress: bool = False) -> tuple[int, int]:
        """Tag stored, enriched posts with the monitoring schemes as configured now (after a scheme
        was added or edited); classifiers are not re-run. Returns (posts read, posts whose tags changed)."""
        from tqdm import tqdm

        from index.store import PostQuery
        from nlp.schemes import SchemeMatcher
        matcher = SchemeMatcher(self.settings.topics.schemes)
        query = PostQuery(start=start, end=end, enriched=True)
        read, changed, batch = 0, 0, []
        with self._lock, tqdm(total=self.store.count(query), desc="schemes", unit="post", file=sys.stderr,
                              disable=not progress, mininterval=0.5) as bar:
            for post in self.store.iter_posts(query):
                read += 1
                bar.update(1)
                tags = matcher.match(post)
                if tags != post.schemes:
                    batch.append(post.model_copy(update={"schemes": tags}))
                if len(batch) >= 500:
                    changed += self._write_retagged(batch)
                    batch = []
            if batch:
                changed += self._write_retagged(batch)
        log.info("scheme tags refreshed", extra={"read": read, "changed": changed, "schemes": matcher.names})
        return read, changed

    def reenrich(self, start: datetime | None = None, end: datetime | None = None,
                 progress: bool = False, batch_size: int = 500) -> tuple[int, int]:
        """Run the current models over stored, enriched posts again (after a model upgrade, or to give
        posts stored before polarity existed their 舆情倾向): tokens, keywords, sentiment, polarity,
        emotion, topics, rumour, region and schemes are recomputed; ids, events and near-duplicate
        groups stay. Returns (posts read, posts whose enrichment changed)."""
        from tqdm import tqdm

        from index.store import PostQuery
        query = PostQuery(start=start, end=end, enriched=True)
        fields = ("tokens", "keywords", "sentiment", "polarity", "emotion", "topics", "rumor", "region",
                  "schemes", "pii_masked", "analysis_truncated")
        read, changed, batch = 0, 0, []

        def flush(posts: list) -> int:
            fresh = [new for old, new in zip(posts, self.enricher.enrich(posts))
                     if any(getattr(old, f) != getattr(new, f) for f in fields)]
            return self._write_retagged(fresh) if fresh else 0

        with self._lock, tqdm(total=self.store.count(query), desc="re-enrich", unit="post", file=sys.stderr,
                              disable=not progress, mininterval=0.5) as bar:
            for post in self.store.iter_posts(query):
                read += 1
                bar.update(1)
                batch.append(post)
                if len(batch) >= batch_size:
                    changed += flush(batch)
                    batch = []
            if batch:
                changed += flush(batch)
        log.info("stored posts re-enriched", extra={"read": read, "changed": changed})
        return read, changed

    def _write_retagged(self, posts: list) -> int:
        report = self.store.upsert_posts(posts)
        if report.errors:
            raise RuntimeError(f"{len(report.errors)} posts could not be re-tagged: {next(iter(report.errors.items()))}")
        return report.written

    @property
    def linker(self):
        """Near-duplicate groups and events over the stream; its history is the store's."""
        if self._linker is None:
            from nlp.linking import StreamLinker
            self._linker = StreamLinker.for_enricher(self.store, self.enricher,
                                                     events=self.settings.app.nlp.events.event_config())
        return self._linker

    @property
    def engine(self):
        if self._engine is None:
            from warning.engine import WarningEngine
            self._engine = WarningEngine(self.store, self.settings.rules, self.settings.agencies,
                                         self.settings.topics, notifiers=self.build_notifiers(), tz=self.settings.tz)
        return self._engine

    def build_notifiers(self) -> list:
        """The configured notifiers; with none configured, alerts are still written to output_dir."""
        from warning.notifiers import FileNotifier, build_notifiers
        configured = self.settings.app.notifiers
        if not configured:
            return [FileNotifier(self.output_dir, tz=self.settings.tz)]
        from warning.notifiers import EmailNotifier
        notifiers = build_notifiers(configured, default_dir=self.output_dir, agencies=self.settings.agencies,
                                    resolve=self.settings.path, path=self.settings.config_path, tz=self.settings.tz)
        for notifier in notifiers:
            for mail in [notifier, getattr(notifier, "email", None)]:
                if isinstance(mail, EmailNotifier):
                    mail.report_for = self._report_attachment   # 红 alerts carry their 专报
        return notifiers

    def _report_attachment(self, alert) -> tuple[str, bytes]:
        """The 红 alert's 专报, written to output_dir/reports as every 橙/红 one is, and attached; the
        evaluation's own pass (_special_reports) then leaves this alert alone."""
        paths = self.write_event_report(alert.id)
        self._reports_written.add(alert.id)
        return f"专报-{alert.id}.docx", next(p for p in paths if p.suffix == ".docx").read_bytes()

    def write_event_report(self, subject: str, formats=("html", "docx"), out_dir: Path | None = None) -> list[Path]:
        """The 专报 of an alert or event (warning.reports.event_report) into out_dir (default output_dir/reports)."""
        from warning.reports.event_report import write_event_report
        return write_event_report(self.store, subject, out_dir or self.output_dir / "reports",
                                  agencies=self.settings.agencies, topics=self.settings.topics, formats=tuple(formats),
                                  office_name=self.settings.app.office_name, tz=self.settings.tz,
                                  now=self.settings.now())

    def close(self) -> None:
        if self._store is not None:
            self._store.close()
            self._store = None

    # --- jobs ----------------------------------------------------------------
    def crawl_in_process(self, source_names: list[str] | None = None):
        """All sources in one Scrapy run in this process. The reactor can run once per
        process, so only one-shot commands (demo, `yuqing crawl`) use this."""
        from crawler.runner import crawl
        report = crawl(self.settings.crawl_context(), source_names)
        for name, source in report.sources.items():
            self._record_health(name, source.as_dict())
        return report

    def _record_health(self, name: str, report: dict) -> None:
        """The crawl's outcome in the source's health record (index.health); never fails the crawl."""
        from index import health
        try:
            health.record(self.store, name, report, self.settings.now())
        except Exception as exc:  # noqa: BLE001 - health is bookkeeping; the posts are in the inbox already
            log.warning("source health not recorded", extra={"source": name, "error": str(exc)[:300]})

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
        if self._stopping.is_set() and proc.returncode != 0:
            report["cancelled"] = True
            log.info("crawl cancelled by shutdown", extra={"source": source_name, "exit_code": proc.returncode})
        elif proc.returncode != 0:
            log.error("crawl failed", extra={"source": source_name, "exit_code": proc.returncode,
                                             "stderr": stderr[-2000:]})
        else:
            log.info("crawl finished", extra={"report": report})
        if not report.get("cancelled"):
            source = (report.get("sources") or {}).get(source_name)
            self._record_health(source_name, source if source is not None else
                                {"ok": False, "failure": f"crawl process exited {proc.returncode}: "
                                                         f"{stderr.strip().splitlines()[-1][:200] if stderr.strip() else ''}"})
        return report

    def enrich_pending(self) -> EnrichReport:
        """Drain the inbox: claim each batch, enrich and store it; a batch leaves the inbox only once stored.

        If the store is unreachable the batch goes back (the inbox is the spool) and the
        drain stops; the next run retries it, and stable ids mean no duplicates. Any other
        failure quarantines the batch (inbox_dir/quarantine/, with a reason file) so the
        queue never jams behind it. Claims (crawler.claims) keep two drainers off one batch.
        Then stored posts whose enrichment failed earlier are retried (`reenriched`).
        """
        report = EnrichReport()
        started = time.monotonic()
        with self._lock:
            inbox = self.inbox
            for name in inbox.recover_stale_claims():
                report.recovered.append(name)
            stored_ids: set[str] = set()
            pending = inbox.pending()
            if pending:
                # Models load before any batch is claimed: a missing or broken model directory
                # fails the job (batches stay in the inbox), it must not quarantine every batch.
                _ = self.enricher
            for path in pending:
                claimed = inbox.claim(path)
                if claimed is None:       # another drainer claimed it first
                    continue
                if not self._drain_one(inbox, claimed, report, stored_ids):
                    break
            if not report.failed_batches:
                self._reenrich(report, skip=stored_ids)
        report.seconds = round(time.monotonic() - started, 2)
        if report.batches or report.reenriched:
            log.info("enrichment done", extra={"posts": report.posts, "batches": report.batches,
                                               "quarantined": report.quarantined, "rejected": report.rejected,
                                               "reenriched": report.reenriched, "duplicates": report.duplicates,
                                               "events": report.events, "seconds": report.seconds})
        return report

    def _drain_one(self, inbox: Inbox, path: Path, report: EnrichReport, stored_ids: set[str]) -> bool:
        """Enrich and store one claimed batch; False when the store is unavailable (stop draining)."""
        report.batches += 1
        batch = None
        try:
            batch = inbox.read(path)
            for lineno, reason in batch.rejected:
                log.warning("inbox line rejected", extra={"file": path.name, "line": lineno, "reason": reason})
                report.errors.append(f"{path.name}: line {lineno}: {reason}")
            report.rejected += len(batch.rejected)
            result = self._store_enriched(batch.posts, report)
        except StoreUnavailable as exc:
            self._forget_links()
            inbox.release(batch or _Unread(path))
            report.failed_batches += 1
            report.errors.append(f"{path.name}: store unavailable: {exc}")
            log.warning("store unavailable; batch kept in inbox", extra={"file": path.name, "error": str(exc)[:500]})
            return False
        except Exception as exc:  # noqa: BLE001 - a batch's own failure must not jam the queue
            self._forget_links()
            inbox.quarantine(path, exc)
            report.quarantined += 1
            report.errors.append(f"{path.name}: quarantined: {type(exc).__name__}: {exc}")
            log.exception("batch quarantined", extra={"file": path.name, "error": type(exc).__name__})
            return True
        except BaseException:     # interrupted: give the batch back before going down
            self._forget_links()
            inbox.release(batch or _Unread(path))
            raise
        if result.errors:
            report.errors.extend(f"{pid}: {why}" for pid, why in result.errors.items())
        report.posts += result.written
        stored_ids.update(p.id for p in batch.posts)
        inbox.done(batch)
        return True

    def ingest(self, posts: list, report: EnrichReport | None = None) -> EnrichReport:
        """Enrich, link and store posts that come from elsewhere than the inbox (the replay harness),
        through the same steps as a drained batch."""
        report = report or EnrichReport()
        with self._lock:
            try:
                result = self._store_enriched(posts, report)
            except BaseException:
                self._forget_links()
                raise
        report.batches += 1
        report.posts += result.written
        report.errors.extend(f"{pid}: {why}" for pid, why in result.errors.items())
        return report

    def _store_enriched(self, posts: list, report: EnrichReport):
        """Enrich, link and upsert posts; returns the store's UpsertReport."""
        clock = time.perf_counter()
        enriched = self.enricher.enrich(posts) if posts else []
        clock = _lap(report.timings, "enrich", clock)
        linked = self._link(enriched)
        clock = _lap(report.timings, "link", clock)
        result = self.store.upsert_posts(linked.posts if linked else enriched)
        if linked is not None:
            if linked.updated:
                self.store.upsert_posts(linked.updated)
            self.linker.commit(linked)
            report.duplicates += linked.duplicates
            report.regrouped += len(linked.updated)
            report.events += len(linked.events)
        _lap(report.timings, "store", clock)
        return result

    def _reenrich(self, report: EnrichReport, skip: set[str]) -> None:
        """Stored posts left unenriched by a model failure, oldest first, at most nlp.reenrich_per_run.

        Each try is counted in post.extra["enrich_attempts"]; after MAX_ENRICH_ATTEMPTS a post
        is passed over, so a post no model can read never takes every run's slots.
        """
        limit = self.settings.app.nlp.reenrich_per_run
        if limit <= 0:
            return
        try:
            todo = self._unenriched(limit, skip)
            if not todo:
                return
            out = []
            for post in self.enricher.enrich(todo):
                if post.enriched_at is None:
                    attempts = int(post.extra.get("enrich_attempts", 0)) + 1
                    post = post.model_copy(update={"extra": {**post.extra, "enrich_attempts": attempts}})
                else:
                    post = post.model_copy(update={"extra": {k: v for k, v in post.extra.items()
                                                             if k != "enrich_attempts"}})
                    report.reenriched += 1
                out.append(post)
            result = self.store.upsert_posts(out)
        except StoreUnavailable as exc:
            report.errors.append(f"re-enrichment: store unavailable: {exc}")
            log.warning("store unavailable; re-enrichment postponed", extra={"error": str(exc)[:500]})
            report.reenriched = 0
            return
        except Exception as exc:  # noqa: BLE001 - the inbox was drained; a retry bug must not fail the run
            log.exception("re-enrichment failed; retried next run", extra={"error": type(exc).__name__})
            report.errors.append(f"re-enrichment: {type(exc).__name__}: {exc}")
            report.reenriched = 0
            return
        if result.errors:
            report.errors.extend(f"{pid}: {why}" for pid, why in result.errors.items())
        log.info("stored posts re-enriched", extra={"tried": len(todo), "reenriched": report.reenriched})

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

    def lock_path(self, name: str) -> Path:
        return self.settings.path(self.settings.app.data_dir) / "locks" / f"{name}.lock"

    def _unenriched(self, limit: int, skip: set[str]) -> list:
        from index.store import PostQuery
        todo = []
        posts = self.store.iter_posts(PostQuery(enriched=False), batch_size=min(limit, 500))
        try:
            for post in posts:
                if post.id in skip or int(post.extra.get("enrich_attempts", 0)) >= MAX_ENRICH_ATTEMPTS:
                    continue
                todo.append(post)
                if len(todo) >= limit:
                    break
        finally:
            close = getattr(posts, "close", None)
            if close is not None:
                close()      # release the store's read cursor before writing
        return todo

    def evaluate_warnings(self, now: datetime | None = None) -> list:
        """One evaluation at a time across processes too (yuqing.locks): no alert raised or sent twice."""
        from .locks import process_lock
        with self._lock, process_lock(self.lock_path("warning")):
            changes = self.engine.evaluate(now or self.settings.now())
        self._special_reports(changes)
        return changes

    def _special_reports(self, changes) -> None:
        """A 专报 for each alert raised or escalated to 橙 or 红 (output_dir/reports); a report that
        cannot be made is logged, never a failed evaluation."""
        written, self._reports_written = self._reports_written, set()
        for change in changes:
            if change.kind in ("new", "escalated") and change.alert.level in ("橙", "红") \
                    and change.alert.id not in written:
                try:
                    self.write_event_report(change.alert.id)
                except Exception as exc:  # noqa: BLE001
                    log.warning("专报 not written", extra={"alert": change.alert.id, "error": str(exc)[:300]})

    @property
    def accounts(self):
        """The workbench's accounts (yuqing.accounts; data_dir/web.accounts_db)."""
        from .accounts import Accounts
        path = self.settings.path(self.settings.app.data_dir) / self.settings.app.web.accounts_db
        return Accounts(path, known_agencies={a.id for a in self.settings.agencies.agencies})

    def people(self, extra=()) -> list:
        """The directory's accounts: agencies.yaml's members and admins come from the file itself;
        these are the workbench accounts (read only when the accounts file exists) and `extra`."""
        accounts = self.accounts
        return [*(accounts.people() if accounts.path.exists() else []), *extra]

    def alert_desk(self, extra_people=()):
        from warning.lifecycle import AlertDesk
        return AlertDesk(self.store, self.settings.agencies, self.people(extra_people))

    def alert_action(self, alert_id: str, action: str, user: str, *, extra_people=(), **options):
        """One lifecycle action (warning.lifecycle), under the warning evaluation's lock: an action and
        an evaluation never interleave on one alert, in this process or another."""
        from .locks import process_lock
        with self._lock, process_lock(self.lock_path("warning")):
            return self.alert_desk(extra_people).act(alert_id, action, user, self.settings.now(), **options)

    def resend_dead_letter(self, letter_id: str):
        """Send a dead letter again through its channel as configured now (under the warning lock)."""
        from warning.deadletters import DeadLetters
        from .locks import process_lock
        with self._lock, process_lock(self.lock_path("warning")):
            notifiers = self.build_notifiers()
            for notifier in notifiers:
                notifier.bind(self.store)
            return DeadLetters(self.store).resend(letter_id, notifiers, self.settings.now())

    def briefing_clock(self) -> clock_time:
        """The time of day the 日报 is due: schedule.briefing's cron when it names one fixed minute and
        hour (the default "30 7 * * *"), else 07:30."""
        fields = (self.settings.app.schedule.briefing.cron or "").split()
        if len(fields) >= 2 and fields[0].isdigit() and fields[1].isdigit():
            return clock_time(int(fields[1]), int(fields[0]))
        return clock_time(7, 30)

    def daily_report_end(self, day: date, at: clock_time | None = None) -> datetime:
        """Where the issue dated `day` ends: its briefing time that day."""
        return datetime.combine(day, at or self.briefing_clock(), tzinfo=self.settings.tz)

    def write_daily_report(self, day: date | None = None, formats=None, out_dir: Path | None = None, *,
                           end: datetime | None = None, hours: int | None = None) -> list[Path]:
        """The 日报 (warning.reports.daily) for the `hours` (default: daily_report.hours) before `end`
        (default: the briefing time on `day`, else now), in `formats` (default: daily_report.formats),
        written to out_dir (default: output_dir/briefings)."""
        from warning.reports.daily import write_daily_report
        cfg = self.settings.app.daily_report
        if end is None:
            end = self.daily_report_end(day) if day is not None else self.settings.now()
        out = out_dir or (self.output_dir / "briefings")
        with self._lock:
            paths = write_daily_report(self.store, start=end - timedelta(hours=hours or cfg.hours), end=end, out_dir=out,
                                       office_name=self.settings.app.office_name, agencies=self.settings.agencies,
                                       topics=self.settings.topics, settings=cfg, formats=formats,
                                       boundaries=self.settings.boundaries() or [],
                                       source_labels={s.name: s.label for s in self.settings.sources.sources if s.label},
                                       tz=self.settings.tz)
        log.info("daily report written", extra={"paths": [str(p) for p in paths]})
        return paths

    def daily_report_job(self, now: datetime | None = None) -> list[Path]:
        """The scheduled 日报: written for the period ending now, then mailed to the subscribers with
        daily_report: true, each once per issue (a restart or a second run does not mail it again)."""
        end = now or self.settings.now()
        paths = self.write_daily_report(end=end)
        self.mail_daily_report(paths, end)
        return paths

    def mail_daily_report(self, paths: list[Path], end: datetime) -> int:
        """Mail the issue's `daily_report.attach` files; returns how many subscribers got it now.
        A failed delivery is logged; `yuqing report daily --date D --mail` sends it again."""
        from warning.notifiers import NotificationError, build_notifiers, daily_report_email
        from warning.reports.daily import MIME, issue_number
        cfg = self.settings.app.daily_report
        if not any(s.daily_report for s in self.settings.agencies.subscribers):
            return 0
        named: dict = {}
        build_notifiers(self.settings.app.notifiers, default_dir=self.output_dir, agencies=self.settings.agencies,
                        resolve=self.settings.path, path=self.settings.config_path, tz=self.settings.tz, named=named)
        local = end.astimezone(self.settings.tz)
        _, label = issue_number(local)
        files = [(p.name, p.read_bytes(), MIME[p.suffix.lstrip(".")]) for p in paths if p.suffix.lstrip(".") in cfg.attach]
        subject = f"{self.settings.app.office_name} 舆情日报 {label}（{local:%Y年%m月%d日}）"
        body = (f"{self.settings.app.office_name}舆情日报 {label}，统计时段为 {local - timedelta(hours=cfg.hours):%m-%d %H:%M}"
                f" 至 {local:%m-%d %H:%M}，见附件（{'、'.join(n for n, _, _ in files)}）。\n本邮件由舆情哨兵自动发送。")
        sent = 0
        for sub, email in daily_report_email(self.settings.agencies, named.values()):
            key = f"daily_report.mailed.{local:%Y%m%d}.{sub.id}"
            if self.store.get_state(key):
                continue
            try:
                email.send_files_to(sub.email, subject, body, files, message_id=f"daily.{local:%Y%m%d}.{sub.id}")
            except NotificationError as exc:
                log.warning("daily report not mailed", extra={"subscriber": sub.id, "error": str(exc)[:500]})
                continue
            self.store.set_state(key, self.settings.now().isoformat())
            sent += 1
            log.info("daily report mailed", extra={"subscriber": sub.id, "to": sub.email, "issue": label})
        return sent

    def write_briefing(self, now: datetime | None = None, hours: int | None = None) -> Path:
        """The 日报's HTML for the `hours` (default: daily_report.hours) before `now` (`yuqing brief`),
        with the configured map and entries like every other issue."""
        return self.write_daily_report(formats=["html"], end=now or self.settings.now(), hours=hours)[0]
