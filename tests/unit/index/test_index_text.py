"""Segmentation, query building and highlight rendering behind the SQLite full-text search."""
from __future__ import annotations

import logging
from pathlib import Path

import pytest

from index.segment import Segmenter, get_segmenter, is_searchable, split_query
from index.highlight import highlight_text
from index.sqlite.fts import FtsQueryBuilder, fts_string, render_snippet

MARK, END, GAP = "\x02", "\x03", "\x1f"


@pytest.fixture(scope="module")
def segmenter() -> Segmenter:
    return get_segmenter()


def test_split_query_separates_phrases_and_chunks():
    q = split_query('暴雨  "九江 内涝" “蓝色预警” 积水')
    assert q.phrases == ["九江 内涝", "蓝色预警"]
    assert q.chunks == ["暴雨", "积水"]
    assert split_query('"暴雨').chunks == ["暴雨"] and split_query('"暴雨').phrases == []
    assert split_query('""  ').empty


def test_segmenter_tokens_keep_order_and_fold_whitespace(segmenter: Segmenter):
    assert segmenter.index_tokens("九江发布暴雨蓝色预警") == ["九江", "发布", "暴雨", "蓝色", "预警"]
    assert segmenter.index_tokens("hello   world\n九江") == ["hello", " ", "world", " ", "九江"]
    assert segmenter.words("暴雨，内涝！") == ["暴雨", "内涝"]


def test_segmenter_pieces_follow_jieba_search_mode(segmenter: Segmenter):
    assert segmenter.pieces("中华人民共和国") == ("中华", "华人", "人民", "共和", "共和国")
    assert segmenter.pieces("爆炸案") == ("爆炸",)
    assert segmenter.pieces("暴雨") == ()


def test_user_dictionary_is_loaded_and_a_missing_one_only_warns(tmp_path: Path, caplog):
    words = tmp_path / "places.txt"
    words.write_text("濂溪区 1000 ns\n", encoding="utf-8")
    caplog.set_level(logging.WARNING, logger="index.segment")
    seg = Segmenter([words, tmp_path / "missing.txt"])
    assert "濂溪区" in seg.tokens("濂溪区暴雨")
    assert any("not loaded" in r.getMessage() for r in caplog.records)
    assert "濂溪区" not in get_segmenter().index_tokens("濂溪区暴雨")     # private: the shared one is untouched


def test_is_searchable():
    assert is_searchable("暴雨") and is_searchable("5G") and not is_searchable("，。") and not is_searchable("_")


def test_fts_string_escapes_quotes():
    assert fts_string('say "hi"') == '"say ""hi"""'


def test_query_builder_quotes_every_word_and_ands_them(segmenter: Segmenter):
    builder = FtsQueryBuilder(segmenter)
    assert builder.build("暴雨").expression == '"暴雨"'
    expr = builder.build("暴雨 内涝").expression
    assert expr == '"暴雨" AND "内涝"'
    assert builder.build('"暴雨导致"').expression == '{title body} : "暴雨 导致"'
    chunk = builder.build("九江暴雨").expression
    assert chunk == '("九江暴雨" OR ("九江" AND "暴雨"))'
    assert builder.build("爆炸案").expression == '("爆炸案" OR ("爆炸"))'
    assert builder.build('"AND" ( * : )').expression == '{title body} : "AND"'   # quoted: text; "*", ":" hold nothing
    assert builder.build("暴雨 OR 内涝 -积水").expression == '"暴雨" OR (("内涝") NOT ("积水"))'
    assert builder.build("(暴雨 OR 内涝) 九江").expression == '("暴雨" OR "内涝") AND "九江"'
    assert builder.build("title:暴雨").expression == '{title} : "暴雨"'
    nothing = builder.build("，。！")
    assert nothing.expression is None


def test_render_snippet_joins_chinese_tokens_and_keeps_latin_spaces():
    raw = f"九江 市 {MARK}暴雨{END} 导致 内涝 ， hello {GAP} world {MARK}COVID{END} - 19"
    assert render_snippet(raw) == "九江市<em>暴雨</em>导致内涝，hello world <em>COVID</em>-19"
    assert render_snippet(f"{MARK}暴雨 蓝色{END} {MARK}预警{END}") == "<em>暴雨蓝色预警</em>"
    assert render_snippet(f"…有人 说 {MARK}<b>{END} 标签") == "…有人说<em>&lt;b&gt;</em>标签"
    assert render_snippet("没有 标记") is None


def test_highlight_text_marks_words_in_raw_text():
    text = "前文" * 50 + "化工厂爆炸案引发关注，爆炸原因正在调查" + "后文" * 50
    out = highlight_text(text, ["爆炸"], width=40)
    assert out.startswith("…") and out.endswith("…")
    assert out.count("<em>爆炸</em>") == 2
    assert highlight_text("<p>Hello</p>", ["hello"]) == "&lt;p&gt;<em>Hello</em>&lt;/p&gt;"
    assert highlight_text("无关内容", ["爆炸"]) is None
