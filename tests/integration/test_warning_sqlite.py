"""The warning flow on the real SQLite store: a quiet baseline, then a burst of negative 环境保护 posts in
濂溪区. The alert is raised once, escalates, goes to the eco agency, survives a restart without a repeat
notification, ends after quiet; the daily briefing names it and masks personal data."""
from __future__ import annotations

import json
import random
import re
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from index.schema import DEFAULT_TZ, Alert, Author, Engagement, Post, Region, Sentiment, Topic
from index.sqlite.store import SQLiteStore
from warning.alerts import AlertChange
from warning.engine import WarningEngine
from warning.notifiers import FileNotifier, Notifier
from warning.reports import render_briefing
from warning.config import LevelDeadline
from yuqing.config import AgenciesFile, RulesFile, TopicsFile, load_model

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]
# The restart story is about episodes and their notifications; response deadlines (and their overdue
# messages, tests/unit/warning/test_lifecycle.py) are set beyond it.
AGENCIES = load_model(REPO / "configs" / "agencies.yaml", AgenciesFile).model_copy(update={"deadlines": {
    level: LevelDeadline(acknowledge="4w", resolve="4w") for level in ("蓝", "黄", "橙", "红")}})
TOPICS = load_model(REPO / "configs" / "topics.yaml", TopicsFile)
# The shipped topic rules (volume_spike, negative_share): this scenario is their raise → escalate →
# restart → end story; the other shipped rule types have their own engine tests
# (tests/unit/warning/test_event_rules.py, test_content_rules.py).
_SHIPPED = load_model(REPO / "configs" / "rules.yaml", RulesFile)
RULES = _SHIPPED.model_copy(update={"rules": [r for r in _SHIPPED.rules
                                              if r.type in ("volume_spike", "negative_share")]})

T0 = datetime(2026, 11, 15, 0, 0, tzinfo=DEFAULT_TZ)
BURST = T0 + timedelta(days=3, hours=8)          # 11-18 08:00
PHONE = "13912345678"


def region(district: str, code: str) -> Region:
    return Region(province="江西省", province_code="36", city="九江市", city_code="3604",
                  district=district, district_code=code, source="text")


LIANXI, XUNYANG, CHAISANG = region("濂溪区", "360402"), region("浔阳区", "360403"), region("柴桑区", "360404")
BACKGROUND = [  # (topic, text, keywords, region)
    ("交通运输", "浔阳区九江大道早高峰拥堵，公交晚点", ["拥堵", "公交"], XUNYANG),
    ("城乡建设", "柴桑区某小区物业停水两天无人处理", ["物业", "停水"], CHAISANG),
    ("教育文体", "九江市中小学招生政策解读", ["招生", "学校"], XUNYANG),
    ("环境保护", "濂溪区河道保洁日常巡查", ["河道", "保洁"], LIANXI),
    ("商贸旅游", "庐山景区周末游客增多", ["景区", "游客"], CHAISANG),
]


