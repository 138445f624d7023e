"""The `timezone` option end to end: one scenario run by an office in Asia/Shanghai and by one in
America/New_York. The same posts at the same instants raise the same alerts at the same moments;
what changes is how times read — alert ids, notifier pages, the briefing and its file name — and the
days the store buckets posts into."""
from __future__ import annotations

import shutil
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import yaml

from index.sqlite.store import SQLiteStore
from index.store import PostQuery
from test_warning_sqlite import BURST, T0, synthetic_posts
from yuqing.config import load_settings
from yuqing.jobs import App

pytestmark = pytest.mark.integration
REPO = Path(__file__).resolve().parents[2]
ZONES = ("Asia/Shanghai", "America/New_York")


def office(tmp: Path, zone: str) -> App:
    for name in ("sources.yaml", "topics.yaml", "rules.yaml", "agencies.yaml"):
        shutil.copy(REPO / "configs" / name, tmp / name)
    app = yaml.safe_load((REPO / "configs" / "app.yaml").read_text(encoding="utf-8"))
    app.update(timezone=zone, data_dir=str(tmp / "var"), output_dir=str(tmp / "out"), inbox_dir=str(tmp / "inbox"),
               store={"backend": "sqlite", "sqlite": {"path": str(tmp / "var" / "yuqing.db")}})
    (tmp / "app.yaml").write_text(yaml.safe_dump(app, allow_unicode=True), encoding="utf-8")
    (tmp / "var").mkdir()
    with SQLiteStore(tmp / "var" / "yuqing.db") as store:
        assert not store.upsert_posts(synthetic_posts()).errors
    return App(load_settings(tmp / "app.yaml", base_dir=tmp))


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    out = {}
    for zone in ZONES:
        app = office(tmp_path_factory.mktemp(zone.replace("/", "_")), zone)
        changes, at = [], BURST - timedelta(hours=2)
        while at <= BURST + timedelta(hours=8):
            changes += [(at, c) for c in app.evaluate_warnings(at)]
            at += timedelta(hours=1)
        briefing = app.write_briefing(BURST + timedelta(hours=10))
        days = app.store.histogram(PostQuery(start=T0, end=T0 + timedelta(days=5)), "day")
        out[zone] = {"app": app, "changes": changes, "briefing": briefing, "days": days}
    yield out
    for run in out.values():
        run["app"].close()


def test_same_alerts_at_the_same_instants_in_both_zones(runs):
    def outline(zone):
        return sorted((at, c.alert.rule, c.kind, c.alert.level) for at, c in runs[zone]["changes"])
    shanghai, new_york = outline("Asia/Shanghai"), outline("America/New_York")
    assert shanghai and shanghai == new_york


def test_alert_ids_read_in_the_office_zone(runs):
    for zone in ZONES:
        at, change = next((at, c) for at, c in runs[zone]["changes"] if c.kind == "new")
        assert change.alert.id.endswith(at.astimezone(ZoneInfo(zone)).strftime("%Y%m%dT%H%M")), change.alert.id


def test_briefing_and_alert_pages_show_local_time(runs):
    end = BURST + timedelta(hours=10)
    for zone in ZONES:
        local = end.astimezone(ZoneInfo(zone))
        assert runs[zone]["briefing"].name == f"briefing-{local:%Y%m%d-%H%M}.html"
        first = next(c.alert for _, c in runs[zone]["changes"] if c.kind == "new")
        page = (runs[zone]["app"].output_dir / "alerts").glob("*.md")
        text = "\n".join(p.read_text("utf-8") for p in page)
        assert f"首次发现：{first.first_seen.astimezone(ZoneInfo(zone)):%Y-%m-%d %H:%M}" in text


def test_store_buckets_days_in_the_office_zone(runs):
    shanghai = runs["Asia/Shanghai"]["days"]
    new_york = runs["America/New_York"]["days"]
    assert all(b.start.tzinfo is not None and b.start.astimezone(ZoneInfo("Asia/Shanghai")).hour == 0
               for b in shanghai)
    assert all(b.start.astimezone(ZoneInfo("America/New_York")).hour == 0 for b in new_york)
    assert sum(b.total for b in shanghai) == sum(b.total for b in new_york)
    assert [b.total for b in shanghai] != [b.total for b in new_york]   # the burst splits across NY days
