"""Monitoring schemes (监测方案): the word-group logic, normalisation and validation."""
from __future__ import annotations

import pytest
from pydantic import ValidationError

from index.schema import Post, Region
from nlp.schemes import SchemeDef, SchemeMatcher

WATER = {"name": "十里河水环境", "主体": ["化工厂", "排污口"], "地域": ["十里河"], "region_codes": ["360402"],
         "事件": ["死鱼", "异味", "水+发黑"], "排除": ["应急演练", "招聘"]}
SAFETY = {"name": "安全生产", "event": ["爆炸", "坍塌", "塔吊+倒"], "exclude": ["演习"]}


def matcher(*schemes: dict) -> SchemeMatcher:
    return SchemeMatcher([SchemeDef.model_validate(s) for s in schemes])


@pytest.mark.parametrize("text, codes, expected", [
    ("十里河畔化工厂附近出现大量死鱼", (), ["十里河水环境"]),         # one word of every group
    ("化工厂附近出现大量死鱼", (), []),                               # no 地域
    ("化工厂附近出现大量死鱼", ("360402",), ["十里河水环境"]),          # 地域 by the post's region code
    ("化工厂附近出现大量死鱼", ("360403",), []),                       # another district
    ("十里河出现大量死鱼", (), []),                                   # no 主体
    ("十里河化工厂今天开会", (), []),                                 # no 事件
    ("十里河化工厂旁河水发黑", (), ["十里河水环境"]),                 # "水+发黑": both, anywhere
    ("十里河化工厂附近的水很清，路面发黑", (), ["十里河水环境"]),
    ("十里河化工厂旁路面发黑", (), []),
    ("十里河化工厂开展应急演练，模拟死鱼处置", (), []),               # 排除 wins
    ("十里河化工厂爆炸，河里有死鱼", (), ["十里河水环境", "安全生产"]),  # several schemes, config order
    ("工地塔吊突然倒下", (), ["安全生产"]),
])
def test_any_of_within_a_group_all_of_across_groups_exclusions(text, codes, expected):
    assert matcher(WATER, SAFETY).match_text(text, codes) == expected


def test_text_is_compared_after_width_case_space_and_markup_normalisation():
    m = matcher({"name": "px", "subject": ["PX项目"], "event": ["抗议"]})
    assert m.match_text("ＰＸ 项目 引发抗议") == ["px"]
    assert m.match_text("px项目<script>alert(1)</script>抗议") == ["px"]
    assert m.match_text("PX<b>项目</b>抗议") == ["px"]
    assert m.match_text("项目抗议") == []


def test_a_post_is_matched_on_title_content_and_enriched_region():
    m = matcher(WATER)
    post = Post(id="weibo:1", platform="weibo", source="s", title="化工厂排污口", content="河里全是死鱼",
                published_at="2026-11-18T08:00:00+08:00",
                region=Region(city_code="3604", district_code="360402", province_code="36"))
    assert m.match(post) == ["十里河水环境"]
    assert m.match(post.model_copy(update={"region": None})) == []


def test_disabled_schemes_are_not_matched():
    m = matcher(WATER | {"enabled": False}, SAFETY)
    assert m.names == ["安全生产"] and m.match_text("十里河化工厂爆炸死鱼") == ["安全生产"]
    assert not matcher()


@pytest.mark.parametrize("scheme, message", [
    ({"name": "空", "exclude": ["广告"]}, "needs at least one word"),
    ({"name": "a", "event": ["爆炸", " "]}, r"event\.1: empty word"),
    ({"name": "a", "event": ["爆炸+"]}, "empty side of '\\+'"),
    ({"name": "a", "event": ["爆炸", "爆 炸"]}, "listed twice"),
    ({"name": "a", "event": ["爆炸"], "exclude": ["爆炸"]}, "exclude repeats"),
    ({"name": "a b", "event": ["爆炸"]}, "scheme name"),
    ({"name": "a", "region_codes": ["九江"]}, "not a region code"),
    ({"name": "a", "事件": ["爆炸"], "include_any": ["x"]}, "Extra inputs"),
])
def test_invalid_schemes_are_refused_with_the_field(scheme, message):
    with pytest.raises(ValidationError, match=message):
        SchemeDef.model_validate(scheme)
