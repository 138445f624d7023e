"""PostQuery → query DSL: user text only ever becomes term/phrase values (no cluster needed)."""
from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import pytest

from index.elasticsearch.query import MATCH_NONE, PostQueryBuilder, es_time, field_path
from index.segment import get_segmenter
from index.store import PostQuery

SH = timezone(timedelta(hours=8))


@pytest.fixture(scope="module")
def builder() -> PostQueryBuilder:
    return PostQueryBuilder(get_segmenter())


def leaf_values(node) -> list[str]:
    """Every string a query would compare against indexed terms."""
    out: list[str] = []
    if isinstance(node, dict):
        for key, value in node.items():
            if key in ("term", "match_phrase"):
                for spec in value.values():
                    out.append(spec["query"] if isinstance(spec, dict) else spec)
            else:
                out.extend(leaf_values(value))
    elif isinstance(node, list):
        for item in node:
            out.extend(leaf_values(item))
    return out


def test_times_are_exact_utc_instants():
    assert es_time(datetime(2024, 5, 6, 1, 0, 0, 1, tzinfo=SH)) == "2024-05-05T17:00:00.000001Z"
    assert es_time(datetime(2024, 5, 6, 1, 0)) == "2024-05-05T17:00:00.000000Z"   # naive: Shanghai


def test_no_filters_match_all(builder: PostQueryBuilder):
    assert builder.build(PostQuery()) == ({"match_all": {}}, None)


def test_filters(builder: PostQueryBuilder):
    query, _ = builder.build(PostQuery(start=datetime(2024, 5, 6, tzinfo=SH), region_codes=("3604", "42"),
                                       sentiments=("负面",), enriched=False))
    filters = query["bool"]["filter"]
    assert {"range": {"published_at": {"gte": "2024-05-05T16:00:00.000000Z"}}} in filters
    assert {"terms": {"sentiment.label": ["负面"]}} in filters
    region = next(f for f in filters if "bool" in f and "should" in f["bool"])
    assert [list(c["terms"]) for c in region["bool"]["should"]] == [
        ["region.province_code"], ["region.city_code"], ["region.district_code"]]
    assert {"bool": {"must_not": [{"exists": {"field": "enriched_at"}}]}} in filters


def test_words_are_anded_and_found_inside_longer_words(builder: PostQueryBuilder):
    query, match = builder.build(PostQuery(text="暴雨 九江"), scored=True)
    clauses = query["bool"]["must"]
    assert len(clauses) == 2
    assert {"term": {"content_seg": "暴雨"}} in clauses
    assert "暴雨" in match.highlight and "九江" in match.highlight
    # a title match only adds to the score
    assert all("match_phrase" in b for b in query["bool"]["should"])


def test_quoted_phrase_is_a_phrase_on_title_or_content(builder: PostQueryBuilder):
    query, _ = builder.build(PostQuery(text='"暴雨蓝色预警"'))
    [phrase] = query["bool"]["filter"]
    fields = [next(iter(c["match_phrase"])) for c in phrase["bool"]["should"]]
    assert fields == ["title", "content"]
    assert leaf_values(phrase) == ["暴雨 蓝色 预警", "暴雨 蓝色 预警"]


@pytest.mark.parametrize("text", ["title:暴雨 OR 1=1", "NOT (暴雨*)", '{"match_all": {}}', "暴雨' --", "^暴雨~2"])
def test_query_syntax_is_plain_text(builder: PostQueryBuilder, text: str):
    query, _ = builder.build(PostQuery(text=text))
    body = json.dumps(query, ensure_ascii=False)
    assert "query_string" not in body and "simple_query_string" not in body and "match_all" not in body
    values = leaf_values(query)
    assert values and all(set(v.replace(" ", "")) <= set(text.lower()) for v in values)


def test_nothing_searchable_matches_nothing(builder: PostQueryBuilder):
    assert builder.build(PostQuery(text="。，！"))[0] is MATCH_NONE
    assert builder.build(PostQuery(text="   "))[0] == {"match_all": {}}


def test_unknown_fields_are_refused():
    assert field_path("region_code") == "region.code"
    assert field_path("tokens", allow_terms=True) == "tokens"
    with pytest.raises(ValueError, match="unknown field"):
        field_path("tokens")
    with pytest.raises(ValueError, match="unknown field"):
        field_path("title", allow_terms=True)


def test_or_not_and_fields_become_bool_clauses(builder: PostQueryBuilder):
    query, match = builder.build(PostQuery(text="(暴雨 OR 内涝) -积水 platform:weibo", platforms=("news",)),
                                 scored=True)
    body = query["bool"]
    [either] = body["must"]
    assert either == {"bool": {"should": [{"term": {"content_seg": "暴雨"}}, {"term": {"content_seg": "内涝"}}],
                               "minimum_should_match": 1}}
    assert body["must_not"] == [{"term": {"content_seg": "积水"}}]
    assert {"term": {"platform": "weibo"}} in body["filter"] and {"terms": {"platform": ["news"]}} in body["filter"]
    assert match is not None and "积水" not in match.highlight and {"暴雨", "内涝"} <= set(match.highlight)


def test_unscored_text_is_filter_context(builder: PostQueryBuilder):
    query, _ = builder.build(PostQuery(text="暴雨 OR title:预警 region:九江市"))
    [either] = query["bool"]["filter"]
    title = either["bool"]["should"][1]["bool"]["filter"]
    assert {"match_phrase": {"title": {"query": "预警"}}} in title
    assert {"bool": {"should": [{"term": {"region.province": "九江市"}}, {"term": {"region.city": "九江市"}},
                                {"term": {"region.district": "九江市"}}], "minimum_should_match": 1}} in title


def test_negations_alone_match_all_but_and_have_no_highlight(builder: PostQueryBuilder):
    query, match = builder.build(PostQuery(text="-暴雨 -region:3604"), scored=True)
    assert match is None and "must" not in query["bool"] and len(query["bool"]["must_not"]) == 2
    query, match = builder.build(PostQuery(text="platform:weibo"), scored=True)
    assert match is None and query == {"bool": {"filter": [{"term": {"platform": "weibo"}}]}}


def test_syntax_errors_reach_the_caller(builder: PostQueryBuilder):
    from index.querylang import QuerySyntaxError
    with pytest.raises(QuerySyntaxError, match="OR at 5 needs a term after it"):
        builder.build(PostQuery(text="十里河 OR"))
