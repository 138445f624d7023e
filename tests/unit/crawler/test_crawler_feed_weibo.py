"""RSS/Atom feeds and the weibo search API JSON."""
from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

import pytest

from crawler.extract.feed import FeedError, parse_feed
from crawler.extract.weibo import WeiboFormatError, parse_count, parse_search_page, weibo_text
from crawler.items import RawPost
from crawler.normalize import to_post
from crawler.spiders.weibo import search_url
from index.schema import DEFAULT_TZ

NOW = datetime(2026, 11, 24, 12, 0, tzinfo=DEFAULT_TZ)

RSS = """<?xml version="1.0" encoding="UTF-8"?>
<rss version="2.0" xmlns:content="http://purl.org/rss/1.0/modules/content/" xmlns:dc="http://purl.org/dc/elements/1.1/">
<channel><title>江西新闻</title>
<item><title>江西推进绿色发展</title><link>/jxnews/3001.html</link><guid>http://h/jxnews/3001.html</guid>
<pubDate>Wed, 18 Nov 2026 09:12:00 +0800</pubDate><dc:creator>江西日报</dc:creator>
<description>摘要</description>
<content:encoded><![CDATA[<p>全文第一段。</p><p>全文<b>第二段</b>。</p>]]></content:encoded></item>
<item><title>南昌地铁开通</title><link>http://h/jxnews/3002.html</link><guid isPermaLink="false">jx-3002</guid>
<pubDate>Tue, 17 Nov 2026 18:00:00 +0800</pubDate>
<description>&lt;p&gt;南昌地铁四号线今日开通，&lt;b&gt;全长39.6公里&lt;/b&gt;。&lt;/p&gt;</description></item>
</channel></rss>"""


def test_rss_prefers_content_encoded_and_strips_html():
    first, second = parse_feed(RSS.encode(), "http://h/rss/jx.xml", NOW)
    assert first.title == "江西推进绿色发展"
    assert first.link == "http://h/jxnews/3001.html"      # relative links resolved
    assert first.content == "全文第一段。\n全文第二段。"
    assert first.content_from == "content"
    assert first.author == "江西日报"
    assert first.published_at == datetime(2026, 11, 18, 9, 12, tzinfo=DEFAULT_TZ)
    assert second.content == "南昌地铁四号线今日开通，全长39.6公里。"
    assert second.content_from == "description"
    assert second.guid == "jx-3002"


def test_gb2312_declared_feed_with_gbk_only_characters():
    feed = ('<?xml version="1.0" encoding="gb2312"?><rss version="2.0"><channel>'
            "<item><title>镕喆桥修缮完工</title><link>http://h/1.html</link><description>镕喆桥恢复通行。</description></item>"
            "</channel></rss>")
    (entry,) = parse_feed(feed.encode("gbk"), None, NOW)
    assert entry.title == "镕喆桥修缮完工" and entry.content == "镕喆桥恢复通行。"
    assert entry.published_at is None


def test_atom():
    atom = """<?xml version="1.0" encoding="utf-8"?><feed xmlns="http://www.w3.org/2005/Atom"><title>T</title>
<entry><title>九江发布</title><link rel="alternate" href="http://h/a/1"/><id>tag:h,2026:1</id>
<published>2026-11-18T09:12:00+08:00</published><author><name>九江发布</name></author>
<summary>摘要</summary><content type="html">&lt;p&gt;全文&lt;/p&gt;</content></entry></feed>"""
    (entry,) = parse_feed(atom.encode(), None, NOW)
    assert (entry.title, entry.link, entry.guid, entry.author, entry.content) == (
        "九江发布", "http://h/a/1", "tag:h,2026:1", "九江发布", "全文")
    assert entry.published_at == datetime(2026, 11, 18, 9, 12, tzinfo=DEFAULT_TZ)


@pytest.mark.parametrize("body", [b"<html><body>not a feed</body></html>", b"{\"json\": true}", b""])
def test_not_a_feed(body):
    with pytest.raises(FeedError):
        parse_feed(body, None, NOW)


def test_external_entities_are_not_resolved(tmp_path):
    secret = tmp_path / "secret.txt"
    secret.write_text("TOPSECRET")
    feed = (f'<?xml version="1.0"?><!DOCTYPE rss [<!ENTITY x SYSTEM "file://{secret}">]>'
            "<rss><channel><item><title>t&x;</title><description>d</description></item></channel></rss>")
    entries = parse_feed(feed.encode(), None, NOW)
    assert all("TOPSECRET" not in e.title for e in entries)


def _page(cards, next_page=2, ok=1):
    return {"ok": ok, "data": {"cardlistInfo": {"page": next_page, "total": 30}, "cards": cards}}


MBLOG = {"id": "4981234567890123", "mid": "4981234567890123",
         "text": "九江<a href='/n/濂溪发布'>@濂溪发布</a> 河水又臭了<span class='url-icon'><img alt='[怒]' src='x'></span>"
                 "<a href='/search?q=%23十里河%23'>#十里河#</a><br />请处理",
         "created_at": "Wed Nov 18 09:12:00 +0800 2026", "source": "iPhone客户端", "region_name": "发布于 江西",
         "user": {"id": 123, "screen_name": "九江小王", "followers_count": "1.2万", "verified": True,
                  "verified_type": 0, "location": "江西 九江"},
         "reposts_count": 1, "comments_count": "2", "attitudes_count": "100万+", "isLongText": True}


