"""Generic article extraction on small handwritten pages."""
from __future__ import annotations

from datetime import datetime

import pytest

from crawler.extract.article import ArticleExtractor, ExtractionError, set_dotted, strip_boilerplate_lines, untable
from index.schema import DEFAULT_TZ
from yuqing.config import DetailRules

NOW = datetime(2026, 11, 24, 12, 0, tzinfo=DEFAULT_TZ)

ARTICLE = """<!DOCTYPE html><html><head><meta charset="utf-8"><title>濂溪区十里河水质异常 居民反映异味_浔阳晚报</title></head>
<body><div class="top"><span class="date">2026年11月24日 星期二</span><a href="/">首页</a></div>
<h1 class="article-title">濂溪区十里河水质异常 居民反映异味</h1>
<div class="article-info"><span class="time">2026-11-18 09:12</span> 来源：浔阳晚报 作者：张三</div>
<div class="article-content"><p>11月17日，有居民反映十里河濂溪区段河水发黑、散发异味，附近居民出行受到影响。</p>
<p>濂溪区生态环境分局表示已派人调查取样，结果将及时公布。</p></div>
<div class="related"><h3>相关新闻</h3><ul><li><a href="/a">九江市召开环保工作会议</a></li></ul></div>
<div class="footer">版权所有 浔阳晚报社 赣ICP备12345678号</div></body></html>"""


def test_realistic_article():
    page = ArticleExtractor().extract(ARTICLE, "http://127.0.0.1/xyw/2026/1118/1234.html", NOW)
    assert page.title == "濂溪区十里河水质异常 居民反映异味"
    assert page.content.startswith("11月17日，有居民反映")
    assert "版权所有" not in page.content and "相关新闻" not in page.content
    assert page.published_at == datetime(2026, 11, 18, 9, 12, tzinfo=DEFAULT_TZ)  # not the header's date
    assert page.author == "张三"
    assert page.extra["origin"] == "浔阳晚报"


def test_configured_selectors_come_first():
    rules = DetailRules(title="div.related h3::text", content="div.footer", published_at="div.top span.date::text",
                        extra={"section.name": "div.top a::text"})
    page = ArticleExtractor(rules).extract(ARTICLE, None, NOW)
    assert page.title == "相关新闻"
    assert page.content == "版权所有 浔阳晚报社 赣ICP备12345678号"
    assert page.published_at == datetime(2026, 11, 24, tzinfo=DEFAULT_TZ)
    assert page.extra["section"] == {"name": "首页"}


def test_bad_selector_names_itself():
    with pytest.raises(ValueError, match="invalid CSS selector"):
        ArticleExtractor(DetailRules(title="div[[[")).extract(ARTICLE, None, NOW)


def test_gbk_table_layout_page_after_decoding():
    html = """<html><head><meta http-equiv="Content-Type" content="text/html; charset=gbk"><title>出租车调价听证会召开-九江在线</title></head>
<body><table><tr><td>九江在线 首页 | 新闻 | 社会</td></tr><tr><td><h2>出租车调价听证会召开</h2></td></tr>
<tr><td class="info">发布时间：2026年11月18日 09:12 来源：九江在线</td></tr>
<tr><td><p>11月18日上午，九江市发展改革委召开市区出租车运价调整听证会，消费者代表参加。</p></td></tr></table></body></html>"""
    page = ArticleExtractor().extract(html.encode("gbk").decode("gb18030"), None, NOW)
    assert page.title == "出租车调价听证会召开"          # the site suffix is gone
    assert page.content.startswith("11月18日上午")      # nav, title and info rows are not body
    assert page.published_at == datetime(2026, 11, 18, 9, 12, tzinfo=DEFAULT_TZ)


def test_broken_html_still_yields_text():
    html = """<html><head><meta charset="utf-8"><title>老旧小区改造进展_浔阳晚报</title><body>
<h1>老旧小区改造进展<div class="info"><span class="time">2026-11-18 06:30
<div><p>浔阳区今年计划改造老旧小区三十个，目前已完工二十个。<p>居民表示，改造后小区环境明显改善。<table><tr><td>"""
    page = ArticleExtractor().extract(html, None, NOW)
    assert page.title == "老旧小区改造进展"
    assert "改造老旧小区三十个" in page.content
    assert page.published_at == datetime(2026, 11, 18, 6, 30, tzinfo=DEFAULT_TZ)