def post(n: int, at: datetime, topic: str, text: str, keywords: list[str], where: Region, sentiment: str,
         likes: int = 0) -> Post:
    return Post(id=f"weibo:{n}", platform="weibo" if n % 3 else "news", source="synthetic",
                url=f"https://example.org/post/{n}", title=text[:18], content=text, published_at=at,
                author=Author(name=f"网友{n}"), engagement=Engagement(likes=likes, reposts=likes // 2),
                keywords=keywords, sentiment=Sentiment(label=sentiment, score=0.9), polarity=Sentiment(label=sentiment, score=0.9),
                topics=[Topic(label=topic, score=0.9)], region=where, enriched_at=at)


def synthetic_posts() -> list[Post]:
    rng = random.Random(7)
    posts, n = [], 0
    at = T0
    while at < T0 + timedelta(days=5):          # background: ~one post every 40 minutes, mixed topics
        topic, text, keywords, where = rng.choice(BACKGROUND)
        posts.append(post(n, at, topic, text, keywords, where, rng.choice(["中性", "中性", "正面", "负面"])))
        n += 1
        at += timedelta(minutes=rng.randint(25, 55))
    # The incident: growing, negative, in 濂溪区; one citizen leaves a phone number.
    for i, minutes in enumerate(m for hour in range(8) for m in range(hour * 60, hour * 60 + 60, 60 // (2 + 2 * hour))):
        text = ("濂溪区化工厂偷排废水，河道大量死鱼，空气有刺鼻异味" if i % 2 else
                f"濂溪区河道死鱼发臭，怀疑化工厂排污，知情人电话{PHONE}")
        posts.append(post(n, BURST + timedelta(minutes=minutes), "环境保护", text, ["死鱼", "排污", "化工厂", "异味"],
                          LIANXI, "负面", likes=10 * i))
        n += 1
    return posts


class Recorder(Notifier):
    def __init__(self):
        super().__init__("recorder")
        self.sent: list[tuple[str, str, str]] = []

    def send(self, alert: Alert, change: AlertChange) -> None:
        self.sent.append((alert.id, change.kind, alert.level))


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    store = SQLiteStore(tmp_path_factory.mktemp("warning") / "yuqing.db")
    store.open()
    report = store.upsert_posts(synthetic_posts())
    assert not report.errors
    yield store
    store.close()


def engine(store, *notifiers) -> WarningEngine:
    return WarningEngine(store, RULES, AGENCIES, TOPICS, list(notifiers))


def step(eng: WarningEngine, first: datetime, last: datetime) -> list[tuple[datetime, AlertChange]]:
    changes, at = [], first
    while at <= last:
        changes += [(at, c) for c in eng.evaluate(at)]
        at += timedelta(hours=1)
    return changes


@pytest.fixture(scope="module")
def run(store, tmp_path_factory):
    """Hourly evaluation through the incident, a restart mid-way, and quiet afterwards."""
    out = tmp_path_factory.mktemp("alerts")
    first_process = Recorder()
    before = step(engine(store, first_process, FileNotifier(out)), T0 + timedelta(days=2), BURST + timedelta(hours=5))
    second_process = Recorder()   # restart: a new engine on the same store
    after = step(engine(store, second_process, FileNotifier(out)), BURST + timedelta(hours=6), T0 + timedelta(days=5))
    return {"before": before, "after": after, "first": first_process, "second": second_process, "out": out}


def incident_changes(changes, rule="volume_spike"):
    return [(at, c) for at, c in changes if c.alert.rule == rule and c.alert.topic == "环境保护"]


def test_quiet_baseline_raises_nothing(run):
    early = [c for at, c in run["before"] if at < BURST]
    assert early == [], [(c.alert.title, c.kind) for c in early]


def test_incident_raised_once_escalated_and_routed(store, run):
    changes = incident_changes(run["before"])
    kinds = [c.kind for _, c in changes]
    assert kinds.count("new") == 1 and "escalated" in kinds
    assert len({c.alert.id for _, c in changes}) == 1
    raised_at = next(at for at, c in changes if c.kind == "new")
    assert BURST < raised_at <= BURST + timedelta(hours=3), "flagged within hours of the burst"

    alert = store.get_alert(changes[0][1].alert.id)
    assert alert.level in ("橙", "红")
    assert alert.title == "环境保护类信息量激增（濂溪区）"
    assert (alert.agency, alert.agency_name) == ("eco_env", "九江市生态环境局")
    assert alert.region.district_code == "360402"
    assert {"死鱼", "排污"} <= set(alert.keywords)
    posts = store.get_posts(alert.post_ids)
    assert posts and all(p.topic == "环境保护" and p.sentiment_label == "负面" for p in posts)
    sent = [(kind, level) for alert_id, kind, level in run["first"].sent if alert_id == alert.id]
    assert sent[0][0] == "new" and all(kind == "escalated" for kind, _ in sent[1:]) and len(sent) >= 2
    # the negative-share rule sees the same incident and routes it the same way
    negative = incident_changes(run["before"], rule="negative_surge")
    assert negative and all(c.alert.agency == "eco_env" for _, c in negative)


def test_restart_neither_repeats_nor_loses(store, run):
    assert run["second"].sent == [], "a restarted engine must not notify again"
    alert_ids = {c.alert.id for _, c in incident_changes(run["before"])}
    after = incident_changes(run["after"])
    assert {c.alert.id for _, c in after} <= alert_ids           # same alert continued, none new
    assert [c.kind for _, c in after if c.kind not in ("updated",)] == ["ended"]


def test_episode_ends_after_quiet_and_state_is_clean(store, run):
    [(ended_at, change)] = [(at, c) for at, c in incident_changes(run["after"]) if c.kind == "ended"]
    alert = store.get_alert(change.alert.id)
    assert alert.history[-1]["event"] == "ended"
    assert ended_at - alert.last_seen >= timedelta(hours=6)
    assert "环境保护" not in json.loads(store.get_state("warning.episodes.volume_spike") or "{}")
    lines = [json.loads(line) for line in (run["out"] / "alerts.jsonl").read_text(encoding="utf-8").splitlines()]
    assert len([r for r in lines if r["change"] != "ended"]) == len(run["first"].sent)
    ended = [r["alert"] for r in lines if r["change"] == "ended"]
    assert change.alert.id in {a["id"] for a in ended} and all(a["ended_at"] for a in ended)


def test_briefing_names_the_alert_agency_chart_and_masks_phone(store, run, tmp_path):
    end = (BURST + timedelta(days=1)).replace(hour=7, minute=30)
    path = render_briefing(store, start=end - timedelta(days=1), end=end, out_dir=tmp_path,
                           office_name="九江市委网信办", agencies=AGENCIES, topics=TOPICS)
    html = path.read_text(encoding="utf-8")
    alert = store.get_alert(incident_changes(run["before"])[0][1].alert.id)
    assert alert.title in html
    assert "九江市生态环境局" in html
    assert re.search(r"<svg[^>]*>.*</svg>", html, re.S)
    assert PHONE not in html and not re.search(r"(?<!\d)1[3-9]\d{9}(?!\d)", html)
    assert "濂溪区" in html and "死鱼" in html
