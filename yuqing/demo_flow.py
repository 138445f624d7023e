"""`yuqing demo`: the service's jobs end to end, offline, in simulated time, on the embedded store.

Serves the bundled demo internet on 127.0.0.1 and replays the service's own
schedule (yuqing.simulation: crawls per source, enrichment, warnings, the 07:30
briefing) from the corpus's first day to the morning after its last post. A
simulated clock (index/clock.py) stands at each firing: the site serves only what
was published by then and every job reads that time, so posts arrive crawl by
crawl and alerts are raised when the service would have raised them. Output
(store, alerts, briefings) goes to a folder; the summary prints the incident's
timeline against the demo's targets (demo_timeline.py).

Differences from `yuqing run`, for speed: crawls run in this process on one
long-lived reactor (crawler.runner.CrawlSession) instead of a child process per
crawl, and a crawl whose channel shows nothing new since that source's last
crawl is skipped — it would fetch the same pages and deliver nothing (the
seen-state pipeline drops unchanged posts), so the outcome is the same.
"""
from __future__ import annotations

import json
import os
import shutil
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

from index import clock
from index.schema import DEFAULT_TZ, AlertLevel

from .config import default_configs_dir, load_settings
from .demo_timeline import Timeline, build_timeline
from .jobs import App
from .service import job_specs
from .simulation import Firing, firings, instants

DEMO_CONFIG = default_configs_dir() / "demo" / "app.yaml"
DEFAULT_OUT = Path("var/demo")   # where configs/demo/app.yaml keeps its data
MARKER = ".yuqing-demo"


@dataclass
class DemoSummary:
    out_dir: Path
    start: datetime | None = None
    end: datetime | None = None
    crawl: dict = field(default_factory=dict)
    runs: dict = field(default_factory=dict)          # job → times it ran (crawl: instants with a crawl)
    job_seconds: dict = field(default_factory=dict)   # job → wall-clock seconds spent in it
    stored: int = 0
    sentiment: dict = field(default_factory=dict)
    alerts: list[dict] = field(default_factory=list)
    briefings: list[Path] = field(default_factory=list)
    alerts_file: Path | None = None
    special_reports: list[Path] = field(default_factory=list)
    timeline: Timeline | None = None
    seconds: float = 0.0
    settings_zone: str = "Asia/Shanghai"

    @property
    def problems(self) -> list[str]:
        """Why the demo failed; empty when it succeeded."""
        out = []
        if self.stored == 0:
            out.append("没有任何帖子入库")
        if not self.briefings:
            out.append("没有生成日报")
        if self.timeline is not None and self.timeline.first_alert is None:
            out.append("演示事件（十里河死鱼）没有触发任何预警：规则在模拟时间里没有发现它")
        return out

    @property
    def ok(self) -> bool:
        return not self.problems

    def render(self) -> str:
        lines = ["", "舆情哨兵 demo — summary", "=" * 40]
        if self.start and self.end:
            lines.append(f"  simulated time: {self.start:%Y-%m-%d %H:%M} → {self.end:%Y-%m-%d %H:%M} "
                         f"({self.settings_zone})")
        lines.append("  jobs run: " + ", ".join(f"{k} {v}× ({self.job_seconds.get(k, 0):.1f} s)"
                                            for k, v in self.runs.items()))
        for source, counts in sorted(self.crawl.items()):
            errors = counts.get("error_kinds") or {}
            detail = f", errors: {', '.join(f'{k}×{v}' for k, v in errors.items())}" if errors else ""
            lines.append(f"  crawled {source:10s} {counts.get('written', 0):4d} new posts, "
                         f"{counts.get('pages', 0)} pages in {counts.get('crawls', 0)} crawls "
                         f"({counts.get('skipped', 0)} skipped: nothing new){detail}")
        lines.append(f"  posts stored: {self.stored}   sentiment: "
                     + ", ".join(f"{k} {v}" for k, v in self.sentiment.items()))
        lines.append(f"  alerts: {len(self.alerts)}")
        for a in self.alerts:
            state = f"已平息 {a['ended_at'][:16]}" if a.get("ended_at") else "进行中"
            lines.append(f"    [{a['level']}] {a['title']} → {a['agency_name']}  (first {a['first_seen'][:16]}, "
                         f"{a['status']}, {state})")
        if self.timeline is not None:
            lines += self.timeline.render()
        lines.append(f"  alerts file: {self.alerts_file}")
        if self.special_reports:
            lines.append(f"  专报 (橙/红 alerts, HTML + DOCX): {len(self.special_reports)} in "
                         f"{self.special_reports[0].parent}")
        red = next((a for a in self.alerts if a["level"] == "红"), None)
        if red is not None and self.out_dir is not None and self.out_dir.resolve() == DEFAULT_OUT.resolve():
            # the closed loop on the demo's own alerts (users from configs/agencies.yaml; docs/closed-loop.md)
            cfg = "--config configs/demo/app.yaml"
            lines += ["  try the closed loop on the incident (docs/closed-loop.md):",
                      f"    yuqing alerts {cfg} --overdue",
                      f"    yuqing alerts {cfg} ack {red['id']} --by hjj_duty",
                      f"    yuqing alerts {cfg} resolve {red['id']} --by hjj_duty --note '排污口已封堵'",
                      f"    yuqing report response {cfg} --period {red['first_seen'][:7]}",
                      "  and in the workbench (needs the web extra; docs/workbench.md):",
                      f"    echo 'choose-a-password' | yuqing users add hjj_web --role agency --agency eco_env {cfg}",
                      f"    yuqing serve {cfg}    # http://127.0.0.1:8600/?start={red['first_seen'][:10]}&end=2026-11-21"]
        lines.append("  daily briefings:")
        for path in self.briefings:
            lines.append(f"    {path}")
        lines.append(f"  output folder: {self.out_dir}")
        lines.append(f"  finished in {self.seconds:.1f} s")
        for problem in self.problems:
            lines.append(f"  演示失败：{problem}")
        return "\n".join(lines)


