"""Routing per subscriber: filters, quiet hours (held back, then sent), digests (one message per N minutes,
kept across a restart), agency-owned robots, and the configuration checks."""
from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from index.configbase import ConfigError
from index.schema import DEFAULT_TZ, Alert, Region
from warning.alerts import AlertChange
from warning.config import AgenciesFile, NotifierSettings, Subscriber
from warning.engine import WarningEngine
from warning.notifiers import Notifier, build_notifiers
from warning.notifiers.subscriber import SubscriberChannel, in_window
from warning_support import RecordingStore
from yuqing.config import RulesFile

from test_alert_state import SPIKE
from test_lifecycle import AGENCIES, TOPICS, raised

NIGHT = datetime(2026, 11, 19, 23, 0, tzinfo=DEFAULT_TZ)


class Channel(Notifier):
    def __init__(self, name="leaders"):
        super().__init__(name, "蓝")
        self.sent: list[tuple[str, str]] = []
        self.texts: list[tuple[str, list[str]]] = []

    def send(self, alert: Alert, change: AlertChange) -> None:
        self.sent.append((alert.id, change.kind))

    def send_text(self, title, lines):
        self.texts.append((title, lines))


def subscriber(**fields) -> Subscriber:
    return Subscriber.model_validate({"id": "leaders", "name": "市领导", "notifiers": ["leaders"], **fields})


def engine(store, *notifiers):
    return WarningEngine(store, RulesFile.model_validate({"rules": [SPIKE]}), AGENCIES, TOPICS, list(notifiers))


def test_filters_by_topic_region_scheme_and_level():
    channel = SubscriberChannel(subscriber(topics=["环境保护"], region_codes=["3604"], schemes=["本辖区"],
                                           min_level="橙"), Channel())
    lianxi = Region(province="江西省", city="九江市", city_code="3604", district="濂溪区", district_code="360402")
    alert = Alert(id="a", rule="r", rule_type="volume_spike", level="橙", title="t", topic="环境保护", region=lianxi,
                  schemes=["本辖区"], window_start=NIGHT, window_end=NIGHT)
    assert channel.accepts(alert)
    for change in ({"level": "黄"}, {"topic": "交通运输"}, {"schemes": []},
                   {"region": Region(province="江西省", city="南昌市", city_code="3601")}):
        assert not channel.accepts(alert.model_copy(update=change)), change


def test_quiet_hours_cross_midnight():
    assert in_window("22:00", "07:00", NIGHT, DEFAULT_TZ)
    assert in_window("22:00", "07:00", NIGHT.replace(hour=6, minute=59), DEFAULT_TZ)
    assert not in_window("22:00", "07:00", NIGHT.replace(hour=7), DEFAULT_TZ)
    assert in_window("09:00", "17:00", NIGHT.replace(hour=9), DEFAULT_TZ)


def test_quiet_hours_hold_back_lower_levels_until_morning_and_let_red_through():
    store = RecordingStore()
    leaders = Channel()
    channel = SubscriberChannel(subscriber(quiet_hours={"start": "22:00", "end": "07:00", "min_level": "红"}),
                                leaders)
    eng = engine(store, channel)
    raised(store, level="黄", aid="yellow", at=NIGHT)
    raised(store, level="红", aid="red", at=NIGHT)
    eng.evaluate(NIGHT + timedelta(minutes=1))
    assert leaders.sent == [("red", "new")]
    eng.evaluate(NIGHT + timedelta(hours=4))
    assert not [a for a, _ in leaders.sent if a == "yellow"], "still night"
    assert ("red", "overdue") in leaders.sent, "红 news gets through the night too"
    morning = NIGHT.replace(hour=7, minute=5) + timedelta(days=1)
    eng.evaluate(morning)
    eng.evaluate(morning + timedelta(minutes=10))
    kinds = [k for a, k in leaders.sent if a == "yellow"]
    assert kinds and kinds[0] in ("new", "overdue") and len(kinds) == len(set(kinds)), leaders.sent


def test_digest_sends_one_message_per_period_and_survives_a_restart():
    store = RecordingStore()
    leaders = Channel()
    channel = SubscriberChannel(subscriber(digest_minutes=30), leaders)
    raised(store, level="黄", aid="a0", at=NIGHT)
    engine(store, channel).evaluate(NIGHT)
    assert leaders.sent == [] and len(leaders.texts) == 1 and "1条" in leaders.texts[0][0]
    for i, minutes in enumerate((5, 10), 1):
        raised(store, level="黄", aid=f"a{i}", at=NIGHT + timedelta(minutes=minutes))
        engine(store, channel).evaluate(NIGHT + timedelta(minutes=minutes))
    # a restart: new channel objects over the same store
    leaders_again = Channel()
    channel_again = SubscriberChannel(subscriber(digest_minutes=30), leaders_again)
    engine(store, channel_again).evaluate(NIGHT + timedelta(minutes=20))
    assert leaders_again.texts == []
    engine(store, channel_again).evaluate(NIGHT + timedelta(minutes=31))
    [(title, lines)] = leaders_again.texts
    assert "2条" in title and [line.split("（")[-1].rstrip("）") for line in lines] == ["a1", "a2"]
    engine(store, channel_again).evaluate(NIGHT + timedelta(minutes=70))
    assert len(leaders_again.texts) == 1, "nothing new, no message"


