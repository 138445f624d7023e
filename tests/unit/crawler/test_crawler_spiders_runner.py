"""Spiders built from Source configs (callbacks on canned responses) and the runner's settings/report."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import scrapy
from scrapy.http import HtmlResponse, Request, TextResponse
from scrapy.spidermiddlewares.httperror import HttpError
from scrapy.utils.test import get_crawler
from twisted.python.failure import Failure

from crawler import metrics
from crawler.items import RawPost
from crawler.runner import (CrawlReport, SourceReport, build_settings, select_sources, source_custom_settings,
                            source_problems, spider_class_for_source)
from crawler.spiders import spider_for
from crawler.spiders.gov_board import GovBoardSpider
from crawler.spiders.news import NewsSpider
from crawler.spiders.rss import RssSpider
from crawler.spiders.weibo import WeiboApiSpider
from crawler.spiders.base import coerce_source, start_domains
from yuqing.config import ConfigError, Source, load_settings

REPO = Path(__file__).resolve().parents[3]


def _source(**fields) -> Source:
    base = {"name": "xyw", "type": "news", "start_urls": ["http://127.0.0.1:8000/xyw/index.html"]}
    base.update(fields)
    return Source.model_validate(base)


def _spider(cls, source: Source, **settings):
    crawler = get_crawler(cls, settings_dict=settings)
    return cls.from_crawler(crawler, source=source)


def _html(url: str, body: str) -> HtmlResponse:
    return HtmlResponse(url=url, body=body.encode("utf-8"), encoding="utf-8", request=Request(url))


LIST = """<ul class="news-list"><li><a href="/xyw/2026/1118/1.html">甲</a><span class="date">2026-11-18 09:12</span></li>
<li><a href="/xyw/2026/1118/2.html">乙</a></li><li><a href="/about.html">关于</a></li></ul>
<a class="next" href="/xyw/list_2.html">下一页</a>"""


def test_news_list_page_follows_matching_links_and_stops_at_max_pages():
    source = _source(max_pages=2, list_page={"link_selector": "ul.news-list a::attr(href)",
                                             "link_pattern": r"/\d{4}/\d{4}/\d+\.html$",
                                             "next_selector": "a.next::attr(href)"})
    spider = _spider(NewsSpider, source)
    out = list(spider.parse_list(_html("http://127.0.0.1:8000/xyw/index.html", LIST), page=1))
    urls = [r.url for r in out]
    assert urls == ["http://127.0.0.1:8000/xyw/2026/1118/1.html", "http://127.0.0.1:8000/xyw/2026/1118/2.html",
                    "http://127.0.0.1:8000/xyw/list_2.html"]
    assert all(r.errback == spider.on_error for r in out)
    assert out[0].cb_kwargs["listing"].listed_at.isoformat() == "2026-11-18T09:12:00+08:00"
    last = list(spider.parse_list(_html("http://127.0.0.1:8000/xyw/list_2.html", LIST), page=2))
    assert "http://127.0.0.1:8000/xyw/list_2.html" not in [r.url for r in last]


def test_news_article_becomes_a_raw_post():
    spider = _spider(NewsSpider, _source())
    body = ("<html><head><title>标题_晚报</title></head><body><h1>标题</h1><div class='info'>2026-11-18 09:12 作者：张三</div>"
            "<div class='content'><p>九江市今天召开新闻发布会，介绍十里河治理进展情况。</p></div></body></html>")
    (item,) = spider.parse_detail(_html("http://127.0.0.1:8000/xyw/2026/1118/1.html", body))
    assert isinstance(item, RawPost)
    assert (item.source, item.platform, item.title, item.author) == ("xyw", "news", "标题", {"name": "张三"})
    assert item.published_at.isoformat() == "2026-11-18T09:12:00+08:00"


def test_unparsable_pages_are_counted_not_raised():
    spider = _spider(NewsSpider, _source())
    assert list(spider.parse_detail(_html("http://127.0.0.1:8000/x.html", "<html><body></body></html>"))) == []
    binary = scrapy.http.Response(url="http://127.0.0.1:8000/x.pdf", body=b"%PDF", request=Request("http://x"))
    assert list(spider.parse_detail(binary)) == []
    stats = spider.crawler.stats
    assert stats.get_value(metrics.ERROR_KIND + "parse") == 1
    assert stats.get_value(metrics.ERROR_KIND + "not_text") == 1
    assert stats.get_value(metrics.ERRORS) == 2


def test_errback_classifies_http_errors_and_ignores_policy_refusals():
    spider = _spider(NewsSpider, _source())
    request = Request("http://127.0.0.1:8000/gone.html")
    response = HtmlResponse(url=request.url, status=404, body=b"", request=request)
    failure = Failure(HttpError(response))
    failure.request = request
    spider.on_error(failure)
    ignored = Failure(scrapy.exceptions.IgnoreRequest("Forbidden by robots.txt"))
    ignored.request = request
    spider.on_error(ignored)
    stats = spider.crawler.stats
    assert stats.get_value(metrics.ERROR_KIND + "http_404") == 1
    assert stats.get_value(metrics.ERRORS) == 1
    assert stats.get_value(metrics.IGNORED) == 1


def test_weibo_spider_pages_through_keywords():
    source = _source(name="wb", type="weibo_api", start_urls=["http://127.0.0.1:8000/api/weibo/search"],
                     keywords=["九江", "濂溪"], max_pages=2)
    spider = _spider(WeiboApiSpider, source)
    starts = list(spider.start_requests())
    assert [r.url for r in starts] == ["http://127.0.0.1:8000/api/weibo/search?q=%E4%B9%9D%E6%B1%9F&page=1",
                                       "http://127.0.0.1:8000/api/weibo/search?q=%E6%BF%82%E6%BA%AA&page=1"]
    data = {"ok": 1, "data": {"cardlistInfo": {"page": 2}, "cards": [{"card_type": 9, "mblog": {
        "id": "49", "text": "九江<img alt='[赞]'>", "created_at": "Wed Nov 18 09:12:00 +0800 2026",
        "user": {"id": 1, "screen_name": "u"}, "reposts_count": 3}}]}}
    response = TextResponse(url=starts[0].url, body=json.dumps(data).encode(), encoding="utf-8", request=starts[0])
    out = list(spider.parse_search(response, **starts[0].cb_kwargs))
    item, follow = out
    assert (item.native_id, item.content, item.engagement["reposts"]) == ("49", "九江[赞]", 3)
    assert item.url == "http://127.0.0.1:8000/detail/49"
    assert (item.parent_native_id, item.root_native_id) == (None, None)
    assert follow.cb_kwargs["page"] == 2
    # page 2 is max_pages: no further request even though the API offers page 3
    data["data"]["cardlistInfo"]["page"] = 3
    response2 = TextResponse(url=follow.url, body=json.dumps(data).encode(), encoding="utf-8", request=follow)
    assert [type(x) for x in spider.parse_search(response2, **follow.cb_kwargs)] == [RawPost]
    data["data"]["cards"][0]["mblog"]["retweeted_status"] = {"id": 40, "text": "原帖"}
    response3 = TextResponse(url=follow.url, body=json.dumps(data).encode(), encoding="utf-8", request=follow)
    repost = next(iter(spider.parse_search(response3, **follow.cb_kwargs)))
    assert (repost.parent_native_id, repost.root_native_id) == ("40", "40")
    walled = TextResponse(url=follow.url, body=b"<html>login</html>", encoding="utf-8", request=follow)
    assert list(spider.parse_search(walled, **follow.cb_kwargs)) == []
    assert spider.crawler.stats.get_value(metrics.ERROR_KIND + "login_wall") == 1     # a refusal, not an empty page
    bad = TextResponse(url=follow.url, body=b"<html>oops</html>", encoding="utf-8", request=follow)
    assert list(spider.parse_search(bad, **follow.cb_kwargs)) == []
    assert spider.crawler.stats.get_value(metrics.ERROR_KIND + "parse") == 1
    limited = TextResponse(url=follow.url, body='{"ok": 0, "msg": "请求过于频繁，请稍后再试"}'.encode(), encoding="utf-8",
                           request=follow)
    assert list(spider.parse_search(limited, **follow.cb_kwargs)) == []
    assert spider.crawler.stats.get_value(metrics.ERROR_KIND + "rate_limited") == 1
    end = TextResponse(url=follow.url, body='{"ok": 0, "msg": "这里还没有内容"}'.encode(), encoding="utf-8", request=follow)
    assert list(spider.parse_search(end, **follow.cb_kwargs)) == []                 # the end of the results
    assert spider.crawler.stats.get_value(metrics.ERRORS) == 3


def test_rss_spider_uses_guid_or_url():
    spider = _spider(RssSpider, _source(name="rss", type="rss", start_urls=["http://127.0.0.1:8000/rss.xml"]))
    feed = ("<rss><channel><item><title>甲</title><link>http://h/1.html</link><guid>http://h/1.html</guid>"
            "<description>正文甲</description></item><item><title>乙</title><guid>opaque-2</guid>"
            "<description>正文乙</description></item></channel></rss>")
    response = TextResponse(url="http://127.0.0.1:8000/rss.xml", body=feed.encode(), encoding="utf-8")
    follow, second = spider.parse_feed(response)
    # a summary-only entry with a link is followed to its article, the summary post riding along
    first = follow.cb_kwargs["post"]
    assert follow.url == "http://h/1.html" and follow.callback == spider.parse_article
    assert (first.native_id, first.url, first.content) == (None, "http://h/1.html", "正文甲")
    assert (second.native_id, second.url) == ("opaque-2", None)     # no link: the summary is the post


def test_gov_board_spider_takes_the_message_id():
    spider = _spider(GovBoardSpider, _source(name="wz", type="gov_board", start_urls=["http://127.0.0.1:8000/wz/list"]))
    body = "<h2 class='msg-title'>路灯坏了</h2><div class='msg-content'>小区门口路灯坏了一个月。</div>"
    (item,) = spider.parse_detail(_html("http://127.0.0.1:8000/wz/detail/20261118002", body))
    assert item.native_id == "20261118002" and item.platform == "gov_board"


def test_source_argument_forms():
    source = _source()
    assert coerce_source(source) is source
    assert coerce_source(source.model_dump()) == source
    assert coerce_source(source.model_dump_json()) == source
    with pytest.raises(ValueError, match="not JSON"):
        coerce_source("xyw")
    with pytest.raises(ValueError, match="invalid source config"):
        coerce_source({"name": "Bad Name", "type": "news", "start_urls": ["http://h/"]})
    spider = NewsSpider(source=source.model_dump_json())
    assert spider.name == "xyw" and spider.allowed_domains == ["127.0.0.1"]
    assert start_domains(["https://www.jjxw.cn/a", "https://news.jjxw.cn/b"]) == ["jjxw.cn", "news.jjxw.cn"]


def test_spider_types():
    assert spider_for("news") is NewsSpider and spider_for("forum").__mro__[1] is GovBoardSpider
    with pytest.raises(ValueError, match="unknown source type .tiktok.; built-in: forum, gov_board"):
        spider_for("tiktok")
    assert source_problems(_source(type="weibo_api")) == ["source 'xyw' (weibo_api) needs `keywords` to search for"]
    assert "unknown encoding" in source_problems(_source(encoding="klingon"))[0]


# --- runner settings and report ------------------------------------------------------------
@pytest.fixture
def settings(tmp_path):
    for name in ("topics.yaml", "rules.yaml", "agencies.yaml"):
        shutil.copy(REPO / "configs" / name, tmp_path / name)
    sources = {"sources": [
        {"name": "local", "type": "news", "start_urls": ["http://127.0.0.1:8000/"], "encoding": "gbk",
         "settings": {"DOWNLOAD_TIMEOUT": 5}},
        {"name": "remote", "type": "rss", "start_urls": ["https://www.example.com/rss.xml"]},
        {"name": "off", "type": "rss", "start_urls": ["https://www.example.com/off.xml"], "enabled": False},
    ]}
    (tmp_path / "sources.yaml").write_text(json.dumps(sources), encoding="utf-8")
    (tmp_path / "app.yaml").write_text("data_dir: var\ninbox_dir: var/in\ntimezone: Asia/Shanghai\n", encoding="utf-8")
    return load_settings(tmp_path / "app.yaml", base_dir=tmp_path)


def test_settings_layers(settings, tmp_path):
    base = build_settings(settings.crawl_context(), overrides={"DOWNLOAD_TIMEOUT": 7})
    assert base["YUQING_INBOX_DIR"] == str(tmp_path / "var" / "in")
    assert base["YUQING_STATE_PATH"] == str(tmp_path / "var" / "crawl_state.sqlite3")
    assert base.getbool("ROBOTSTXT_OBEY") and base.getbool("AUTOTHROTTLE_ENABLED")
    assert not base.getbool("TELNETCONSOLE_ENABLED")
    assert "crawler.pipelines.InboxWriterPipeline" in base.getdict("ITEM_PIPELINES")
    local = source_custom_settings(settings.source("local"), base)
    assert local == {"DOWNLOAD_DELAY": 0, "AUTOTHROTTLE_ENABLED": False, "YUQING_SOURCE_ENCODING": "gb18030",
                     "DOWNLOAD_TIMEOUT": 5}
    assert source_custom_settings(settings.source("remote"), base) == {}  # remote sites keep the polite pace
    spider_cls = spider_class_for_source(settings.source("local"), base)
    assert issubclass(spider_cls, NewsSpider) and spider_cls.custom_settings["DOWNLOAD_TIMEOUT"] == 5


def test_source_selection(settings):
    assert [s.name for s in select_sources(settings.crawl_context(), None)] == ["local", "remote"]
    assert [s.name for s in select_sources(settings.crawl_context(), ["off", "off"])] == ["off"]  # asked for by name
    with pytest.raises(ConfigError, match="no source named 'nope'"):
        select_sources(settings.crawl_context(), ["nope"])


def test_report_round_trip_and_ok():
    stats = {metrics.WRITTEN: 3, metrics.SKIPPED_SEEN: 2, metrics.ERRORS: 2, metrics.ERROR_KIND + "http_404": 1,
             metrics.ERROR_KIND + "timeout": 1, metrics.PAGES: 4, "finish_reason": "finished",
             "spider_exceptions/count": 1, "elapsed_time_seconds": 1.234}
    good = SourceReport.from_stats("xyw", "news", stats)
    assert (good.written, good.errors, good.error_kinds) == (3, 3, {"http_404": 1, "spider_exception": 1,
                                                                     "timeout": 1})
    dead = SourceReport.from_stats("dead", "news", {metrics.ERRORS: 1, "finish_reason": "finished"})
    refused = SourceReport.from_stats("robots", "news", {metrics.IGNORED: 1, "finish_reason": "finished"})
    assert not refused.ok
    report = CrawlReport(sources={"xyw": good, "dead": dead})
    assert good.ok and not dead.ok and not report.ok
    line = report.to_json()
    assert "\n" not in line
    again = CrawlReport.from_dict(json.loads(line))
    assert again.as_dict() == report.as_dict()
    assert again.written == 3 and again.errors == 4
