"""Department response metrics (考核评价) from the alerts' audit trail."""
from __future__ import annotations

from datetime import timedelta

import pytest

from index.schema import DEFAULT_TZ
from warning.lifecycle import AlertDesk
from warning.reports.response import collect, period_bounds, to_csv, to_table
from warning_support import T0, RecordingStore

from test_lifecycle import AGENCIES, raised


def test_period_bounds():
    start, end = period_bounds("2026-11", DEFAULT_TZ)
    assert (start.month, end.month, start.tzinfo) == (11, 12, DEFAULT_TZ)
    assert period_bounds("2026-12")[1].year == 2027
    start, end = period_bounds("2026-11-19")
    assert end - start == timedelta(days=1)
    start, end = period_bounds("2026-W47")
    assert start.weekday() == 0 and end - start == timedelta(days=7)
    with pytest.raises(ValueError, match="use a month"):
        period_bounds("November")


def test_metrics_per_agency_from_the_audit_trail():
    store = RecordingStore()
    desk = AlertDesk(store, AGENCIES)
    # five eco_env alerts: acknowledged after 10/20/30/40 min, one never; two resolved, one false positive
    for i in range(5):
        raised(store, level="黄", aid=f"a{i}", at=T0 + timedelta(hours=i))
    for i, minutes in enumerate((10, 20, 30, 40)):
        desk.act(f"a{i}", "ack", "hjj_duty", T0 + timedelta(hours=i, minutes=minutes))
    desk.act("a0", "resolve", "hjj_duty", T0 + timedelta(hours=1), note="已处置")
    desk.act("a1", "resolve", "hjj_duty", T0 + timedelta(hours=4), note="已处置")
    desk.act("a2", "false-positive", "hjj_duty", T0 + timedelta(hours=3), note="演练信息")
    desk.act("a1", "reopen", "hjj_duty", T0 + timedelta(hours=5), note="复发")
    raised(store, level="蓝", agency="transport", aid="t0", at=T0 - timedelta(days=40))   # another period
    rows = {r.agency: r for r in collect(store, AGENCIES, *period_bounds("2026-11"), now=T0 + timedelta(hours=6))}
    eco = rows["eco_env"]
    assert (eco.received, eco.acknowledged, eco.resolved, eco.open, eco.reopened) == (5, 4, 2, 3, 1)
    assert eco.ack_median_min == 25.0 and eco.ack_p90_min == 40.0
    assert eco.resolve_median_min == 60.0          # a0 60 min, a2 (false positive) 60 min
    assert eco.false_positive_share == 0.2
    assert eco.overdue == 0                        # 黄: acknowledge in 8h; a4 is 2h old at `now`
    assert rows["transport"].received == 0 and rows["transport"].false_positive_share is None
    later = {r.agency: r for r in collect(store, AGENCIES, *period_bounds("2026-11"), now=T0 + timedelta(hours=13))}
    assert later["eco_env"].overdue == 1           # a4 is past its acknowledge deadline by then
    text = to_table(list(rows.values()))
    assert "九江市生态环境局" in text and "20%" in text
    assert to_csv(list(rows.values())).splitlines()[1].startswith("eco_env,九江市生态环境局,5,4,2,3,")
