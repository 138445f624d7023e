"""The alert state machine through the engine: raise once, escalate, update silently, end after quiet,
continue after a restart, and never lose an alert when a notifier fails."""
from __future__ import annotations

import json
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from index.schema import Alert
from warning.alerts import AlertChange, alert_id, has_ended, pending_notification
from warning.engine import WarningEngine
from warning.notifiers import FileNotifier, NotificationError, Notifier
from warning.rules import RULE_TYPES, Rule
from warning_support import LIANXI, NANCHANG, T0, RecordingStore, make_post, spread
from warning.config import LevelDeadline
from yuqing.config import AgenciesFile, RulesFile, TopicsFile, load_model

REPO = Path(__file__).resolve().parents[3]
# These tests follow episodes and notifications over days; response deadlines (test_lifecycle.py)
# are set beyond them so no overdue report joins in.
AGENCIES = load_model(REPO / "configs" / "agencies.yaml", AgenciesFile).model_copy(update={"deadlines": {
    level: LevelDeadline(acknowledge="4w", resolve="4w") for level in ("蓝", "黄", "橙", "红")}})
TOPICS = load_model(REPO / "configs" / "topics.yaml", TopicsFile)
SPIKE = {"name": "spike", "type": "volume_spike", "window": "6h", "baseline": "48h", "group_by": "topic",
         "min_count": 5, "levels": {"蓝": 2.0, "黄": 3.0, "橙": 5.0, "红": 8.0}}


def hours(n: float) -> datetime:
    return T0 + timedelta(hours=n)


class Recorder(Notifier):
    def __init__(self, name: str = "recorder", min_level: str = "蓝", failures: int = 0):
        super().__init__(name, min_level)
        self.sent: list[tuple[str, str, str, str | None]] = []
        self.failures = failures
        self.attempts = 0

    def send(self, alert: Alert, change: AlertChange) -> None:
        self.attempts += 1
        if self.attempts <= self.failures:
            raise NotificationError("gateway down")
        self.sent.append((alert.id, change.kind, alert.level, change.previous_level))


def engine(store, *notifiers, rules=(SPIKE,), **kwargs) -> WarningEngine:
    return WarningEngine(store, RulesFile.model_validate({"rules": list(rules)}), AGENCIES, TOPICS,
                         list(notifiers), **kwargs)


def seed_incident(store: RecordingStore, region=LIANXI, start: float = 48) -> None:
    """A quiet baseline (one post every 2h for 48h), then a burst: 8 posts, then 12 more."""
    store.upsert_posts(spread(hours(0), hours(48), 24, region=region, text="濂溪区河道日常巡查"))
    store.upsert_posts(spread(hours(start), hours(start + 3), 8, region=region, sentiment="负面",
                              text="濂溪区化工厂排污河道异味 联系电话13812345678", engagement=5))
    store.upsert_posts(spread(hours(start + 3), hours(start + 5), 12, region=region, sentiment="负面",
                              text="濂溪区河道死鱼 化工厂排污", engagement=50))


def run(eng: WarningEngine, first: float, last: float) -> list[tuple[float, AlertChange]]:
    changes = []
    h = first
    while h <= last:
        changes += [(h, c) for c in eng.evaluate(hours(h))]
        h += 1
    return changes


def kinds(changes) -> list[str]:
    return [c.kind for _, c in changes if c.kind != "updated"]