def test_weibo_search_page():
    page = parse_search_page(_page([{"card_type": 9, "mblog": MBLOG}]), NOW)
    assert page.ok and page.next_page == 2
    (post,) = page.posts
    assert post.id == "4981234567890123"
    assert post.text == "九江@濂溪发布 河水又臭了[怒]#十里河#\n请处理"
    assert post.created_at == datetime(2026, 11, 18, 9, 12, tzinfo=DEFAULT_TZ)
    assert post.user == {"id": "123", "name": "九江小王", "followers": 12000, "verified": True, "location": "江西 九江"}
    assert (post.reposts, post.comments, post.likes) == (1, 2, 1_000_000)
    assert post.extra["ip_region"] == "江西" and post.extra["client"] == "iPhone客户端"
    assert post.extra["truncated"] is True


def test_weibo_nested_card_groups_and_last_page():
    page = parse_search_page(_page([{"card_type": 11, "card_group": [{"card_type": 9, "mblog": MBLOG}]},
                                    {"card_type": 4, "desc": "广告"}], next_page=None), NOW)
    assert len(page.posts) == 1 and page.next_page is None and page.paging_known
    end = parse_search_page({"ok": 0, "msg": "这里还没有内容", "data": {"cards": []}}, NOW)
    assert not end.ok and end.posts == [] and end.message == "这里还没有内容"


def test_weibo_relative_times_and_missing_paging():
    mblog = dict(MBLOG, created_at="3小时前")
    page = parse_search_page({"ok": 1, "data": {"cards": [{"mblog": mblog}]}}, NOW)
    assert page.posts[0].created_at == datetime(2026, 11, 24, 9, 0, tzinfo=DEFAULT_TZ)
    assert page.paging_known is False


@pytest.mark.parametrize("data", [[], {"data": {}}, "text", {"ok": 1, "data": "x"}])
def test_weibo_bad_json_shapes(data):
    with pytest.raises(WeiboFormatError):
        parse_search_page(data, NOW)


def test_weibo_roundtrip_through_json_text():
    raw = json.dumps(_page([{"card_type": 9, "mblog": MBLOG}]), ensure_ascii=False)
    assert parse_search_page(json.loads(raw), NOW).posts[0].text.startswith("九江@濂溪发布")


@pytest.mark.parametrize("value, expected", [(5, 5), ("12", 12), ("1.5万", 15000), ("3亿", 300_000_000),
                                             ("", 0), (None, 0), (-3, 0), ("很多", 0), (True, 0)])
def test_parse_count(value, expected):
    assert parse_count(value) == expected


def test_weibo_text_without_html():
    assert weibo_text("纯文本 &amp; 符号") == "纯文本 & 符号"


def test_search_url_forms():
    assert search_url("http://h/api/weibo/search", "九江", 2) == \
        "http://h/api/weibo/search?q=%E4%B9%9D%E6%B1%9F&page=2"
    template = "https://m.weibo.cn/api/container/getIndex?containerid=100103type%3D1%26q%3D{keyword}&page={page}"
    assert search_url(template, "濂溪", 3).endswith("q%3D%E6%BF%82%E6%BA%AA&page=3")


def test_weibo_reposts_name_their_parent_and_root():
    """retweeted_status is the cascade's original; pid names the repost a repost reposts."""
    data = json.loads((Path(__file__).parent / "fixtures" / "weibo_reposts.json").read_text(encoding="utf-8"))
    first, second, orphan = parse_search_page(data, NOW).posts
    assert (first.parent_id, first.root_id) == ("4981234567890123", "4981234567890123")
    assert (second.parent_id, second.root_id) == ("4981234567890201", "4981234567890123")
    assert (orphan.parent_id, orphan.root_id) == ("4981234567890999", "4981234567890999")   # deleted original
    assert first.text == "转发微博" and first.extra["retweeted_text"] == "十里河又漂满死鱼了#十里河#"
    plain = parse_search_page(_page([{"card_type": 9, "mblog": MBLOG}]), NOW).posts[0]
    assert (plain.parent_id, plain.root_id) == (None, None) and "retweeted_id" not in plain.extra


def test_repost_relations_become_post_ids():
    raw = RawPost(source="weibo_search", platform="weibo", native_id="4981234567890202", content="[心]",
                  published_at=NOW, parent_native_id="4981234567890201", root_native_id=" 4981234567890123 ")
    post = to_post(raw, NOW)
    assert (post.id, post.parent_id, post.root_id) == (
        "weibo:4981234567890202", "weibo:4981234567890201", "weibo:4981234567890123")
    original = to_post(RawPost(source="weibo_search", platform="weibo", native_id="1", content="原帖",
                               published_at=NOW, root_native_id=""), NOW)
    assert (original.parent_id, original.root_id) == (None, None)
