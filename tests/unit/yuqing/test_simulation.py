"""The service's schedule in simulated time (yuqing/simulation.py) and the injectable clock (index/clock.py)."""
from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from crawler.config import Schedule
from crawler.items import RawPost
from crawler.normalize import to_post
from index import clock
from index.schema import now as schema_now
from yuqing.config import default_configs_dir, load_settings
from yuqing.jobs import App
from yuqing.service import JobSpec, job_specs
from yuqing.simulation import fire_times, firings, instants

TZ = ZoneInfo("Asia/Shanghai")
START = datetime(2026, 11, 16, 0, 0, tzinfo=TZ)


def spec(job: str, schedule: Schedule, run_at_start: bool = False) -> JobSpec:
    return JobSpec(job, job, lambda: None, schedule, run_at_start=run_at_start)


def test_interval_job_run_at_start_fires_at_start_then_every_interval():
    times = fire_times(spec("crawl:x", Schedule(interval_minutes=20), run_at_start=True), TZ, START,
                       START + timedelta(hours=1))
    assert times == [START + timedelta(minutes=m) for m in (0, 20, 40, 60)]


def test_interval_job_without_run_at_start_first_fires_after_one_interval():
    times = fire_times(spec("warning", Schedule(interval_minutes=10)), TZ, START, START + timedelta(minutes=35))
    assert times == [START + timedelta(minutes=m) for m in (10, 20, 30)]


def test_jitter_is_dropped_for_a_reproducible_replay():
    s = spec("crawl:w", Schedule(interval_minutes=10, jitter_seconds=30), run_at_start=True)
    assert fire_times(s, TZ, START, START + timedelta(hours=2)) == fire_times(s, TZ, START,
                                                                             START + timedelta(hours=2))
    assert all(t.second == 0 for t in fire_times(s, TZ, START, START + timedelta(hours=2)))


def test_cron_briefing_fires_at_0730_each_day_in_the_zone():
    times = fire_times(spec("briefing", Schedule(cron="30 7 * * *")), TZ, START, START + timedelta(days=3))
    assert times == [START + timedelta(days=d, hours=7, minutes=30) for d in range(3)]
    # starting exactly on a fire time counts it once, and the loop ends
    assert fire_times(spec("briefing", Schedule(cron="30 7 * * *")), TZ, times[0], times[1]) == times[:2]


def test_firings_at_one_instant_run_in_data_flow_order():
    specs = [spec("briefing", Schedule(cron="0 1 * * *")), spec("warning", Schedule(interval_minutes=60)),
             spec("enrich", Schedule(interval_minutes=60), run_at_start=True),
             spec("crawl:a", Schedule(interval_minutes=60), run_at_start=True)]
    planned = firings(specs, TZ, START, START + timedelta(hours=1))
    assert [(f.at - START, f.job) for f in planned] == [
        (timedelta(0), "crawl:a"), (timedelta(0), "enrich"),
        (timedelta(hours=1), "crawl:a"), (timedelta(hours=1), "enrich"), (timedelta(hours=1), "warning"),
        (timedelta(hours=1), "briefing")]
    assert [len(group) for _, group in instants(planned)] == [2, 4]


def test_the_demo_replays_the_services_own_jobs():
    settings = load_settings(default_configs_dir() / "demo" / "app.yaml", base_dir=Path("/nonexistent"))
    app = App(settings)
    specs = {s.id: s for s in job_specs(settings, app)}
    assert set(specs) == {f"crawl:{s.name}" for s in settings.sources.sources if s.enabled} | {
        "enrich", "warning", "briefing"}
    assert specs["crawl:weibo"].schedule == settings.source("weibo").schedule
    assert specs["warning"].schedule == settings.app.schedule.warning
    assert specs["briefing"].schedule.cron == "30 7 * * *"


def test_a_simulated_clock_is_what_every_stage_reads():
    at = datetime(2026, 11, 18, 9, 0, tzinfo=TZ)
    settings = load_settings(default_configs_dir() / "demo" / "app.yaml", base_dir=Path("/nonexistent"))
    sim = clock.SimulatedClock(at)
    with clock.use(sim):
        assert clock.simulated()
        assert settings.now() == at and schema_now() == at
        post = to_post(RawPost(source="x", platform="news", url="http://example.org/a", title="t", content="c",
                               published_at="2026-11-18 08:00"), tz=TZ)
        assert post.crawled_at == at
        sim.set(at + timedelta(minutes=10))
        assert settings.now() == at + timedelta(minutes=10)
        with pytest.raises(ValueError, match="only moves forward"):
            sim.set(at)
        with pytest.raises(RuntimeError, match="already installed"):
            with clock.use(clock.SimulatedClock(at)):
                pass
    assert not clock.simulated()
    assert abs(settings.now() - datetime.now(TZ)) < timedelta(minutes=1)


def test_a_simulated_time_needs_a_zone():
    with pytest.raises(ValueError, match="needs a zone"):
        clock.SimulatedClock(datetime(2026, 11, 18, 9, 0))
