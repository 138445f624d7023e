"""A small office for the workbench tests: the shipped configs in a temporary folder, a real SQLite store
with posts (one hostile, one carrying personal data), an event, alerts routed to two agencies, and
accounts of each role."""
from __future__ import annotations

import shutil
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import yaml

from index.schema import Alert, Author, Event, Post, Region, Sentiment, Topic
from warning.alerts import example_of, record
from warning.lifecycle import AlertDesk

REPO = Path(__file__).resolve().parents[2]
LIANXI = Region(province="江西省", province_code="36", city="九江市", city_code="3604",
                district="濂溪区", district_code="360402", source="text")
XUNYANG = Region(province="江西省", province_code="36", city="九江市", city_code="3604",
                 district="浔阳区", district_code="360403", source="text")
XSS = '<script>alert("x")</script><img src=x onerror="alert(1)">十里河污水直排'
PHONE, ID_CARD = "13912345678", "360402199001011234"
PASSWORDS = {"hjj_web": "eco-password-1", "zjj_web": "housing-pass-1", "ana": "analyst-pass-1",
             "boss": "admin-password-1"}


@dataclass
class Office:
    config: Path
    eco_alert: str
    housing_alert: str
    event_id: str
    now: datetime


def write_office(tmp: Path, store: dict | None = None) -> Path:
    for name in ("app.yaml", "sources.yaml", "topics.yaml", "rules.yaml", "agencies.yaml"):
        shutil.copy(REPO / "configs" / name, tmp / name)
    app = yaml.safe_load((tmp / "app.yaml").read_text("utf-8"))
    app.update(data_dir=str(tmp / "var"), output_dir=str(tmp / "var/reports"), inbox_dir=str(tmp / "var/inbox"),
               store=store or {"backend": "sqlite", "sqlite": {"path": str(tmp / "var/y.db")}},
               web={"poll_seconds": 2, "max_failures": 3, "lockout_minutes": 10})
    (tmp / "app.yaml").write_text(yaml.safe_dump(app, allow_unicode=True), "utf-8")
    return tmp / "app.yaml"


def _post(i: int, text: str, at: datetime, *, region=LIANXI, polarity="负面", platform="weibo",
          event_id: str | None = "ev1", author: str = "市民") -> Post:
    return Post(id=f"{platform}:{i}", platform=platform, source="weibo_search" if platform == "weibo" else "metro_news",
                url=f"https://example.org/p/{i}", title="" if platform == "weibo" else text[:12], content=text,
                author=Author(name=author, followers=100 * i), published_at=at, enriched_at=at,
                polarity=Sentiment(label=polarity, score=0.9), sentiment=Sentiment(label=polarity, score=0.9),
                topics=[Topic(label="环境保护", score=0.9)], region=region, event_id=event_id,
                keywords=["十里河", "死鱼"])


def populate(app, now: datetime) -> Office:
    """Posts, an event and two alerts (生态环境局's and 住建局's) in the app's store; accounts of each role."""
    store = app.store
    texts = ["十里河出现大量死鱼，附近居民反映有刺鼻异味", "十里河下游又见死鱼，环保部门在哪里",
             XSS, f"联系电话 {PHONE}，身份证 {ID_CARD}，十里河死鱼举报", "濂溪区十里河水质监测结果公布",
             "浔阳区老旧小区改造进展顺利"]
    posts = [_post(i, t, now - timedelta(hours=12 - i), polarity="中性" if i >= 4 else "负面",
                   region=XUNYANG if i == 5 else LIANXI, event_id=None if i == 5 else "ev1",
                   author=f"网友{PHONE}" if i == 3 else "市民")
             for i, t in enumerate(texts)]
    posts.append(_post(9, "官方通报：十里河死鱼系上游企业偷排所致，已立案", now - timedelta(hours=2), platform="news",
                       polarity="负面", author="九江发布"))
    store.upsert_posts(posts)
    store.upsert_events([Event(id="ev1", title="十里河大量死鱼", keywords=["十里河", "死鱼"], first_post_id="weibo:0",
                               first_seen=posts[0].published_at, last_seen=posts[-1].published_at,
                               post_count=6, negative_count=4, platforms={"weibo": 5, "news": 1}, topic="环境保护",
                               region=LIANXI)])
    desk = AlertDesk(store, app.settings.agencies)

    def alert(aid: str, agency: str, title: str, level: str, post_ids: list[str]) -> str:
        a = Alert(id=aid, rule="spike", rule_type="volume_spike", level=level, title=title, topic="环境保护",
                  summary=f"{title}，近 6 小时 12 条", region=LIANXI, agency=agency,
                  agency_name={"eco_env": "九江市生态环境局", "housing": "九江市住房和城乡建设局"}[agency],
                  post_ids=post_ids, window_start=now - timedelta(hours=6), window_end=now,
                  first_seen=now - timedelta(hours=3), last_seen=now - timedelta(minutes=10),
                  examples=[example_of(p) for p in posts if p.id in post_ids])
        record(a, "raised", a.first_seen, level=level)
        desk.on_raised(a, a.first_seen)
        store.upsert_alert(a)
        return aid

    eco = alert("spike.eco.1", "eco_env", f"十里河死鱼 {XSS}", "橙", ["weibo:0", "weibo:2", "weibo:3"])
    housing = alert("spike.housing.1", "housing", "老旧小区改造投诉", "黄", ["weibo:5"])
    accounts = app.accounts
    accounts.add_user("hjj_web", "agency", PASSWORDS["hjj_web"], agency="eco_env")
    accounts.add_user("zjj_web", "agency", PASSWORDS["zjj_web"], agency="housing")
    accounts.add_user("ana", "analyst", PASSWORDS["ana"])
    accounts.add_user("boss", "admin", PASSWORDS["boss"])
    return Office(app.settings.config_path, eco, housing, "ev1", now)