def test_an_agencys_own_robot_carries_only_its_alerts(tmp_path, monkeypatch):
    monkeypatch.setenv("ECO_ROBOT", "http://127.0.0.1:9/robot/send?access_token=x")
    agencies = AGENCIES.model_copy(deep=True)
    agencies.agencies[0].contact.webhooks = ["eco_ding"]          # eco_env
    [robot] = build_notifiers([NotifierSettings(name="eco_ding", type="dingtalk", url_env="ECO_ROBOT")],
                              agencies=agencies, default_dir=tmp_path)
    alert = Alert(id="a", rule="r", rule_type="volume_spike", level="黄", title="t", agency="eco_env",
                  window_start=NIGHT, window_end=NIGHT)
    assert robot.accepts(alert)
    assert not robot.accepts(alert.model_copy(update={"agency": "transport"}))
    assert robot.accepts(alert.model_copy(update={"agency": "transport", "reported_to": ["eco_env"]}))


def test_subscriber_configuration_is_checked(tmp_path):
    def build(subscribers, notifiers):
        agencies = AgenciesFile.model_validate({**AGENCIES.model_dump(), "subscribers": subscribers})
        return build_notifiers([NotifierSettings.model_validate(n) for n in notifiers], agencies=agencies,
                               default_dir=tmp_path)
    webhook = {"name": "leaders", "type": "webhook", "url": "http://127.0.0.1:9/hook"}
    with pytest.raises(ConfigError, match="mark it subscribers_only"):
        build([{"id": "x", "name": "X", "notifiers": ["leaders"]}], [webhook])
    with pytest.raises(ConfigError, match="unknown notifier 'nope'"):
        build([{"id": "x", "name": "X", "notifiers": ["nope"]}], [webhook])
    with pytest.raises(ConfigError, match="name the email notifier"):
        build([{"id": "x", "name": "X", "email": ["a@b.cn"]}], [webhook])
    with pytest.raises(ValueError, match="must receive somewhere"):
        Subscriber.model_validate({"id": "x", "name": "X"})
    built = build([{"id": "x", "name": "X", "notifiers": ["leaders"]}], [{**webhook, "subscribers_only": True}])
    assert [n.name for n in built] == ["subscriber.x.leaders"], "a subscribers_only channel sends nothing on its own"


class Failing(Channel):
    def send(self, alert, change):
        raise RuntimeError("robot down")

    def send_text(self, title, lines):
        raise RuntimeError("robot down")


def test_one_failing_destination_never_makes_another_send_twice():
    store = RecordingStore()
    good, bad = Channel("good"), Failing("bad")
    sub = subscriber(notifiers=["good", "bad"])
    eng = engine(store, SubscriberChannel(sub, good), SubscriberChannel(sub, bad))
    raised(store, level="黄", aid="a0", at=NIGHT)
    for minutes in range(6):
        eng.evaluate(NIGHT + timedelta(minutes=minutes))
    assert good.sent == [("a0", "new")]


def test_a_failed_digest_waits_a_period_and_quiet_hours_hold_its_lower_items():
    store = RecordingStore()
    robot = Failing("robot")
    sub = subscriber(digest_minutes=30, quiet_hours={"start": "22:00", "end": "07:00", "min_level": "红"})
    channel = SubscriberChannel(sub, robot)
    raised(store, level="黄", aid="yellow", at=NIGHT - timedelta(hours=2))      # 21:00, before the window
    engine(store, channel).evaluate(NIGHT - timedelta(hours=2))                  # tried, failed
    attempts = []
    robot.send_text = lambda title, lines: attempts.append(lines)
    engine(store, channel).evaluate(NIGHT - timedelta(hours=2, minutes=-10))    # 21:10: waits for the retry
    assert attempts == []
    engine(store, channel).evaluate(NIGHT)                                       # 23:00: quiet, 黄 held
    assert attempts == []
    raised(store, level="红", aid="red", at=NIGHT + timedelta(minutes=5))
    engine(store, channel).evaluate(NIGHT + timedelta(minutes=5))
    assert len(attempts) == 1 and [line.endswith("（red）") for line in attempts[0]] == [True]
    engine(store, channel).evaluate(NIGHT.replace(hour=7, minute=30) + timedelta(days=1))
    assert len(attempts) == 2 and attempts[1][0].endswith("（yellow）")
