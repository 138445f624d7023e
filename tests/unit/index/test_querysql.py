"""Query trees → FTS5 and SQL: the common search keeps one ranked MATCH, the rest become SQL conditions."""
from __future__ import annotations

import pytest

from index.segment import get_segmenter
from index.sqlite.fts import FtsQueryBuilder
from index.sqlite.querysql import SqlQueryCompiler
from index.sqlite.store import FIELD_COLUMNS

IN_FTS = "p.rid IN (SELECT rowid FROM posts_fts WHERE posts_fts MATCH ?)"


@pytest.fixture(scope="module")
def compiler() -> SqlQueryCompiler:
    return SqlQueryCompiler(FtsQueryBuilder(get_segmenter()), FIELD_COLUMNS)


def test_text_and_filters_anded_at_the_top_keep_the_ranked_join(compiler: SqlQueryCompiler):
    out = compiler.compile("暴雨 -内涝 platform:weibo region:3604", join=True)
    assert out.match == '("暴雨") NOT ("内涝")'
    assert out.conditions == [("p.platform = ?", ["weibo"]),
                              ("(p.province_code = ? OR p.city_code = ? OR p.district_code = ?)", ["3604"] * 3)]
    assert out.highlight == '("暴雨")' and out.surface == ["暴雨"]


def test_without_the_join_text_is_one_subquery(compiler: SqlQueryCompiler):
    out = compiler.compile("暴雨 内涝 -积水 platform:weibo", join=False)
    assert out.match is None
    [(sql, params)] = out.conditions
    assert sql == f"(({IN_FTS}) AND (p.platform = ?))"
    assert params == ['("暴雨" AND "内涝") NOT ("积水")', "weibo"]


def test_or_with_a_field_and_lone_negations_are_sql(compiler: SqlQueryCompiler):
    out = compiler.compile("platform:weibo OR 内涝 OR 积水", join=True)
    assert out.match is None
    assert out.conditions == [(f"(({IN_FTS}) OR (p.platform = ?))", ['"内涝" OR "积水"', "weibo"])]
    out = compiler.compile("-暴雨 -platform:news", join=True)
    assert out.match is None and out.highlight is None
    assert out.conditions == [(
        "((p.rid NOT IN (SELECT rowid FROM posts_fts WHERE posts_fts MATCH ?)) AND "
        "(NOT coalesce((p.platform = ?), 0)))", ['"暴雨"', "news"])]


def test_region_names_scheme_and_title(compiler: SqlQueryCompiler):
    [(sql, params)] = compiler.compile("region:九江市", join=False).conditions
    assert sql == "(p.province = ? OR p.city = ? OR p.district = ?)" and params == ["九江市"] * 3
    [(sql, params)] = compiler.compile("scheme:防汛", join=False).conditions
    assert "post_terms" in sql and "kind = 2" in sql and params == ["防汛"]
    assert compiler.compile('title:"蓝色 预警"', join=True).match == '{title} : "蓝色 预警"'


def test_user_text_stays_inside_string_literals(compiler: SqlQueryCompiler):
    out = compiler.compile('"a"" title" 暴雨\' 1=1 -- platform:"x\' OR \'1"', join=True)
    assert out.match is not None and "'" not in "".join(c for c, _ in out.conditions)
    assert out.conditions == [("p.platform = ?", ["x' OR '1"])]


def test_nothing_searchable_matches_nothing(compiler: SqlQueryCompiler):
    assert compiler.compile("。 OR -！", join=True) is None