def test_meta_time_and_og_title():
    html = """<html><head><meta property="og:title" content="九江发布暴雨预警">
<meta property="article:published_time" content="2026-11-18T09:12:00+08:00"></head>
<body><p>九江市气象台发布暴雨黄色预警信号，请市民注意防范。</p></body></html>"""
    page = ArticleExtractor().extract(html, None, NOW)
    assert page.title == "九江发布暴雨预警"
    assert page.published_from == "meta:article:published_time"
    assert page.published_at == datetime(2026, 11, 18, 9, 12, tzinfo=DEFAULT_TZ)


def test_listing_time_when_the_page_has_none():
    html = "<html><body><h1>无时间的文章</h1><p>这是一篇页面上没有任何发布时间的文章，内容足够长。</p></body></html>"
    listed = datetime(2026, 11, 17, 20, 5, tzinfo=DEFAULT_TZ)
    page = ArticleExtractor().extract(html, None, NOW, listed_at=listed)
    assert page.published_at == listed and page.published_from == "listing"
    assert ArticleExtractor().extract(html, None, NOW).published_at is None


@pytest.mark.parametrize("html", ["", "   ", "<html><body><script>var a=1;</script></body></html>"])
def test_pages_without_text_raise(html):
    with pytest.raises(ExtractionError):
        ArticleExtractor().extract(html, None, NOW)


def test_untable_and_boilerplate_lines():
    text = "| 九江在线 首页 \\| 新闻 | \n| --- |\n| 标题 |\n| 发布时间：2026年11月18日 来源：九江在线 |\n正文第一段。"
    assert untable(text) == "九江在线 首页 | 新闻\n标题\n发布时间：2026年11月18日 来源：九江在线\n正文第一段。"
    assert strip_boilerplate_lines(untable(text), "标题") == "正文第一段。"


def test_set_dotted():
    extra: dict = {}
    set_dotted(extra, "reply.department", "城管局")
    set_dotted(extra, "reply.time", "2026-11-20")
    set_dotted(extra, "status", "已回复")
    assert extra == {"reply": {"department": "城管局", "time": "2026-11-20"}, "status": "已回复"}


def test_unclosed_title_does_not_swallow_the_page():
    html = ("<html><head><meta charset='utf-8'><title>小雨降温_浔阳晚报\n<body><h1>小雨降温</h1>"
            "<div class='article-info'><span class='time'>2026-11-19 09:20</span> 作者：陈思远</div>"
            "<div class='article-content'><p>据市气象台最新预报，本周后期我市以阴天为主，有小雨。</p></div>")
    page = ArticleExtractor(DetailRules(content="div.article-content")).extract(html, None, NOW)
    assert page.title == "小雨降温"
    assert page.content == "据市气象台最新预报，本周后期我市以阴天为主，有小雨。"
    assert page.author == "陈思远"


def test_editor_is_the_author_of_last_resort():
    html = ("<html><body><table><tr><td><h1>老年人健康体检</h1></td></tr>"
            "<tr><td class='xx'>发布时间：2026年11月16日 08:07　来源：九江在线　编辑：陈立</td></tr>"
            "<tr><td id='zoom'><p>瑞昌市各社区卫生服务中心近日开展老年人免费健康体检。</p></td></tr></table></body></html>")
    page = ArticleExtractor().extract(html, None, NOW)
    assert page.author == "陈立"
    assert page.published_at == datetime(2026, 11, 16, 8, 7, tzinfo=DEFAULT_TZ)


QUOTED = """<html><head><meta charset="utf-8"><title>狂奔的龙湖集团"暗伤"曝露？_新浪财经_新浪网</title>
<meta property="og:title" content="狂奔的龙湖集团"暗伤"曝露？">{h1_head}</head><body>{h1}
<div class="date-source"><span class="date">2019年09月09日 20:52</span> 来源：财经网</div>
<div class="article"><p>龙湖集团近日发布半年报，营收同比增长，但负债率也随之攀升，市场对其扩张速度表示担忧。</p>
<p>分析人士指出，房企在融资收紧的背景下需要更加稳健的财务策略，龙湖也不例外。</p></div></body></html>"""


@pytest.mark.parametrize("h1", ['<h1 class="main-title">狂奔的龙湖集团"暗伤"曝露？</h1>', ""])
def test_a_title_with_quotation_marks_is_not_cut_at_the_first_one(h1):
    page = ArticleExtractor().extract(QUOTED.format(h1=h1, h1_head=""), "https://finance.sina.com.cn/a.shtml")
    assert page.title == '狂奔的龙湖集团"暗伤"曝露？'
