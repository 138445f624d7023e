"""event_burst, cross_platform and source_silent on the real Elasticsearch node.

The rules ask terms on event_id / source / platform, counts and one top hit; this runs those
aggregation paths against Elasticsearch, checks the findings on their own, and checks that the
SQLite store gives the same findings for the same posts. An engine pass checks the event title
and the routing come out of the Elasticsearch store too.
"""
from __future__ import annotations

import secrets
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path

import pytest

pytest.importorskip("elasticsearch")

from index.elasticsearch.client import ConnectionSettings  # noqa: E402
from index.elasticsearch.store import ElasticsearchStore  # noqa: E402
from index.schema import DEFAULT_TZ, AlertLevel, Author, Event, Post, Region, Sentiment, Topic  # noqa: E402
from index.sqlite.store import SQLiteStore  # noqa: E402
from tests.support.es_node import url_for_tests  # noqa: E402
from warning.engine import WarningEngine  # noqa: E402
from warning.rules import Finding, build_rules  # noqa: E402
from yuqing.config import AgenciesFile, RulesFile, TopicsFile, load_model  # noqa: E402

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]
NOW = datetime(2026, 11, 19, 10, tzinfo=DEFAULT_TZ)
LIANXI = Region(province="江西省", province_code="36", city="九江市", city_code="3604",
                district="濂溪区", district_code="360402", source="text")
RULES = [
    {"name": "burst", "type": "event_burst", "window": "1h", "min_posts": 5, "growth": 1.5,
     "levels": {"蓝": 5, "黄": 10, "橙": 20}},
    {"name": "cross", "type": "cross_platform", "window": "6h", "min_platforms": 3, "min_posts": 5,
     "levels": {"蓝": 3, "黄": 4}},
    {"name": "silent", "type": "source_silent", "window": "6h", "baseline": "2d", "min_baseline": 10},
]


def ago(hours: float) -> datetime:
    return NOW - timedelta(hours=hours)


def batch(start: datetime, end: datetime, n: int, *, event_id: str | None, platform: str = "weibo",
          source: str = "weibo_search", sentiment: str = "负面") -> list[Post]:
    step = (end - start) / n
    return [Post(id=f"{platform}:{source}-{event_id}-{start:%d%H%M}-{i}", platform=platform, source=source,
                 title="十里河大量死鱼", content=f"十里河大量死鱼，附近化工厂排污 第{i}条",
                 published_at=start + step * i, crawled_at=start + step * i, author=Author(name=f"网友{i}"),
                 sentiment=Sentiment(label=sentiment, score=0.9), polarity=Sentiment(label=sentiment, score=0.9),
                 topics=[Topic(label="环境保护", score=0.9)],
                 region=LIANXI, event_id=event_id, enriched_at=start + step * i)
            for i in range(n)]


def scenario() -> tuple[list[Post], list[Event]]:
    """十里河死鱼 bursting (4 → 12 posts an hour) on three platforms; 化工厂异味 steady on weibo;
    the board source stopped about 11 hours ago while weibo_search goes on."""
    posts = (batch(ago(2), ago(1), 3, event_id="ev:fish")
             + batch(ago(1), NOW, 12, event_id="ev:fish")
             + batch(ago(5), ago(1), 4, event_id="ev:fish", platform="gov_board", source="wenzheng", sentiment="中性")
             + batch(ago(4), ago(1), 2, event_id="ev:fish", platform="news", source="jxnews")
             + batch(ago(2), ago(1), 6, event_id="ev:odour", sentiment="中性")
             + batch(ago(1), NOW, 6, event_id="ev:odour", sentiment="中性")
             + batch(ago(40), ago(9), 16, event_id=None, platform="gov_board", source="board")
             + batch(ago(40), NOW, 20, event_id=None))
    events = [Event(id=eid, title=title, first_post_id=f"{eid}:0", first_seen=ago(40), last_seen=NOW)
              for eid, title in (("ev:fish", "九江十里河大量死鱼"), ("ev:odour", "化工厂异味"))]
    return posts, events


