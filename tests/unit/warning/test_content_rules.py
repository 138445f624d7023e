"""sensitive_terms and influencer on the real SQLite store: fire, stay quiet, escalate, end, validate."""
from __future__ import annotations

from datetime import timedelta

import pytest

from index.configbase import ConfigError
from index.schema import AlertLevel, Author, Engagement
from warning.rules import build_rules, validate_rules
from warning_support import T0, RecordingStore, make_post
from warning.engine import WarningEngine
from test_event_rules import AGENCIES, TOPICS
from yuqing.config import RulesFile

NOW = T0 + timedelta(days=2)
GROUPS = [{"name": "死亡伤亡", "weight": 5, "terms": ["死亡", "身亡"]},
          {"name": "环境污染", "weight": 3, "terms": ["死鱼", "偷排"]}]
TERMS = {"name": "terms", "type": "sensitive_terms", "window": "6h", "groups": GROUPS,
         "levels": {"蓝": 12, "黄": 22, "橙": 35, "红": 60}}
INFLUENCER = {"name": "vip", "type": "influencer", "window": "2h", "min_followers": 100_000,
              "levels": {"蓝": 100_000, "黄": 300_000, "红": 3_000_000}}


def build(config):
    return build_rules(RulesFile.model_validate({"rules": [config]}))[0]


def post(at, words, *, followers=100, verified=False, platform="weibo", sentiment="负面", engagement=0,
         verified_type=None, author_id=None, **kwargs):
    p = make_post(at, keywords=tuple(words), text="".join(words) + "，现场情况不明", platform=platform,
                  sentiment=sentiment, **kwargs)
    extra = {"verified_type": verified_type} if verified_type is not None else {}
    return p.model_copy(update={"author": Author(name="某网友", id=author_id or p.id, followers=followers,
                                                 verified=verified),
                                "engagement": Engagement(reposts=engagement), "extra": extra})


def test_one_credible_death_post_raises_an_alert_at_once():
    store = RecordingStore()
    store.upsert_posts([post(NOW - timedelta(minutes=20), ["工地", "工人", "死亡"], followers=800_000,
                             verified=True, platform="news", engagement=300)])
    [finding] = build(TERMS).evaluate(store, NOW)
    assert finding.group_key == "死亡伤亡" and finding.metrics["count"] == 1
    # 5 × news 2.0 × verified 2.0 × (1 + 5.9/2 + 2.48/2) ≈ 103 → 红
    assert finding.level is AlertLevel.red and finding.value == pytest.approx(finding.metrics["severity"], abs=0.01)
    assert "「死亡伤亡」类敏感信息1条" in finding.summary and "粉丝80.0万" in finding.summary
    assert finding.query.ids and store.calls["iter_posts"] == 0


def test_dead_fish_is_not_a_human_death_and_one_low_reach_mention_stays_quiet():
    store = RecordingStore()
    store.upsert_posts([post(NOW - timedelta(hours=1), ["十里河", "死鱼"], followers=50)])
    rule = build(TERMS)
    assert rule.evaluate(store, NOW) == []       # 环境污染 3 × (1 + 0.85) ≈ 5.6 < 12; no 死亡 hit
    store.upsert_posts([post(NOW - timedelta(minutes=30 + i), ["十里河", "死鱼", "偷排"], followers=6000,
                             engagement=40) for i in range(3)])
    [finding] = rule.evaluate(store, NOW)
    assert finding.group_key == "环境污染" and finding.metrics["count"] == 4 and finding.level is AlertLevel.blue


def test_a_term_inside_a_longer_word_counts_and_each_group_costs_two_queries():
    """爆炸 inside 发生爆炸 (one jieba word) is a hit, 爆米花 is not; one count per group, and one
    top-hits search per group that has posts, however many terms it lists."""
    groups = [{"name": "爆炸火灾", "weight": 4, "terms": ["爆炸", "爆燃", "火灾", "大火"]}, *GROUPS]
    store = RecordingStore()
    for i, text in enumerate(("某化工厂今天发生爆炸，现场浓烟", "新开的爆米花店排长队", "仓库起大火")):
        store.upsert_posts([make_post(NOW - timedelta(minutes=10 + i), text=text, keywords=(), platform="news")
                            .model_copy(update={"author": Author(name="九江日报", followers=900_000, verified=True)})])
    store.calls.clear()
    [finding] = build(TERMS | {"groups": groups}).evaluate(store, NOW)
    assert finding.group_key == "爆炸火灾" and finding.metrics["count"] == 2
    assert "命中词：爆炸、大火" in finding.summary and finding.metrics["terms_matched"] == 2
    assert store.calls["count"] == 3 and store.calls["search"] == 1