def _reset(out: Path) -> None:
    """Start from empty, but only ever delete a folder an earlier demo made."""
    if out.exists() and any(out.iterdir()):
        if not (out / MARKER).exists():
            raise SystemExit(f"{out} exists and was not made by `yuqing demo`; choose another --out")
        shutil.rmtree(out)
    out.mkdir(parents=True, exist_ok=True)
    (out / MARKER).write_text("made by yuqing demo; safe to delete\n", encoding="utf-8")


def simulated_span(records: list[dict], briefing_hour: int = 7, briefing_minute: int = 30) -> tuple[datetime, datetime]:
    """The service "starts" at midnight before the first post and runs until the morning after the last."""
    times = sorted(datetime.fromisoformat(r["published_at"]).astimezone(DEFAULT_TZ) for r in records)
    start = times[0].replace(hour=0, minute=0, second=0, microsecond=0)
    end = (times[-1] + timedelta(days=1)).replace(hour=briefing_hour, minute=briefing_minute, second=0,
                                                  microsecond=0)
    return start, end


def run_demo(out: Path, keep: bool = False, rules: Path | None = None) -> DemoSummary:
    """Run the demo into `out`. `rules` replaces the rules file (e.g. to see the demo fail)."""
    from crawler.runner import CrawlSession
    from yuqing.demo.site import DemoSite, load_corpus

    started = time.monotonic()
    out = out.resolve()
    if not keep:
        _reset(out)
    summary = DemoSummary(out_dir=out)
    records = load_corpus()
    start, end = simulated_span(records)
    summary.start, summary.end = start, end
    overrides = {"data_dir": str(out), "output_dir": str(out / "report"), "inbox_dir": str(out / "inbox"),
                 "store": {"backend": "sqlite", "sqlite": {"path": str(out / "yuqing.db")}}}
    if rules is not None:
        overrides["rules_file"] = str(Path(rules).resolve())
    with DemoSite(clock=start) as site:
        os.environ["YUQING_DEMO_BASE"] = site.base_url
        settings = load_settings(DEMO_CONFIG, base_dir=out, overrides=overrides)
        summary.settings_zone = settings.app.timezone
        app = App(settings)
        sim = clock.SimulatedClock(start)
        try:
            with clock.use(sim), CrawlSession(settings.crawl_context()) as session:
                replay = _Replay(app, site, session, summary)
                for at, group in instants(firings(job_specs(settings, app), settings.tz, start, end)):
                    sim.set(at)
                    site.set_clock(at)
                    replay.run(at, group)
            _finish(app, summary, records, replay)
        finally:
            app.close()
    summary.seconds = time.monotonic() - started
    return summary