def test_raise_once_escalate_then_end_after_quiet(tmp_path):
    store = RecordingStore()
    seed_incident(store)
    recorder = Recorder()
    files = FileNotifier(tmp_path)
    changes = run(engine(store, recorder, files), 48, 80)

    assert kinds(changes) == ["new", "escalated", "escalated", "ended"]
    assert len({c.alert.id for _, c in changes}) == 1, "one situation, one alert"
    assert [(kind, level, previous) for _, kind, level, previous in recorder.sent] == [
        ("new", "蓝", None), ("escalated", "黄", "蓝"), ("escalated", "橙", "黄")]
    # hours between escalations (and after the peak) only refreshed the numbers
    assert [h for h, c in changes if c.kind == "updated"] and all(
        c.alert.level == "橙" for h, c in changes if c.kind == "updated" and h > 53)

    alert = store.get_alert(changes[0][1].alert.id)
    assert alert.level == "橙" and alert.topic == "环境保护"
    assert alert.title == "环境保护类信息量激增（濂溪区）"
    assert alert.region.district_code == "360402" and alert.region.city == "九江市"
    assert (alert.agency, alert.agency_name) == ("eco_env", "九江市生态环境局")
    assert "异味" in alert.keywords
    assert alert.post_ids and all(p.sentiment_label == "负面" for p in store.get_posts(alert.post_ids))
    # the peak stays, apart and whole; summary and numbers move on together
    assert alert.peak.level == "橙" and alert.peak.value >= 5 > alert.metrics["ratio"]
    assert alert.peak.value == alert.peak.metrics["ratio"] and "peak_ratio" not in alert.metrics
    assert f"的{alert.metrics['ratio']:.1f}倍" in alert.summary
    events = [e["event"] for e in alert.history]
    assert events == ["raised", "notified", "notified", "escalated", "notified", "notified",
                      "escalated", "notified", "notified", "ended"]
    ended_at = next(datetime.fromisoformat(e["at"]) for e in alert.history if e["event"] == "ended")
    assert ended_at - alert.last_seen >= timedelta(hours=6)
    assert has_ended(alert) and store.get_state("warning.episodes.spike") == "{}"
    assert alert.ended_at == ended_at

    # The file notifier kept a log line per notification, one for the end, and one readable page.
    log = (tmp_path / "alerts.jsonl").read_text(encoding="utf-8").splitlines()
    assert [json.loads(line)["change"] for line in log] == ["new", "escalated", "escalated", "ended"]
    page = (tmp_path / "alerts" / f"{alert.id}.md").read_text(encoding="utf-8")
    assert "环境保护类信息量激增（濂溪区）" in page and "九江市生态环境局" in page
    assert f"预警状态：已平息（{ended_at:%m-%d %H:%M}）" in page


def test_same_situation_updates_without_notifying():
    store = RecordingStore()
    seed_incident(store)
    recorder = Recorder()
    eng = engine(store, recorder)
    first = eng.evaluate(hours(53))
    again = eng.evaluate(hours(54))
    assert [c.kind for c in first] == ["new"] and [c.kind for c in again] == ["updated"]
    assert again[0].alert.id == first[0].alert.id
    assert again[0].alert.last_seen == hours(54)
    assert len(recorder.sent) == 1
    assert [e["event"] for e in again[0].alert.history] == ["raised", "notified"]


def test_later_spike_after_quiet_is_a_new_alert():
    store = RecordingStore()
    seed_incident(store)
    store.upsert_posts(spread(hours(100), hours(104), 25, region=LIANXI, sentiment="负面"))
    changes = run(engine(store), 48, 106)
    new = [c.alert for _, c in changes if c.kind == "new"]
    assert len(new) == 2 and new[0].id != new[1].id
    assert new[1].id == alert_id("spike", "环境保护", new[1].first_seen)
    assert new[1].first_seen >= hours(100)


def test_restart_continues_the_episode_without_repeating(tmp_path):
    store = RecordingStore()
    seed_incident(store)
    before = Recorder()
    run(engine(store, before), 48, 54)
    assert [k for _, k, _, _ in before.sent] == ["new", "escalated", "escalated"]

    after = Recorder()   # a new process: new engine, same store
    changes = run(engine(store, after), 55, 80)
    assert after.sent == []
    assert kinds(changes) == ["ended"]
    assert len(store.list_alerts()) == 1


def test_rerun_at_the_same_time_after_lost_episode_index_finds_the_alert():
    store = RecordingStore()
    seed_incident(store)
    recorder = Recorder()
    engine(store, recorder).evaluate(hours(53))
    store.clear_state()   # crash between writing the alert and the episode index
    changes = engine(store, recorder).evaluate(hours(53))
    assert [c.kind for c in changes] == ["updated"] and len(store.list_alerts()) == 1 and len(recorder.sent) == 1


def test_failed_notification_is_recorded_retried_and_the_alert_kept():
    store = RecordingStore()
    seed_incident(store)
    flaky = Recorder("flaky", failures=2)
    steady = Recorder("steady")
    eng = engine(store, flaky, steady)
    [change] = eng.evaluate(hours(53))            # 橙 at once
    alert = store.get_alert(change.alert.id)
    assert alert is not None and alert.level == "橙"
    assert [(e["event"], e["notifier"]) for e in alert.history[1:]] == [("notify_failed", "flaky"),
                                                                        ("notified", "steady")]
    assert "gateway down" in alert.history[1]["error"]
    eng.evaluate(hours(54))                        # retry fails again
    eng.evaluate(hours(55))                        # retry succeeds
    eng.evaluate(hours(56))                        # nothing owed any more
    assert flaky.attempts == 3 and flaky.sent == [(alert.id, "new", "橙", None)]
    assert len(steady.sent) == 1