def test_negative_only_and_window():
    store = RecordingStore()
    store.upsert_posts([post(NOW - timedelta(hours=1), ["死亡"], followers=800_000, verified=True, sentiment="中性"),
                        post(NOW - timedelta(hours=9), ["死亡"], followers=800_000, verified=True)])
    assert build(TERMS | {"negative_only": True}).evaluate(store, NOW) == []
    assert len(build(TERMS).evaluate(store, NOW)) == 1


def test_sensitive_terms_escalate_and_end_through_the_engine():
    store = RecordingStore()
    eng = WarningEngine(store, RulesFile.model_validate({"rules": [TERMS | {"quiet_period": "2h"}]}), AGENCIES, TOPICS)
    store.upsert_posts([post(NOW - timedelta(minutes=30 + i), ["十里河", "死鱼", "偷排"], followers=6000,
                             engagement=40) for i in range(4)])
    [first] = eng.evaluate(NOW)
    assert first.kind == "new" and first.alert.level == "蓝" and first.alert.agency == "eco_env"
    assert first.alert.examples and "死鱼" in first.alert.examples[0].text
    store.upsert_posts([post(NOW + timedelta(minutes=30), ["十里河", "死鱼"], followers=300_000, verified=True,
                             platform="news", engagement=2000)])
    [second] = eng.evaluate(NOW + timedelta(hours=1))
    assert second.kind == "escalated" and AlertLevel.parse(second.alert.level).rank > AlertLevel.blue.rank
    # still inside the window (its 红 acknowledge deadline has passed: overdue is the lifecycle's, not the rule's)
    assert [c.kind for c in eng.evaluate(NOW + timedelta(hours=5)) if c.kind != "overdue"] == ["updated"]
    changes = eng.evaluate(NOW + timedelta(hours=10))
    assert [c.kind for c in changes if c.kind != "overdue"] == ["ended"]


def test_influencer_asks_the_store_for_big_accounts_not_the_most_engaged_posts():
    """Many busier ordinary posts do not hide one quiet post from a big account."""
    store = RecordingStore()
    store.upsert_posts([post(NOW - timedelta(minutes=5 + i), ["停水"], followers=200, engagement=5000)
                        for i in range(5)])
    store.upsert_posts([post(NOW - timedelta(minutes=50), ["停水"], followers=600_000, author_id="big")])
    [finding] = build(INFLUENCER | {"candidates": 2}).evaluate(store, NOW)
    assert finding.metrics["followers"] == 600_000 and finding.metrics["count"] == 1


def test_influencer_counts_big_accounts_and_media_not_verified_individuals():
    store = RecordingStore()
    store.upsert_posts([
        post(NOW - timedelta(minutes=30), ["停车", "收费"], followers=450_000, author_id="big", topic="商贸旅游"),
        post(NOW - timedelta(minutes=40), ["停车", "发票"], followers=450_000, author_id="big", topic="商贸旅游"),
        post(NOW - timedelta(minutes=20), ["诊所"], followers=9_000, verified=True, verified_type=0),
        post(NOW - timedelta(minutes=10), ["河水", "异味"], followers=20_000, verified=True, verified_type=3,
             author_id="media"),
        post(NOW - timedelta(minutes=15), ["停车"], followers=900_000, sentiment="正面"),
    ])
    findings = {f.group_key: f for f in build(INFLUENCER).evaluate(store, NOW)}
    assert set(findings) == {"weibo_big", "weibo_media"}
    assert findings["weibo_big"].metrics["count"] == 2 and findings["weibo_big"].level is AlertLevel.yellow
    assert findings["weibo_media"].level is AlertLevel.blue and "媒体账号" in findings["weibo_media"].subject
    everyone = build(INFLUENCER | {"verified_types": []}).evaluate(store, NOW)
    assert len(everyone) == 3
    scoped = build(INFLUENCER | {"filter": {"topics": ["环境保护"]}}).evaluate(store, NOW)
    assert [f.group_key for f in scoped] == ["weibo_media"]


@pytest.mark.parametrize("config, message", [
    (TERMS | {"groups": [{"name": "a", "weight": 1, "terms": ["死 亡"]}]}, "rules.0 (terms).groups.0.terms: a term must be one word"),
    (TERMS | {"groups": [{"name": "a", "weight": 0, "terms": ["死亡"]}]}, "groups.0.weight"),
    (TERMS | {"groups": GROUPS + [GROUPS[0]]}, "duplicate group names ['死亡伤亡']"),
    (TERMS | {"platform_authority": {"news": 0}}, "platform_authority.news: must be positive"),
    (INFLUENCER | {"min_followers": 0}, "min_followers"),
    (INFLUENCER | {"followers": 5}, "followers: unknown parameter"),
])
def test_invalid_content_rule_parameters_are_rejected(config, message):
    with pytest.raises(ConfigError) as info:
        validate_rules(RulesFile.model_validate({"rules": [config]}), "configs/rules.yaml")
    assert message in str(info.value) and f"rules.0 ({config['name']})" in str(info.value)
