"""The replay harness: a timestamped stream through the real pipeline in simulated time.

Cascades (real Weibo repost cascades) are placed on an N-day timeline among background posts
(yuqing.replay.timeline, .background). A warm-up of background only (default 7 days) goes into
the store first, so the rules' baselines hold history when the timeline starts. Then, at every
tick of the warning schedule (app.yaml schedule.warning.interval_minutes, or --interval):
  1. the posts published since the last tick are enriched, linked and stored (yuqing.jobs.App.ingest:
     nlp.enrich.Enricher, nlp.linking.StreamLinker, the SQLite store in a temporary folder);
  2. the engagement of an original with new reposts is refreshed to its reposts so far, at most
     every 30 simulated minutes (what a re-crawl would see);
  3. the rules are evaluated at the tick (warning.engine.WarningEngine via App.evaluate_warnings),
     and the alerts raised or escalated are recorded with their example posts.
Nothing is sent anywhere: notifications go to files in the temporary folder. What the alerts were
about is judged against the harness's own ground truth (yuqing.replay.metrics).
"""
from __future__ import annotations

import bisect
import contextlib
import logging
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime, time as clock_time, timedelta
from pathlib import Path

from index.configbase import ConfigError
from index.schema import Post

from ..config import Settings, load_settings
from ..jobs import App, EnrichReport
from .background import DEFAULT_PER_DAY, generate_background, read_background, text_pools
from .cascades import ReplayInputError, read_cascades, select
from .metrics import EventOutcome, Notification, outcomes, summarize
from .timeline import PlacedCascade, engagement_at, ground_truth, original_post, place_cascades, repost_post

log = logging.getLogger(__name__)

DEFAULT_START = "2024-05-06"       # a Monday; the timeline starts at midnight office time
WARMUP_CHUNK = 2000                # posts per ingest call during the warm-up
# A re-crawl of a spreading original sees its counters; hot posts are re-crawled about this often
# (every tick would cost as much store time as the reposts themselves at 600 cascades).
ENGAGEMENT_REFRESH_S = 30 * 60


@dataclass
class ReplayOptions:
    cascades: Path
    background: Path | None = None     # JSONL of posts; default: generated from data_dir
    data_dir: Path | None = None       # the shared data folder (background texts)
    days: int = 3
    warmup_days: int = 7
    start: str = DEFAULT_START         # first simulated day, YYYY-MM-DD, office time
    seed: int = 0
    split: str = "test"
    limit: int | None = None
    sample: float | None = None
    rules: Path | None = None          # a rules.yaml instead of the configured one
    interval_minutes: float | None = None
    background_per_day: float = DEFAULT_PER_DAY
    progress: bool = False
    keep: Path | None = None           # keep the store and the notified alerts here (an empty folder)


@dataclass
class ReplayResult:
    options: ReplayOptions
    figures: dict
    events: list[EventOutcome]
    false_alert_ids: list[str]
    timings: dict[str, float]           # seconds per simulated day, per step
    run: dict = field(default_factory=dict)

    def as_dict(self) -> dict:
        return {**self.figures, "timings_s_per_sim_day": self.timings, "run": self.run,
                "false_alert_ids": self.false_alert_ids, "events": [e.as_dict() for e in self.events]}


class ReplayApp(App):
    """The application with its notifiers replaced by one file notifier in the temporary folder."""

    def build_notifiers(self) -> list:
        from warning.notifiers import FileNotifier
        return [FileNotifier(self.output_dir, tz=self.settings.tz)]

    def _special_reports(self, changes) -> None:
        """Detection is measured here, not reporting: no 专报 for the replay's alerts."""


def replay_settings(config_path: str | Path, workdir: Path, rules: Path | None = None) -> Settings:
    """The configuration with the store, data and output folders moved into `workdir`."""
    overrides: dict = {"store": {"backend": "sqlite", "sqlite": {"path": str(workdir / "replay.db")}},
                       "data_dir": str(workdir), "output_dir": str(workdir / "reports"),
                       "inbox_dir": str(workdir / "inbox")}
    if rules is not None:
        if not Path(rules).is_file():
            raise ReplayInputError(f"{rules}: rules file not found")
        overrides["rules_file"] = str(Path(rules).resolve())
    return load_settings(config_path, overrides=overrides)


def tick_minutes(settings: Settings, override: float | None) -> float:
    if override is not None:
        if override <= 0:
            raise ReplayInputError(f"--interval must be positive, got {override:g}")
        return float(override)
    minutes = settings.app.schedule.warning.interval_minutes
    if minutes is None:
        raise ConfigError(f"{settings.config_path}: schedule.warning is a cron schedule; "
                          "give the replay a tick with --interval MINUTES")
    return float(minutes)


