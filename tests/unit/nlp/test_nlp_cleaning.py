"""Cleaning before analysis: links and attributions go, tone (emoticon codes) stays for the models."""
import pytest

from nlp.cleaning import clean_text, drop_bracket_codes


@pytest.mark.parametrize("text,expected", [
    ("看这里 http://t.cn/A6xyz12 好", "看这里   好"),
    ("链接https://weibo.com/123?a=1，好", "链接 ，好"),
    ("访问 www.example.com/page 了解", "访问   了解"),
    ("市卫健委表示。 （来源：浔阳晚报）", "市卫健委表示。"),
    ("正文(来源:新华社)结束", "正文 结束"),
    ("第一段\n来源：九江日报", "第一段"),
    ("气死了[怒][怒]", "气死了[怒][怒]"),
    ("\u200b零宽\ufeff字符", "零宽字符"),
    ("", ""),
])
def test_clean_text(text, expected):
    assert clean_text(text) == expected


def test_source_word_inside_a_sentence_stays():
    text = "水源来源：地下水，经检测合格，请放心"
    assert "地下水" in clean_text(text)


@pytest.mark.parametrize("words,expected", [
    (["好吃", "[", "馋嘴", "]", "真的"], ["好吃", "真的"]),
    (["[", "二", "哈", "]", "[", "二哈", "]", "笑"], ["笑"]),
    (["[", "good", "]"], []),
    (["[", "这是", "一段", "很长", "的", "正文", "]"], ["[", "这是", "一段", "很长", "的", "正文", "]"]),
    (["[", "没", "有", "闭合"], ["[", "没", "有", "闭合"]),
    (["[", "]"], ["[", "]"]),
    (["]", "[", "x"], ["]", "[", "x"]),
])
def test_drop_bracket_codes(words, expected):
    assert drop_bracket_codes(words) == expected
