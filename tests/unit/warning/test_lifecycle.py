"""The closed loop on a real (SQLite) store: lifecycle transitions and their refusals, the audit trail,
deadlines and upward reporting in simulated time, reopening on escalation, one notification per change."""
from __future__ import annotations

from datetime import timedelta

import pytest

from index.schema import Alert
from warning.alerts import AlertChange, record
from warning.config import AgenciesFile
from warning.engine import WarningEngine
from warning.lifecycle import AlertDesk, LifecycleError, PermissionDenied, overdue_kinds, response_times
from warning.notifiers import NotificationError, Notifier
from warning_support import LIANXI, T0, RecordingStore
from yuqing.config import RulesFile, TopicsFile, load_model

from test_alert_state import REPO, SPIKE, hours, run, seed_incident

AGENCIES = load_model(REPO / "configs" / "agencies.yaml", AgenciesFile)
TOPICS = load_model(REPO / "configs" / "topics.yaml", TopicsFile)


class Recorder(Notifier):
    def __init__(self, name: str = "recorder", failures: int = 0):
        super().__init__(name, "蓝")
        self.sent: list[tuple[str, str]] = []
        self.failures = failures

    def send(self, alert: Alert, change: AlertChange) -> None:
        if self.failures:
            self.failures -= 1
            raise NotificationError("gateway down")
        self.sent.append((alert.id, change.kind))


def raised(store, level: str = "橙", agency: str = "eco_env", at=T0, aid: str = "spike.a") -> Alert:
    """An alert as the engine raises it: deadlines set, 直报 applied, stored."""
    alert = Alert(id=aid, rule="spike", rule_type="volume_spike", level=level, title="化工厂排污", topic="环境保护",
                  region=LIANXI, agency=agency, window_start=at - timedelta(hours=1), window_end=at,
                  first_seen=at, last_seen=at)
    record(alert, "raised", at, level=level)
    AlertDesk(store, AGENCIES).on_raised(alert, at)
    store.upsert_alert(alert)
    return alert


def quiet_engine(store, *notifiers) -> WarningEngine:
    """An engine whose one rule finds nothing here: evaluations only check deadlines and notify."""
    return WarningEngine(store, RulesFile.model_validate({"rules": [SPIKE]}), AGENCIES, TOPICS, list(notifiers))


@pytest.fixture
def store():
    return RecordingStore()


def test_the_whole_loop_with_its_audit_trail(store):
    desk = AlertDesk(store, AGENCIES)
    raised(store)
    steps = [("ack", "hjj_duty", {}), ("assign", "hjj_duty", {"assignee": "hjj_chen", "note": "陈工负责"}),
             ("handle", "hjj_chen", {"note": "已到现场"}), ("comment", "hjj_chen", {"note": "企业已停产"}),
             ("resolve", "hjj_chen", {"note": "排污口封堵，水质达标"})]
    before: list[dict] = []
    for i, (action, user, options) in enumerate(steps):
        alert = desk.act("spike.a", action, user, T0 + timedelta(minutes=10 * (i + 1)), **options)
        assert alert.history[:len(before)] == before, "earlier entries are never rewritten"
        before = list(alert.history)
        assert before[-1]["by"] == user and before[-1]["at"] == (T0 + timedelta(minutes=10 * (i + 1))).isoformat()
    got = store.get_alert("spike.a")
    assert got.status == "resolved" and got.assignee == "hjj_chen"
    assert got.ack_due is None and got.resolve_due is None
    assert [(e["event"], e.get("from"), e.get("to")) for e in got.history[1:]] == [
        ("acknowledged", "new", "acknowledged"), ("assigned", None, None), ("handling", "acknowledged", "handling"),
        ("commented", None, None), ("resolved", "handling", "resolved")]
    assert got.history[-1]["note"] == "排污口封堵，水质达标"
    ack, done = response_times(got)
    assert ack == timedelta(minutes=10) and done == timedelta(minutes=50)
    reopened = desk.act("spike.a", "reopen", "hjj_duty", T0 + timedelta(hours=2), note="群众反映仍有异味")
    assert reopened.status == "acknowledged" and reopened.resolve_due == T0 + timedelta(hours=26)


@pytest.mark.parametrize("action, user, options, status, message", [
    ("resolve", "hjj_duty", {}, "new", "needs a note"),
    ("false-positive", "hjj_duty", {"note": "  "}, "new", "needs a note"),
    ("reopen", "hjj_duty", {"note": "再看看"}, "new", "cannot reopen"),
    ("ack", "hjj_duty", {}, "resolved", "cannot ack"),
    ("handle", "hjj_duty", {}, "false_positive", "cannot handle"),
    ("assign", "hjj_duty", {}, "new", "needs the user"),
    ("assign", "hjj_duty", {"assignee": "jtj_duty"}, "new", "not a member"),
    ("silence", "hjj_duty", {"note": "夜间"}, "new", "time in the future"),
    ("dance", "hjj_duty", {}, "new", "unknown action"),
])
def test_refused_transitions_say_why_and_change_nothing(store, action, user, options, status, message):
    alert = raised(store).model_copy(update={"status": status})
    store.upsert_alert(alert)
    with pytest.raises(LifecycleError, match=message):
        AlertDesk(store, AGENCIES).act("spike.a", action, user, T0 + timedelta(minutes=5), **options)
    assert store.get_alert("spike.a").model_dump() == alert.model_dump()