class _Stream:
    """Cascade posts and background posts in publication order, read window by window."""

    def __init__(self, placed: Sequence[PlacedCascade], background: Sequence[Post]):
        entries = [(pc.start, -1, pc.index) for pc in placed]
        entries += [(t, i, pc.index) for pc in placed for i, t in enumerate(pc.times)]
        entries.sort()
        self.entries = entries
        self.times = [e[0] for e in entries]
        self.background = list(background)
        self.bg_times = [p.published_at.timestamp() for p in self.background]

    def window(self, lo: float, hi: float) -> tuple[list[tuple[float, int, int]], list[Post]]:
        a, b = bisect.bisect_left(self.times, lo), bisect.bisect_left(self.times, hi)
        c, d = bisect.bisect_left(self.bg_times, lo), bisect.bisect_left(self.bg_times, hi)
        return self.entries[a:b], self.background[c:d]

    def background_before(self, moment: float) -> list[Post]:
        return self.background[: bisect.bisect_left(self.bg_times, moment)]

    def __len__(self) -> int:
        return len(self.entries) + len(self.background)


def run_replay(config_path: str | Path, options: ReplayOptions) -> ReplayResult:
    started = time.monotonic()
    if options.days < 1 or options.warmup_days < 0:
        raise ReplayInputError("--days must be at least 1 and --warmup-days at least 0")
    if options.limit is not None and options.limit < 1:
        raise ReplayInputError(f"--limit must be at least 1, got {options.limit}")
    if options.sample is not None and not 0 < options.sample <= 1:
        raise ReplayInputError(f"--sample is a fraction in (0, 1], got {options.sample:g}")
    cascades = select(read_cascades(options.cascades), options.split, limit=options.limit,
                      sample=options.sample, seed=options.seed)
    if not cascades:
        raise ReplayInputError(f"{options.cascades}: no cascades in split {options.split!r}")
    with _workdir(options.keep) as workdir:
        settings = replay_settings(config_path, workdir, options.rules)
        tz = settings.tz
        try:
            first_day = datetime.strptime(options.start, "%Y-%m-%d").date()
        except ValueError:
            raise ReplayInputError(f"--start {options.start!r} is not a date (YYYY-MM-DD)") from None
        start = datetime.combine(first_day, clock_time(0), tzinfo=tz)
        warm_start, end = start - timedelta(days=options.warmup_days), start + timedelta(days=options.days)
        interval = tick_minutes(settings, options.interval_minutes)

        placed = place_cascades(cascades, start, options.days, seed=options.seed)
        truth = ground_truth(placed)
        background = _background(options, settings, warm_start, end)
        clashing = [p.id for p in background if p.id in truth]
        if clashing:
            raise ReplayInputError(f"{options.background}: post id {clashing[0]!r} is also a cascade post's id")
        stream = _Stream(placed, background)
        load_s = time.monotonic() - started

        app = ReplayApp(settings)
        try:
            warm = time.monotonic()
            _ = app.enricher                                  # models load outside the measured loop
            models_s = time.monotonic() - warm
            warm = time.monotonic()
            warmup = stream.background_before(start.timestamp())
            for i in range(0, len(warmup), WARMUP_CHUNK):
                app.ingest(warmup[i:i + WARMUP_CHUNK])
            warmup_s = time.monotonic() - warm
            loop = _TickLoop(app, placed, stream, tz)
            loop.run(start, end, timedelta(minutes=interval), progress=options.progress)
            rule_names = [r.name for r in app.engine.rules]
        finally:
            app.close()

    events, false_alerts = outcomes(placed, loop.notifications, truth)
    figures = summarize(events, false_alerts, alerts_raised=loop.raised, sim_days=options.days)
    wall_per_day = loop.wall_s / options.days
    figures["wall_s_per_sim_day"] = round(wall_per_day, 1)
    figures["posts_per_sim_day"] = round(loop.posts / options.days)
    timings = {k: round(v / options.days, 2) for k, v in loop.timings.items()}
    timings["other"] = round(max(0.0, wall_per_day - sum(timings.values())), 2)
    run = {"split": options.split, "days": options.days, "warmup_days": options.warmup_days,
           "start": start.isoformat(), "seed": options.seed, "interval_minutes": interval,
           "ticks": loop.ticks, "posts": loop.posts, "warmup_posts": len(warmup),
           "background_posts": len(background), "cascade_posts": len(stream.entries),
           "rules": rule_names,
           "load_s": round(load_s, 1), "models_s": round(models_s, 1), "warmup_s": round(warmup_s, 1),
           "total_s": round(time.monotonic() - started, 1)}
    return ReplayResult(options, figures, events, false_alerts, timings, run)


