"""The long-running service: APScheduler drives crawls, enrichment, warnings and briefings.

Design choice: each crawl runs in a child process (`python -m crawler.run`).
Scrapy sits on Twisted, whose reactor cannot be restarted within a process, so
running crawls in-process would need the whole service to live inside one
reactor. Child processes avoid that, isolate memory growth and crashes of a
misbehaving site, and let a stuck crawl be killed on shutdown. Models and the
store stay loaded in the service process for enrichment and warnings.
"""
from __future__ import annotations

import logging
import signal
import threading
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Callable

from apscheduler.events import EVENT_JOB_ERROR, EVENT_JOB_MISSED, JobExecutionEvent
from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger

from .config import Schedule, Settings
from .checks import preflight
from .jobs import App

log = logging.getLogger(__name__)


def trigger_for(schedule: Schedule, tz, *, start: datetime | None = None, jitter: bool = True):
    """The APScheduler trigger of a schedule. An interval counts from `start` (default: now, as
    APScheduler does); `jitter=False` drops jitter_seconds (the demo's reproducible replay)."""
    if schedule.cron is not None:
        return CronTrigger.from_crontab(schedule.cron, timezone=tz)
    interval = timedelta(minutes=schedule.interval_minutes)
    return IntervalTrigger(minutes=schedule.interval_minutes, timezone=tz,
                           start_date=start + interval if start is not None else None,
                           jitter=(schedule.jitter_seconds or None) if jitter else None)


@dataclass(frozen=True)
class JobSpec:
    """One scheduled job: what the service runs, on which schedule; the demo replays the same list."""
    id: str
    name: str
    func: Callable[..., Any]
    schedule: Schedule
    args: tuple = ()
    run_at_start: bool = False      # also once when the service starts, not only after the first interval
    executor: str = "default"
    source: str | None = None       # for crawl jobs


def job_specs(settings: Settings, app: App) -> list[JobSpec]:
    """Every job of the service: a crawl per enabled source, enrichment, warnings, the briefing."""
    specs = [JobSpec(f"crawl:{s.name}", f"crawl {s.name}", app.crawl_in_child, s.schedule, args=(s.name,),
                     run_at_start=True, executor="crawls", source=s.name)
             for s in settings.sources.sources if s.enabled]
    sched = settings.app.schedule
    specs += [JobSpec("enrich", "enrich inbox", app.enrich_pending, sched.enrich, run_at_start=True),
              # Rules are judged at start too: a service restarted during an incident must not wait an interval.
              JobSpec("warning", "evaluate warnings", app.evaluate_warnings, sched.warning, run_at_start=True),
              JobSpec("briefing", "daily report (日报)", app.daily_report_job, sched.briefing)]
    return specs


class Service:
    def __init__(self, settings: Settings, crawl_workers: int = 2, shutdown_grace_s: float = 20.0):
        self.settings = settings
        self.shutdown_grace_s = shutdown_grace_s
        self.app = App(settings)
        self.stopping = threading.Event()
        self.scheduler = BackgroundScheduler(
            timezone=settings.tz,
            executors={"default": ThreadPoolExecutor(4), "crawls": ThreadPoolExecutor(crawl_workers)},
            # A job that could not run on time runs once when it can, not once per missed slot.
            job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": 300},
        )
        self.scheduler.add_listener(self._on_job_event, EVENT_JOB_ERROR | EVENT_JOB_MISSED)

    def schedule_jobs(self) -> None:
        tz = self.settings.tz
        now = datetime.now(tz)
        for spec in job_specs(self.settings, self.app):
            extra = {"next_run_time": now} if spec.run_at_start else {}
            self.scheduler.add_job(spec.func, trigger_for(spec.schedule, tz), args=list(spec.args), id=spec.id,
                                   name=spec.name, executor=spec.executor, **extra)

    def _on_job_event(self, event: JobExecutionEvent) -> None:
        if event.exception is not None:
            log.error("job failed", extra={"job": event.job_id, "error": repr(event.exception)})
        else:
            log.warning("job missed its run time", extra={"job": event.job_id})

    def start_web(self):
        """The workbench (yuqing.web) in a thread of the service, over the service's own App, so pages,
        the API and the scheduled jobs share one store and one warning lock."""
        import uvicorn
        from .web.app import create_app
        web = self.settings.app.web
        server = uvicorn.Server(uvicorn.Config(create_app(self.app), host=web.host, port=web.port, log_level="info",
                                               proxy_headers=True, forwarded_allow_ips=web.forwarded_allow_ips,
                                               access_log=False))
        thread = threading.Thread(target=server.run, name="workbench", daemon=True)
        thread.start()
        log.info("workbench started", extra={"url": f"http://{web.host}:{web.port}/"})
        return server, thread

    def run(self) -> int:
        """Run until SIGINT/SIGTERM; returns the process exit code."""
        def stop(signum, _frame):
            log.info("shutdown requested", extra={"signal": signal.Signals(signum).name})
            self.stopping.set()

        checks = preflight(self.settings)
        if not checks.ok:
            for problem in checks.problems:
                log.error("preflight: %s", problem)
            log.error("service not started: %d configuration problem(s); see `yuqing config check`",
                      len(checks.problems))
            return 2

        signal.signal(signal.SIGINT, stop)
        signal.signal(signal.SIGTERM, stop)
        self.schedule_jobs()
        self.scheduler.start()
        web = self.start_web() if self.settings.app.web.enabled else None
        log.info("service started", extra={"jobs": [j.id for j in self.scheduler.get_jobs()]})
        try:
            while not self.stopping.wait(1.0):
                if web is not None and not web[1].is_alive():
                    log.error("the workbench stopped (its port may be taken); the service goes on without it",
                              extra={"port": self.settings.app.web.port})
                    web = None
        finally:
            if web is not None:
                web[0].should_exit = True
                web[1].join(10)
            # Crawls get SIGTERM, then SIGKILL after the grace period; then wait for running
            # jobs: enrichment only drops an inbox batch after the store committed it, so an
            # interrupted job would simply be retried next start.
            self.scheduler.pause()
            self.app.stop_children(self.shutdown_grace_s)
            self.scheduler.shutdown(wait=True)
            self.app.close()
            log.info("service stopped")
        return 0
