"""`yuqing demo`: the main job end to end, offline, on the embedded store.

Serves the bundled demo internet on 127.0.0.1, crawls it with the real spiders,
enriches and stores the posts, then replays the warning schedule over the
simulated days (hourly evaluations, a briefing every morning at 07:30) exactly
as the service would have run them, and writes alerts and briefings to a folder.
"""
from __future__ import annotations

import json
import os
import shutil
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

from index.schema import DEFAULT_TZ

from .config import default_configs_dir, load_settings
from .jobs import App

DEMO_CONFIG = default_configs_dir() / "demo" / "app.yaml"
MARKER = ".yuqing-demo"
BRIEFING_TIME = (7, 30)


@dataclass
class DemoSummary:
    out_dir: Path
    crawl: dict = field(default_factory=dict)
    stored: int = 0
    sentiment: dict = field(default_factory=dict)
    alerts: list[dict] = field(default_factory=list)
    briefings: list[Path] = field(default_factory=list)
    alerts_file: Path | None = None
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return self.stored > 0 and bool(self.briefings)

    def render(self) -> str:
        lines = ["", "舆情哨兵 demo — summary", "=" * 40]
        for source, counts in sorted(self.crawl.items()):
            errors = counts.get("error_kinds") or {}
            detail = f", errors: {', '.join(f'{k}×{v}' for k, v in errors.items())}" if errors else ""
            lines.append(f"  crawled {source:10s} {counts.get('written', 0):4d} new posts, "
                         f"{counts.get('pages', 0)} pages{detail}")
        lines.append(f"  posts stored: {self.stored}   sentiment: "
                     + ", ".join(f"{k} {v}" for k, v in self.sentiment.items()))
        lines.append(f"  alerts: {len(self.alerts)}")
        for a in self.alerts:
            state = f"已平息 {a['ended_at'][:16]}" if a.get("ended_at") else "进行中"
            lines.append(f"    [{a['level']}] {a['title']} → {a['agency_name']}  (first {a['first_seen'][:16]}, "
                         f"{a['status']}, {state})")
        lines.append(f"  alerts file: {self.alerts_file}")
        lines.append("  daily briefings:")
        for path in self.briefings:
            lines.append(f"    {path}")
        lines.append(f"  output folder: {self.out_dir}")
        lines.append(f"  finished in {self.seconds:.1f} s")
        return "\n".join(lines)


def _reset(out: Path) -> None:
    """Start from empty, but only ever delete a folder an earlier demo made."""
    if out.exists() and any(out.iterdir()):
        if not (out / MARKER).exists():
            raise SystemExit(f"{out} exists and was not made by `yuqing demo`; choose another --out")
        shutil.rmtree(out)
    out.mkdir(parents=True, exist_ok=True)
    (out / MARKER).write_text("made by yuqing demo; safe to delete\n", encoding="utf-8")


def _timeline(start: datetime, end: datetime):
    """Hourly evaluation ticks, with the 07:30 briefing slot of each day in order."""
    tick = start.replace(minute=0, second=0, microsecond=0)
    while tick <= end:
        yield tick, False
        slot = tick.replace(hour=BRIEFING_TIME[0], minute=BRIEFING_TIME[1])
        if tick < slot <= tick + timedelta(hours=1) - timedelta(seconds=1) and slot <= end:
            yield slot, True
        tick += timedelta(hours=1)


def run_demo(out: Path, keep: bool = False) -> DemoSummary:
    from yuqing.demo.site import DemoSite, load_corpus

    started = time.monotonic()
    out = out.resolve()
    if not keep:
        _reset(out)
    summary = DemoSummary(out_dir=out)
    with DemoSite() as site:
        os.environ["YUQING_DEMO_BASE"] = site.base_url
        settings = load_settings(DEMO_CONFIG, base_dir=out, overrides={
            "data_dir": str(out), "output_dir": str(out / "report"), "inbox_dir": str(out / "inbox"),
            "store": {"backend": "sqlite", "sqlite": {"path": str(out / "yuqing.db")}},
        })
        app = App(settings)
        report = app.crawl_in_process()
        summary.crawl = _per_source(report)

    try:
        app.enrich_pending()
        store = app.store
        summary.stored = store.count()
        from index.store import PostQuery
        summary.sentiment = {b.key: b.count for b in store.terms(PostQuery(), "sentiment", size=5)}

        times = sorted(datetime.fromisoformat(r["published_at"]) for r in load_corpus())
        first, last = times[0].astimezone(DEFAULT_TZ), times[-1].astimezone(DEFAULT_TZ)
        # Evaluate from one day in, so the rules have a baseline, until a morning after the last post.
        end = (last + timedelta(days=1)).replace(hour=BRIEFING_TIME[0], minute=BRIEFING_TIME[1],
                                                 second=0, microsecond=0)
        for when, is_briefing in _timeline(first + timedelta(days=1), end):
            if is_briefing:
                summary.briefings.append(app.write_briefing(when))
            else:
                app.evaluate_warnings(when)

        alerts = store.list_alerts(limit=1000)
        alerts.sort(key=lambda a: a.first_seen)
        summary.alerts = [{"level": a.level, "title": a.title, "agency": a.agency, "agency_name": a.agency_name,
                           "status": a.status, "first_seen": a.first_seen.isoformat(), "id": a.id,
                           "ended_at": a.ended_at.isoformat() if a.ended_at else None}
                          for a in alerts]
        summary.alerts_file = app.output_dir / "alerts.json"
        summary.alerts_file.write_text(json.dumps([a.model_dump(mode="json") for a in alerts],
                                                  ensure_ascii=False, indent=2), encoding="utf-8")
    finally:
        app.close()
    summary.seconds = time.monotonic() - started
    return summary


def _per_source(report) -> dict:
    data = report.as_dict() if hasattr(report, "as_dict") else dict(getattr(report, "__dict__", report))
    per = data.get("sources", data)
    return {name: counts for name, counts in per.items()} if isinstance(per, dict) else {"all": per}