class _Replay:
    """Runs one instant's firings through the same App methods the service schedules."""

    def __init__(self, app: App, site, session, summary: DemoSummary):
        self.app, self.site, self.session, self.summary = app, site, session, summary
        self.last_crawl: dict[str, datetime] = {}
        self.changes: list[dict] = []      # what each warning run changed, as it was then
        self.briefings: list[tuple[datetime, Path]] = []

    def run(self, at: datetime, group: list[Firing]) -> None:
        crawls = [f.spec.source for f in group if f.kind == "crawl"]
        if crawls:
            began = time.monotonic()
            self._crawl(at, crawls)
            self._spent("crawl", began)
        for firing in group:
            if firing.kind == "crawl":
                continue
            began = time.monotonic()
            # the service's own call: no arguments, so each job reads Settings.now() (the simulated clock)
            result = firing.spec.func(*firing.spec.args)
            self._spent(firing.kind, began)
            self._count(firing.kind)
            if firing.kind == "warning":
                self.changes.extend({"at": at, "kind": c.kind, "alert": c.alert.id,
                                     "level": AlertLevel.parse(c.alert.level).value} for c in result)
            elif firing.kind == "briefing":    # the 日报's files; the summary names its HTML
                page = next((p for p in result if p.suffix == ".html"), result[0])
                self.briefings.append((at, page))
                self.summary.briefings.append(page)

    def _crawl(self, at: datetime, names: list[str]) -> None:
        from yuqing.demo.site import channel_of
        due = []
        for name in names:
            source = self.app.settings.source(name)
            channel = channel_of(source.start_urls[0])
            counts = self.summary.crawl.setdefault(name, {"written": 0, "pages": 0, "crawls": 0, "skipped": 0,
                                                          "error_kinds": {}})
            if channel is not None and name in self.last_crawl \
                    and not self.site.changed(channel, self.last_crawl[name], at):
                counts["skipped"] += 1
                continue
            self.last_crawl[name] = at
            due.append(name)
        if not due:
            return
        report = self.session.crawl(due)
        self._count("crawl")
        for name, result in report.sources.items():
            counts = self.summary.crawl[name]
            counts["crawls"] += 1
            counts["written"] += result.written
            counts["pages"] += result.pages
            for kind, n in result.error_kinds.items():
                counts["error_kinds"][kind] = counts["error_kinds"].get(kind, 0) + n

    def _spent(self, kind: str, began: float) -> None:
        self.summary.job_seconds[kind] = self.summary.job_seconds.get(kind, 0.0) + time.monotonic() - began

    def _count(self, kind: str) -> None:
        self.summary.runs[kind] = self.summary.runs.get(kind, 0) + 1


def _finish(app: App, summary: DemoSummary, records: list[dict], replay: _Replay) -> None:
    from index.store import PostQuery
    store = app.store
    summary.stored = store.count()
    summary.sentiment = {b.key: b.count for b in store.terms(PostQuery(), "sentiment", size=5)}
    alerts = store.list_alerts(limit=1000)
    alerts.sort(key=lambda a: a.first_seen)
    summary.alerts = [{"level": a.level, "title": a.title, "agency": a.agency, "agency_name": a.agency_name,
                       "status": a.status, "first_seen": a.first_seen.isoformat(), "id": a.id,
                       "ended_at": a.ended_at.isoformat() if a.ended_at else None}
                      for a in alerts]
    summary.alerts_file = app.output_dir / "alerts.json"
    summary.special_reports = sorted((app.output_dir / "reports").glob("zhuanbao-*.docx"))
    summary.alerts_file.write_text(json.dumps([a.model_dump(mode="json") for a in alerts],
                                              ensure_ascii=False, indent=2), encoding="utf-8")
    summary.timeline = build_timeline(records, store, alerts, replay.changes, replay.briefings, app.settings.tz)
    (app.output_dir / "timeline.json").write_text(json.dumps(summary.timeline.as_dict(), ensure_ascii=False,
                                                             indent=2), encoding="utf-8")
