"""The search-query language: how text reads as a tree, and what is refused with which message."""
from __future__ import annotations

import pytest

from index.querylang import And, Field, Not, Phrase, QuerySyntaxError, Term, parse, positive_text, prune, show


@pytest.mark.parametrize("text, tree", [
    ("暴雨 内涝", "AND(暴雨, 内涝)"),
    ("暴雨 AND 内涝", "AND(暴雨, 内涝)"),
    ("暴雨 OR 内涝 积水", "OR(暴雨, AND(内涝, 积水))"),              # AND binds tighter than OR
    ("NOT 暴雨 内涝", "AND(NOT(暴雨), 内涝)"),                      # NOT tighter than AND
    ("暴雨 OR NOT 内涝 AND 积水", "OR(暴雨, AND(NOT(内涝), 积水))"),
    ('-暴雨 -"九江 内涝" -(a OR b)', 'AND(NOT(暴雨), NOT("九江 内涝"), NOT(OR(a, b)))'),
    ("NOT NOT 暴雨", "NOT(NOT(暴雨))"),
    ("((a OR b) c) OR d", "OR(AND(OR(a, b), c), d)"),
    ("a (b c)", "AND(a, b, c)"),                                 # a group of the same operator is flattened
    ("（暴雨 OR 内涝） 九江", "AND(OR(暴雨, 内涝), 九江)"),            # full-width parentheses
    ('“九江 内涝”', '"九江 内涝"'),
    ('九江"蓝色预警"', 'AND(九江, "蓝色预警")'),
    ('"暴雨 OR NOT (内涝)"', '"暴雨 OR NOT (内涝)"'),             # operators inside quotes are text
    ('"九江 内涝', '"九江 内涝"'),                                 # an unclosed quote runs to the end
    ("and or not", "AND(and, or, not)"),                          # lower case: words
    ("COVID-19 a-b", "AND(COVID-19, a-b)"),                       # a minus inside a word is the word's
    ("暴雨 - 内涝", "AND(暴雨, -, 内涝)"),                           # a lone minus is text (holds nothing)
    ("platform:weibo OR 内涝", "OR(platform:weibo, 内涝)"),
    ('author:"九江 日报" Region：3604', 'AND(author:"九江 日报", region:3604)'),
    ("PLATFORM:news", "platform:news"),
    ("polarity:negative sentiment:Positive", "AND(polarity:负面, sentiment:正面)"),
    ("-platform:weibo", "NOT(platform:weibo)"),
    ("10:30 标题：暴雨", "AND(10:30, 标题：暴雨)"),                  # not an ASCII name before the colon: text
    ("event:evt-1:2", "event:evt-1:2"),                           # only the first colon separates
])
def test_reads_as(text: str, tree: str):
    node = parse(text)
    assert node is not None and show(node) == tree


def test_blank_is_no_query():
    assert parse("") is None and parse("   ") is None and parse(None) is None


def test_leaves_keep_their_positions():
    node = parse('暴雨 -"九江 内涝" title:预警')
    assert isinstance(node, And)
    term, negated, title = node.children
    assert term == Term("暴雨", 1)
    assert isinstance(negated, Not) and negated.pos == 4 and negated.child == Phrase("九江 内涝", 5)
    assert title == Field("title", "预警", 13, quoted=False)


@pytest.mark.parametrize("text, message, position", [
    ("十里河 OR", "OR at 5 needs a term after it", 5),
    ("OR 暴雨", "OR at 1 needs a term before it", 1),
    ("暴雨 AND", "AND at 4 needs a term after it", 4),
    ("暴雨 AND OR 内涝", "AND at 4 needs a term after it", 4),
    ("暴雨 OR OR 内涝", "OR at 4 needs a term after it", 4),
    ("NOT", "NOT at 1 needs a term after it", 1),
    ("暴雨 NOT", "NOT at 4 needs a term after it", 4),
    ("(暴雨 NOT)", "NOT at 5 needs a term after it", 5),
    ("(暴雨 内涝", "( at 1 is never closed", 1),
    ("暴雨 (内涝 OR (积水)", "( at 4 is never closed", 4),
    ("暴雨)", ") at 3 has no matching (", 3),
    (")", ") at 1 has no matching (", 1),
    ("暴雨 ()", "() at 4 holds no term", 4),
    ("platform:", "platform: at 1 needs a value", 1),
    ("暴雨 platform: weibo", "platform: at 4 needs a value", 4),
    ('author:""', "author: at 1 needs a value", 1),
    ("colour:red", "unknown field 'colour' at 1; fields: platform, source,", 1),
    ("暴雨 http://x.cn", "unknown field 'http' at 4", 4),
])
def test_errors_say_what_and_where(text: str, message: str, position: int):
    with pytest.raises(QuerySyntaxError) as caught:
        parse(text)
    assert str(caught.value).startswith(message)
    assert caught.value.position == position
    assert isinstance(caught.value, ValueError)


def test_unknown_field_lists_the_fields_and_how_to_keep_a_colon():
    with pytest.raises(QuerySyntaxError, match=r"title \(put text with a colon in quotes\)"):
        parse("colour:red")
    assert show(parse('"http://x.cn"')) == '"http://x.cn"'


def test_prune_drops_text_with_nothing_searchable():
    searchable = lambda s: any(c.isalnum() for c in s)   # noqa: E731 - stands in for a segmenter
    assert show(prune(parse("暴雨 。 OR ！"), searchable)) == "暴雨"
    assert show(prune(parse("暴雨 -。"), searchable)) == "暴雨"
    assert show(prune(parse("platform:weibo -。"), searchable)) == "platform:weibo"
    assert prune(parse("。 OR -！"), searchable) is None
    assert prune(None, searchable) is None


def test_positive_text_is_what_a_match_contains():
    node = parse('暴雨 -内涝 (九江 OR NOT "蓝色 预警") NOT NOT title:积水 platform:weibo')
    assert [show(leaf) for leaf in positive_text(node)] == ["暴雨", "九江", "title:积水"]
