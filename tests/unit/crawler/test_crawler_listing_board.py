"""List pages (links, row times, status, next page) and government message boards."""
from __future__ import annotations

from datetime import datetime

import pytest
from parsel import Selector

from crawler.extract.board import BoardMessageExtractor
from crawler.extract.listing import ListingRow, iter_listing, next_page_url, split_selector
from crawler.spiders.gov_board import message_id_from_url
from index.schema import DEFAULT_TZ
from yuqing.config import DetailRules, ListPageRules

NOW = datetime(2026, 11, 24, 12, 0, tzinfo=DEFAULT_TZ)
BASE = "http://127.0.0.1:8000/xyw/index.html"

NEWS_LIST = """<html><body><div class="nav"><a href="/">首页</a><a href="javascript:void(0)">登录</a></div>
<ul class="news-list">
<li><a href="/xyw/2026/1118/1234.html">十里河水质异常</a><span class="date">2026-11-18 09:12</span></li>
<li><a href="2026/1117/1200.html#top">11月17日起部分路段限行</a><span class="date">2026-11-16 18:00</span></li>
<li><a href="/xyw/2026/1118/1234.html">重复链接</a></li>
<li><a href="http://other.example.com/2026/1118/9.html">外站</a></li>
</ul><a class="next" href="/xyw/list_2.html">下一页</a></body></html>"""


def test_links_rows_and_times():
    rules = ListPageRules(link_selector="ul.news-list a::attr(href)", link_pattern=r"/\d{4}/\d{4}/\d+\.html$",
                          next_selector="a.next::attr(href)")
    rows = iter_listing(Selector(text=NEWS_LIST), BASE, rules, NOW)
    assert [r.url for r in rows] == ["http://127.0.0.1:8000/xyw/2026/1118/1234.html",
                                     "http://127.0.0.1:8000/xyw/2026/1117/1200.html",
                                     "http://other.example.com/2026/1118/9.html"]
    assert rows[0].title == "十里河水质异常"
    assert rows[0].listed_at == datetime(2026, 11, 18, 9, 12, tzinfo=DEFAULT_TZ)
    # the date in the title (11月17日) is not the listing time
    assert rows[1].listed_at == datetime(2026, 11, 16, 18, 0, tzinfo=DEFAULT_TZ)
    assert next_page_url(Selector(text=NEWS_LIST), BASE, rules) == "http://127.0.0.1:8000/xyw/list_2.html"


def test_default_selector_skips_javascript_links():
    rows = iter_listing(Selector(text=NEWS_LIST), BASE, ListPageRules())
    assert all(r.url.startswith("http") for r in rows)
    assert "http://127.0.0.1:8000/" in [r.url for r in rows]


def test_selector_forms():
    assert split_selector("ul a::attr(href)") == ("ul a", "href")
    assert split_selector("a.next") == ("a.next", "href")
    with pytest.raises(ValueError, match="selects text"):
        split_selector("a::text")
    with pytest.raises(ValueError, match="invalid CSS selector"):
        iter_listing(Selector(text=NEWS_LIST), BASE, ListPageRules(link_selector="a[[["))


BOARD_LIST = """<table class="msg-list"><tr><th>编号</th><th>标题</th></tr>
<tr><td class="no">20261118001</td><td class="title"><a href="/wz/detail/20261118001">化工厂排放异味</a></td>
<td class="status">已回复</td><td class="time">2026-11-18 09:12</td></tr></table>"""


def test_board_row_status_and_cells():
    rows = iter_listing(Selector(text=BOARD_LIST), "http://h/wz/list?page=1",
                        ListPageRules(link_selector="table.msg-list td.title a"))
    assert len(rows) == 1
    row = rows[0]
    assert row.url == "http://h/wz/detail/20261118001"
    assert row.status == "已回复"
    assert row.cells["no"] == "20261118001"
    assert row.listed_at == datetime(2026, 11, 18, 9, 12, tzinfo=DEFAULT_TZ)