def test_retries_stop_after_max_attempts():
    store = RecordingStore()
    seed_incident(store)
    broken = Recorder("broken", failures=100)
    eng = engine(store, broken, max_notify_attempts=2)
    for h in (53, 54, 55, 56):
        eng.evaluate(hours(h))
    assert broken.attempts == 2
    alert = store.list_alerts()[0].id
    assert pending_notification(store.get_alert(alert), "broken", max_attempts=2) is None


def test_notifier_min_level():
    store = RecordingStore()
    seed_incident(store)
    urgent = Recorder("urgent", min_level="橙")
    run(engine(store, urgent), 48, 56)
    assert [(k, level) for _, k, level, _ in urgent.sent] == [("escalated", "橙")]


def test_outside_home_region_is_graded_one_level_lower():
    store = RecordingStore()
    seed_incident(store, region=NANCHANG)
    changes = run(engine(store), 48, 56)
    alerts = {c.alert.id: c.alert for _, c in changes}
    [alert] = alerts.values()
    assert alert.level == "黄"                      # 橙 at home
    assert alert.title == "环境保护类信息量激增（东湖区）"
    assert "事发地不在本辖区，预警等级下调一级" in alert.summary
    # the 蓝 stage (hours 50-51 at home) dropped entirely; 黄 became 蓝
    first_hour, first = changes[0]
    assert (first_hour, first.kind, first.alert.level) == (52, "new", "蓝")


def test_dominant_region_falls_back_to_the_city_without_a_district_majority():
    store = RecordingStore()
    from warning_support import XUNYANG
    store.upsert_posts(spread(hours(0), hours(48), 8, topic="其他", text="九江天气晴"))
    store.upsert_posts(spread(hours(50), hours(53), 10, region=LIANXI))
    store.upsert_posts(spread(hours(50), hours(53), 10, region=XUNYANG))
    [change] = engine(store).evaluate(hours(53))
    assert change.alert.region.code == "3604" and change.alert.region.district is None
    assert change.alert.title == "环境保护类信息量激增（九江市）"


def test_a_failing_rule_does_not_stop_the_others(monkeypatch):
    class Exploding(Rule):
        type_name = "exploding"

        def evaluate(self, store, now):
            raise RuntimeError("boom")

    monkeypatch.setitem(RULE_TYPES.builtins, "exploding", Exploding)
    store = RecordingStore()
    seed_incident(store)
    changes = engine(store, rules=({"name": "bad", "type": "exploding"}, SPIKE)).evaluate(hours(53))
    assert [c.alert.rule for c in changes] == ["spike"]


def test_untouched_store_state_survives_garbage():
    store = RecordingStore()
    seed_incident(store)
    store.set_state("warning.episodes.spike", "not json")
    assert [c.kind for c in engine(store).evaluate(hours(53))] == ["new"]


def test_duplicate_notifier_names_are_rejected():
    with pytest.raises(ValueError, match="unique"):
        engine(RecordingStore(), Recorder("x"), Recorder("x"))


def test_hourly_replay_of_five_days_is_fast():
    import time
    store = RecordingStore()
    seed_incident(store)
    store.upsert_posts([make_post(hours(h), topic="交通运输", text="九江大道拥堵") for h in range(0, 120, 3)])
    eng = engine(store, rules=(SPIKE, {"name": "neg", "type": "negative_share", "window": "6h",
                                       "group_by": "topic", "min_count": 5, "levels": {"蓝": 0.5, "红": 0.9}}))
    started = time.perf_counter()
    run(eng, 24, 144)
    assert time.perf_counter() - started < 10


def test_keywords_never_carry_personal_data():
    store = RecordingStore()
    seed_incident(store)
    store.upsert_posts(spread(hours(50), hours(53), 10, region=LIANXI, sentiment="负面",
                              keywords=("13812345678", "排污", "举报")))
    [change] = engine(store).evaluate(hours(53))
    assert "排污" in change.alert.keywords
    assert not any("1381234" in word for word in change.alert.keywords)