def test_who_may_act_the_owner_the_agencies_above_the_assignee_and_admins(store):
    desk = AlertDesk(store, AGENCIES)
    raised(store)
    for user in ("jtj_duty", "wxb_duty"):            # another bureau; the duty desk is not above eco_env
        with pytest.raises(PermissionDenied, match="may not act"):
            desk.act("spike.a", "ack", user, T0)
    with pytest.raises(PermissionDenied, match="unknown user"):
        desk.act("spike.a", "ack", "mallory", T0)
    with pytest.raises(PermissionDenied, match="act as a person"):
        desk.act("spike.a", "ack", "system", T0)
    with pytest.raises(LifecycleError, match="at most 24 h"):
        desk.act("spike.a", "silence", "hjj_duty", T0, until=T0 + timedelta(days=3), note="放假")
    assert store.get_alert("spike.a").status == "new"
    assert desk.act("spike.a", "comment", "zbs_duty", T0, note="总值班室已关注").status == "new"   # the parent
    assert desk.act("spike.a", "ack", "admin", T0).status == "acknowledged"
    with pytest.raises(PermissionDenied):
        desk.get("spike.a", "jtj_duty")
    assert desk.get("spike.a", "hjj_chen").id == "spike.a"
    # a red alert reported up is visible to the parent's members by reported_to as well
    assert desk.directory.can_see("zbs_duty", store.get_alert("spike.a"))


def test_red_goes_to_the_parent_at_once_and_the_first_message_says_new(store):
    recorder = Recorder()
    alert = raised(store, level="红")
    assert alert.reported_to == ["city_gov"] and alert.history[-1]["event"] == "reported"
    assert alert.ack_due == T0 + timedelta(minutes=30) and alert.resolve_due == T0 + timedelta(hours=5)
    quiet_engine(store, recorder).evaluate(T0 + timedelta(minutes=1))
    assert recorder.sent == [("spike.a", "new")], "raised and reported at once: one message"


def test_overdue_is_reported_up_once_per_deadline_in_simulated_time(store):
    recorder = Recorder()
    raised(store, level="橙")                                  # acknowledge within 2h, resolve within 24h
    engine = quiet_engine(store, recorder)
    engine.evaluate(T0 + timedelta(minutes=1))
    assert recorder.sent == [("spike.a", "new")]
    engine.evaluate(T0 + timedelta(hours=2))                  # exactly on time is not late
    assert overdue_kinds(store.get_alert("spike.a"), T0 + timedelta(hours=2)) == []
    changes = engine.evaluate(T0 + timedelta(hours=2, minutes=10))
    assert [(c.alert.id, c.kind) for c in changes] == [("spike.a", "overdue")]
    got = store.get_alert("spike.a")
    assert got.reported_to == ["city_gov"] and got.history[-2]["event"] == "overdue"
    assert got.history[-2]["deadline"] == "acknowledge" and got.history[-2]["to"] == "city_gov"
    for minutes in (20, 30, 40):
        engine.evaluate(T0 + timedelta(hours=2, minutes=minutes))
    assert recorder.sent == [("spike.a", "new"), ("spike.a", "overdue")], "one message per change"
    AlertDesk(store, AGENCIES).act("spike.a", "ack", "hjj_duty", T0 + timedelta(hours=3))
    engine.evaluate(T0 + timedelta(hours=23))
    assert len(recorder.sent) == 2
    engine.evaluate(T0 + timedelta(hours=24, minutes=10))      # past the resolve deadline: nobody further up
    got = store.get_alert("spike.a")
    overdue = [e for e in got.history if e["event"] == "overdue"]
    assert [(e["deadline"], e["to"]) for e in overdue] == [("acknowledge", "city_gov"), ("resolve", None)]
    assert recorder.sent[-1] == ("spike.a", "overdue") and len(recorder.sent) == 3


def test_silence_holds_the_overdue_report_until_it_ends(store):
    recorder = Recorder()
    raised(store, level="橙")
    desk = AlertDesk(store, AGENCIES)
    desk.act("spike.a", "silence", "hjj_duty", T0 + timedelta(minutes=5), until=T0 + timedelta(hours=6),
             note="夜间由值班电话跟进")
    engine = quiet_engine(store, recorder)
    engine.evaluate(T0 + timedelta(hours=3))
    assert store.get_alert("spike.a").reported_to == []
    engine.evaluate(T0 + timedelta(hours=6, minutes=10))
    assert store.get_alert("spike.a").reported_to == ["city_gov"]