def _detail(reply: str = "", when: str | None = "留言时间：2026-11-18 09:12:33") -> str:
    time_html = f'<span class="msg-time">{when}</span>' if when else ""
    return f"""<html><body><h2 class="msg-title">化工厂夜间排放异味</h2>
<div class="msg-meta"><span class="msg-author">网友：李**</span>{time_html}</div>
<div class="msg-content">每天晚上十点以后，十里河附近的化工厂排放刺鼻气体。</div>{reply}</body></html>"""


REPLY = ('<div class="reply"><span class="reply-dept">濂溪区生态环境分局</span>'
         '<span class="reply-time">答复时间：2026-11-20 15:00</span><div class="reply-content">已责令停产整改。</div></div>')


def test_board_message_with_reply_by_convention():
    page = BoardMessageExtractor().extract(_detail(REPLY), "http://h/wz/detail/1", NOW)
    assert page.title == "化工厂夜间排放异味"
    assert page.content == "每天晚上十点以后，十里河附近的化工厂排放刺鼻气体。"
    assert page.author == "李**"
    assert page.published_at == datetime(2026, 11, 18, 9, 12, 33, tzinfo=DEFAULT_TZ)  # not the reply time
    assert page.extra["reply"] == {"department": "濂溪区生态环境分局", "content": "已责令停产整改。",
                                   "time": "2026-11-20T15:00:00+08:00"}
    assert page.extra["status"] == "已回复"


def test_board_message_with_configured_selectors():
    rules = DetailRules(title="h2.msg-title::text", content="div.msg-content", author="span.msg-author::text",
                        published_at="span.msg-time::text",
                        extra={"reply.department": "span.reply-dept::text", "reply.time": "span.reply-time::text"})
    page = BoardMessageExtractor(rules).extract(_detail(REPLY), None, NOW)
    # configured parts win; what the configuration leaves out comes from the reply-block conventions
    assert page.extra["reply"] == {"department": "濂溪区生态环境分局", "time": "2026-11-20T15:00:00+08:00",
                                   "content": "已责令停产整改。"}
    assert page.published_from == "selector"


def test_board_message_without_time_or_reply():
    listing = ListingRow(url="http://h/wz/detail/2", status="办理中")
    page = BoardMessageExtractor().extract(_detail(when=None), None, NOW, listing)
    assert page.published_at is None
    assert page.extra == {"status": "办理中"}
    listed = ListingRow(url="http://h/wz/detail/2", listed_at=datetime(2026, 11, 18, tzinfo=DEFAULT_TZ))
    assert BoardMessageExtractor().extract(_detail(when=None), None, NOW, listed).published_from == "listing"


def test_reply_button_is_not_a_reply():
    page = BoardMessageExtractor().extract(_detail('<a class="reply-btn">回复</a>'), None, NOW)
    assert "reply" not in page.extra


@pytest.mark.parametrize("url, expected", [
    ("http://h/wz/detail/20261118001", "20261118001"),
    ("http://h/bbs/thread-123-1-1.html", "thread-123-1-1"),
    ("http://h/letter/show.do?letterId=88&x=1", "88"),
    ("http://h/wz/detail/", None),
    ("http://h/about.html", None),
])
def test_message_id_from_url(url, expected):
    assert message_id_from_url(url) == expected


def test_flat_reply_keys_fold_into_extra_reply_and_status_is_normalized():
    html = _detail(REPLY).replace("</h2>", '</h2><span class="msg-status">办理状态：已回复</span>')
    rules = DetailRules(extra={"status": "span.msg-status", "reply_dept": "div.reply span.reply-dept",
                               "reply_time": "div.reply span.reply-time"})
    page = BoardMessageExtractor(rules).extract(html, None, NOW)
    assert page.extra == {"status": "已回复", "reply": {"department": "濂溪区生态环境分局",
                                                     "time": "2026-11-20T15:00:00+08:00",
                                                     "content": "已责令停产整改。"}}