@contextlib.contextmanager
def _workdir(keep: Path | None) -> Iterator[Path]:
    """A temporary folder, or `keep` (created, and refused unless empty: figures from a store that
    already held posts would not be this replay's)."""
    if keep is None:
        with tempfile.TemporaryDirectory(prefix="yuqing-replay-") as tmp:
            yield Path(tmp)
        return
    keep = Path(keep)
    if keep.exists() and (not keep.is_dir() or any(keep.iterdir())):
        raise ReplayInputError(f"{keep}: --keep needs an empty or new folder")
    keep.mkdir(parents=True, exist_ok=True)
    yield keep.resolve()


def _background(options: ReplayOptions, settings: Settings, start: datetime, end: datetime) -> list[Post]:
    if options.background is not None:
        return read_background(options.background, start, end)
    if options.background_per_day <= 0:
        return []
    data_dir = options.data_dir or settings.path(settings.app.nlp.shared_data)
    days = (end - start).days
    return generate_background(text_pools(data_dir), start, days, per_day=options.background_per_day,
                               seed=options.seed, tz=settings.tz)


class _TickLoop:
    """Ingest, refresh, evaluate — once per tick; keeps the notifications and the time each step took."""

    def __init__(self, app: App, placed: Sequence[PlacedCascade], stream: _Stream, tz):
        self.app, self.placed, self.stream, self.tz = app, placed, stream, tz
        self.notifications: list[Notification] = []
        self.timings: dict[str, float] = {}
        self.raised = self.posts = self.ticks = 0
        self._refreshed: dict[int, float] = {}        # cascade index → when its original was last refreshed
        self._stale: set[int] = set()                  # cascades with reposts the original's counters miss
        self.wall_s = 0.0

    def run(self, start: datetime, end: datetime, step: timedelta, *, progress: bool = False) -> None:
        from tqdm import tqdm
        n_ticks = -(-(end - start) // step)
        bar = tqdm(total=n_ticks, desc="replay", unit="tick", file=sys.stderr, disable=not progress,
                   mininterval=1.0, dynamic_ncols=True)
        began = time.perf_counter()
        prev = start
        try:
            while prev < end:
                tick = min(prev + step, end)
                self.tick(prev, tick)
                prev = tick
                bar.update(1)
                bar.set_postfix(posts=self.posts, alerts=self.raised, refresh=False)
        finally:
            bar.close()
            self.wall_s = time.perf_counter() - began

    def tick(self, prev: datetime, tick: datetime) -> None:
        clock = time.perf_counter()
        entries, background = self.stream.window(prev.timestamp(), tick.timestamp())
        posts = list(background)
        grown: set[int] = set()
        for _, i, index in entries:
            pc = self.placed[index]
            posts.append(original_post(pc, self.tz, tick) if i < 0 else repost_post(pc, i, self.tz, tick))
            if i >= 0:
                grown.add(index)
        clock = self._lap("build", clock)
        if posts:
            report = EnrichReport()
            self.app.ingest(posts, report)
            for step, seconds in report.timings.items():
                self.timings[step] = self.timings.get(step, 0.0) + seconds
            self.posts += len(posts)
            clock = time.perf_counter()
        self._stale |= grown
        due = sorted(i for i in self._stale
                     if tick.timestamp() - self._refreshed.get(i, self.placed[i].start) >= ENGAGEMENT_REFRESH_S)
        if due:
            self._refresh_originals(due, tick.timestamp())
            self._stale.difference_update(due)
            self._refreshed.update(dict.fromkeys(due, tick.timestamp()))
            clock = self._lap("engagement", clock)
        changes = self.app.evaluate_warnings(tick)
        self._lap("rules", clock)
        at = tick.timestamp()
        for change in changes:
            if change.kind in ("new", "escalated"):
                a = change.alert
                self.notifications.append(Notification(at, a.id, a.rule, change.kind, str(a.level), tuple(a.post_ids)))
                self.raised += change.kind == "new"
        self.ticks += 1

    def _refresh_originals(self, indices: list[int], moment: float) -> None:
        by_id = {self.placed[i].original_id: self.placed[i] for i in indices}
        updated = []
        for post in self.app.store.get_posts(list(by_id)):
            pc = by_id[post.id]
            so_far = bisect.bisect_left(pc.times, moment)
            updated.append(post.model_copy(update={"engagement": engagement_at(pc, so_far)}))
        if updated:
            self.app.store.upsert_posts(updated)

    def _lap(self, step: str, since: float) -> float:
        now = time.perf_counter()
        self.timings[step] = self.timings.get(step, 0.0) + now - since
        return now