def test_a_restart_between_a_change_and_its_notification_sends_exactly_one(store):
    raised(store, level="橙")
    first = Recorder()
    quiet_engine(store, first).evaluate(T0)
    # the deadline check records the change, then the process dies before any notifier runs
    assert [a.id for a in AlertDesk(store, AGENCIES).sweep(T0 + timedelta(hours=3))] == ["spike.a"]
    after_restart = Recorder()
    after_restart.name = first.name
    for minutes in (1, 2, 3):
        quiet_engine(store, after_restart).evaluate(T0 + timedelta(hours=3, minutes=minutes))
    assert after_restart.sent == [("spike.a", "overdue")]


def test_a_failing_channel_retries_the_overdue_message_then_delivers_once(store):
    raised(store, level="橙")
    flaky = Recorder(failures=2)
    engine = quiet_engine(store, flaky)
    for minutes in (0, 1, 2, 3, 4):
        engine.evaluate(T0 + timedelta(minutes=minutes))
    assert flaky.sent == [("spike.a", "new")]
    failed = [e for e in store.get_alert("spike.a").history if e["event"] == "notify_failed"]
    assert len(failed) == 2


def test_a_resolved_alert_reopens_when_its_episode_escalates(store):
    desk = AlertDesk(store, AGENCIES)
    seed_incident(store)
    engine = WarningEngine(store, RulesFile.model_validate({"rules": [SPIKE]}), AGENCIES, TOPICS, [])
    first = next(c for _, c in run(engine, 48, 50) if c.kind == "new")
    level = first.alert.level
    desk.act(first.alert.id, "resolve", "hjj_duty", hours(50.5), note="已处置")
    later = [c for _, c in run(engine, 51, 60) if c.kind == "escalated"]
    assert later, "the seeded burst escalates"
    got = store.get_alert(first.alert.id)
    assert got.status == "new" and got.level != level
    reopen = next(e for e in got.history if e["event"] == "reopened")
    assert reopen["by"] == "system" and reopen["from"] == "resolved"
    assert got.ack_due is not None and got.ack_due > hours(51)


def test_directory_validation_names_the_problem():
    base = {"default_agency": "a", "agencies": [{"id": "a", "name": "A", "parent": "b"},
                                                 {"id": "b", "name": "B", "parent": "a"}]}
    with pytest.raises(ValueError, match="its own ancestor"):
        AgenciesFile.model_validate(base)
    with pytest.raises(ValueError, match="not one of the agencies"):
        AgenciesFile.model_validate({"default_agency": "a", "agencies": [{"id": "a", "name": "A", "parent": "x"}]})
    with pytest.raises(ValueError, match="missing"):
        AgenciesFile.model_validate({"default_agency": "a", "agencies": [{"id": "a", "name": "A"}],
                                     "deadlines": {"红": {"acknowledge": "30m", "resolve": "5h"}}})
    with pytest.raises(ValueError, match="resolve must not come before"):
        AgenciesFile.model_validate({"default_agency": "a", "agencies": [{"id": "a", "name": "A"}],
                                     "deadlines": {lv: {"acknowledge": "5h", "resolve": "1h"} for lv in "蓝黄橙红"}})
    with pytest.raises(ValueError, match="route: false"):
        AgenciesFile.model_validate({"default_agency": "a", "agencies": [{"id": "a", "name": "A", "route": False}]})


def test_a_never_acknowledged_alert_is_reported_for_both_deadlines(store):
    raised(store, level="橙")                                  # acknowledge 2h, resolve 24h
    engine = quiet_engine(store, Recorder())
    for hours_ in (3, 25, 26):
        engine.evaluate(T0 + timedelta(hours=hours_))
    overdue = [e["deadline"] for e in store.get_alert("spike.a").history if e["event"] == "overdue"]
    assert overdue == ["acknowledge", "resolve"]


def test_a_channel_added_later_is_not_told_of_old_alerts(store):
    raised(store, level="橙", at=T0 - timedelta(days=30), aid="old")
    quiet_engine(store, Recorder("first")).evaluate(T0 - timedelta(days=30))
    newcomer = Recorder("robot")
    raised(store, level="黄", aid="fresh", at=T0)
    quiet_engine(store, Recorder("first"), newcomer).evaluate(T0 + timedelta(minutes=1))
    assert ("fresh", "new") in newcomer.sent
    # the month-old alert's raise is not news to the newcomer; only its change of today (overdue) is
    assert [k for a, k in newcomer.sent if a == "old"] == ["overdue"]


def test_an_overdue_alert_still_firing_is_told_in_the_same_evaluation(store):
    recorder = Recorder()
    seed_incident(store)
    engine = WarningEngine(store, RulesFile.model_validate({"rules": [SPIKE]}), AGENCIES, TOPICS, [recorder])
    changes = [c for _, c in run(engine, 48, 56)]
    overdue = [c for c in changes if c.kind == "overdue"]
    assert overdue, "the burst's alert outlives its acknowledge deadline while still firing"
    assert any(k == "overdue" for _, k in recorder.sent)