@pytest.fixture(scope="module")
def es_store(tmp_path_factory) -> Iterator[ElasticsearchStore]:
    es = ElasticsearchStore(ConnectionSettings(hosts=(url_for_tests(),)), index_prefix=f"yqt-{secrets.token_hex(4)}",
                            replicas=0, spool_dir=tmp_path_factory.mktemp("spool"))
    es.open()
    posts, events = scenario()
    report = es.upsert_posts(posts)
    assert not report.errors and report.spooled == 0
    es.upsert_events(events)
    yield es
    es.drop()
    es.close()


@pytest.fixture(scope="module")
def sqlite_store(tmp_path_factory) -> Iterator[SQLiteStore]:
    store = SQLiteStore(tmp_path_factory.mktemp("sqlite") / "store.db")
    store.open()
    posts, events = scenario()
    store.upsert_posts(posts)
    store.upsert_events(events)
    yield store
    store.close()


def findings(store, name: str) -> list[Finding]:
    [rule] = [r for r in build_rules(RulesFile.model_validate({"rules": RULES})) if r.name == name]
    return rule.evaluate(store, NOW)


def comparable(found: list[Finding]) -> list[tuple]:
    return [(f.group_by, f.group_key, f.level, f.value, f.metrics, f.subject, f.headline, f.summary)
            for f in sorted(found, key=lambda f: f.group_id)]


def test_event_burst_on_elasticsearch(es_store):
    [finding] = findings(es_store, "burst")                # 化工厂异味 is busy but not growing
    assert (finding.group_by, finding.group_key, finding.level) == ("event", "ev:fish", AlertLevel.yellow)
    assert finding.metrics == {"count": 12.0, "previous_count": 4.0, "growth": 2.6, "platforms": 1.0,
                               "negative_count": 12.0, "negative_share": 1.0}
    assert finding.subject == "「九江十里河大量死鱼」事件"
    assert es_store.count(finding.query) == 12


def test_cross_platform_on_elasticsearch(es_store):
    [finding] = findings(es_store, "cross")
    assert (finding.group_key, finding.level) == ("ev:fish", AlertLevel.blue)
    assert finding.metrics == {"count": 21.0, "platforms": 3.0, "negative_count": 17.0,
                               "negative_share": round(17 / 21, 3)}
    assert "微博、政务留言板、新闻网站3个平台出现" in finding.summary


def test_source_silent_on_elasticsearch(es_store):
    [finding] = findings(es_store, "silent")
    assert (finding.group_by, finding.group_key) == ("source", "board")
    assert finding.metrics == {"count": 0.0, "baseline_count": 16.0, "silent_hours": 10.9}
    assert es_store.count(finding.query) == 0


@pytest.mark.parametrize("name", ["burst", "cross", "silent"])
def test_same_findings_as_sqlite(es_store, sqlite_store, name):
    on_es, on_sqlite = findings(es_store, name), findings(sqlite_store, name)
    assert on_es and comparable(on_es) == comparable(on_sqlite)


def test_engine_titles_and_routes_event_alerts_from_elasticsearch(es_store):
    engine = WarningEngine(es_store, RulesFile.model_validate({"rules": RULES}),
                           load_model(REPO / "configs" / "agencies.yaml", AgenciesFile),
                           load_model(REPO / "configs" / "topics.yaml", TopicsFile))
    alerts = {c.alert.rule: c.alert for c in engine.evaluate(NOW)}
    assert alerts["burst"].title == "「九江十里河大量死鱼」事件热度攀升（濂溪区）"
    assert alerts["cross"].title == "「九江十里河大量死鱼」事件多平台扩散（濂溪区）"
    assert alerts["burst"].agency == alerts["cross"].agency == "eco_env"
    assert alerts["silent"].title == "采集源「board」停止更新" and alerts["silent"].agency == "cac_office"
    assert es_store.get_alert(alerts["burst"].id).peak.metrics["count"] == 12
