"""The crawler against a real HTTP server on 127.0.0.1: all four source types, bad pages, re-crawls.

Each crawl runs in a child process (`python -m crawler.run`): Twisted's reactor
runs once per process, and that is also how the scheduler runs crawls.
"""
from __future__ import annotations

import json
import shutil
import subprocess
import sys
import threading
import time
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
import yaml

from yuqing.crawl_child import crawl_in_subprocess
from yuqing.config import ConfigError

REPO = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.integration


# --- the fixture "internet" -------------------------------------------------------
def _news_article(title: str, when: str, paragraphs: list[str]) -> str:
    body = "".join(f"<p>{p}</p>" for p in paragraphs)
    return f"""<!DOCTYPE html><html><head><meta charset="utf-8"><title>{title}_浔阳晚报</title></head><body>
<div class="nav"><a href="/">首页</a> <a href="/news/index.html">本地</a> <span class="date">2026年11月24日 星期二</span></div>
<h1 class="article-title">{title}</h1>
<div class="article-info"><span class="time">{when}</span> 来源：浔阳晚报 作者：张三</div>
<div class="article-content">{body}</div>
<div class="related"><h3>相关新闻</h3><ul><li><a href="/x/1.html">九江市召开安全生产工作会议</a></li></ul></div>
<div class="footer">版权所有 浔阳晚报社 赣ICP备12345678号</div></body></html>"""


NEWS_LIST_1 = """<html><head><meta charset="utf-8"><title>本地新闻</title></head><body>
<ul class="news-list">
<li><a href="/news/2026/1118/1001.html">濂溪区十里河水质异常 居民反映异味</a><span class="date">2026-11-18 09:12</span></li>
<li><a href="/news/2026/1118/1002.html">服务器出错的文章</a><span class="date">2026-11-18 08:00</span></li>
<li><a href="/news/2026/1118/1003.html">已删除的文章</a><span class="date">2026-11-18 07:00</span></li>
<li><a href="/news/2026/1118/1004.html">页面损坏的文章</a><span class="date">2026-11-18 06:30</span></li>
<li><a href="/news/2026/1118/1007.html">响应太慢的文章</a><span class="date">2026-11-18 06:00</span></li>
<li><a href="/news/hidden/2026/1118/1008.html">robots 禁止的文章</a><span class="date">2026-11-18 05:00</span></li>
<li><a href="/about.html">关于我们</a></li>
</ul><a class="next" href="/news/list_2.html">下一页</a></body></html>"""
NEWS_LIST_2 = """<html><head><meta charset="utf-8"></head><body><ul class="news-list">
<li><a href="/news/2026/1117/1005.html">九江长江大桥夜间施工 部分车道封闭</a><span class="date">2026-11-17 20:05</span></li>
<li><a href="/news/2026/1117/1006.html">乱码页面</a><span class="date">2026-11-17 19:00</span></li>
</ul><a class="next" href="/news/list_3.html">下一页</a></body></html>"""
BROKEN_ARTICLE = """<html><head><meta charset="utf-8"><title>浔阳区老旧小区改造进展_浔阳晚报</title><body>
<h1 class="article-title">浔阳区老旧小区改造进展<div class="article-info"><span class="time">2026-11-18 06:30
<div class="article-content"><p>浔阳区今年计划改造老旧小区三十个，目前已完工二十个。<p>居民表示，改造后小区环境明显改善，停车难问题有所缓解。
<table><tr><td>未闭合的表格<div><span><b>"""

GBK_LIST = """<html><head><meta http-equiv="Content-Type" content="text/html; charset=gbk"><title>九江在线</title></head>
<body><table width="100%"><tr><td class="title"><a href="/gbk/html/2026-11/18/content_2001.htm">九江市区出租车调价听证会召开</a></td>
<td>2026-11-18</td></tr><tr><td><a href="/gbk/html/2026-11/18/content_2002.htm">庐山西海景区镕喆桥修缮完工</a></td>
<td>2026-11-18</td></tr></table></body></html>"""
GBK_ARTICLE = """<html><head><meta http-equiv="Content-Type" content="text/html; charset=gbk"><title>九江市区出租车调价听证会召开-九江在线</title></head>
<body><table><tr><td class="head">九江在线 首页 | 新闻 | 社会</td></tr>
<tr><td><h2>九江市区出租车调价听证会召开</h2></td></tr>
<tr><td class="info">发布时间：2026年11月18日 09:12 来源：九江在线</td></tr>
<tr><td class="text"><p>11月18日上午，九江市发展改革委召开市区出租车运价调整听证会，消费者代表、经营者代表等参加。</p>
<p>听证会上，多名代表对起步价上调方案提出意见，认为应同时提升服务质量。</p></td></tr></table></body></html>"""
# Declared GB2312 but containing GBK-only characters (镕, 喆): must decode as GB18030.
GB2312_ARTICLE = """<html><head><meta http-equiv="Content-Type" content="text/html; charset=gb2312"></head>
<body><table><tr><td><h2>庐山西海景区镕喆桥修缮完工</h2></td></tr>
<tr><td class="info">发布时间：2026年11月18日 10:30 来源：九江在线</td></tr>
<tr><td class="text"><p>经过三个月施工，庐山西海景区内的镕喆桥修缮工程日前完工并恢复通行。</p></td></tr></table></body></html>"""

RSS_FEED = """<?xml version="1.0" encoding="UTF-8"?>
<rss version="2.0" xmlns:content="http://purl.org/rss/1.0/modules/content/"><channel>
<title>江西新闻</title><link>{base}/jxnews/</link><description>江西新闻</description>
<item><title>江西省推进长江经济带绿色发展</title><link>{base}/jxnews/3001.html</link><guid>{base}/jxnews/3001.html</guid>
<pubDate>Wed, 18 Nov 2026 09:12:00 +0800</pubDate><author>江西日报</author>
<description>摘要：绿色发展</description>
<content:encoded><![CDATA[<p>记者从省发展改革委获悉，江西省将进一步推进长江经济带绿色发展。</p><p>九江将重点治理沿江化工企业。</p>]]></content:encoded></item>
<item><title>南昌地铁四号线开通</title><link>{base}/jxnews/3002.html</link><guid isPermaLink="false">jx-3002</guid>
<pubDate>Tue, 17 Nov 2026 18:00:00 +0800</pubDate>
<description>&lt;p&gt;南昌地铁四号线今日正式开通运营，&lt;b&gt;全长39.6公里&lt;/b&gt;。&lt;/p&gt;</description></item>
</channel></rss>"""


def _mblog(mid: str, text: str, reposts: int, comments: int = 2, likes: int = 3) -> dict:
    return {"card_type": 9, "mblog": {
        "id": mid, "mid": mid, "text": text, "created_at": "Wed Nov 18 09:12:00 +0800 2026",
        "source": "iPhone客户端", "region_name": "发布于 江西",
        "user": {"id": 123, "screen_name": "九江小王", "followers_count": 1234, "verified": False,
                 "verified_type": -1, "location": "江西 九江"},
        "reposts_count": reposts, "comments_count": comments, "attitudes_count": likes, "isLongText": False}}


BOARD_LIST_1 = """<html><head><meta charset="utf-8"></head><body><table class="msg-list">
<tr><th>编号</th><th>标题</th><th>状态</th><th>时间</th></tr>
<tr><td class="no">20261118001</td><td class="title"><a href="/wz/detail/20261118001">十里河附近化工厂夜间排放异味</a></td><td class="status">已回复</td><td class="time">2026-11-18 09:12</td></tr>
<tr><td class="no">20261118002</td><td class="title"><a href="/wz/detail/20261118002">小区门口路灯坏了一个月</a></td><td class="status">{status2}</td><td class="time">2026-11-18 10:00</td></tr>
</table><a class="next" href="/wz/list?page=2">下一页</a></body></html>"""
BOARD_LIST_2 = """<html><head><meta charset="utf-8"></head><body><table class="msg-list">
<tr><td class="no">20261117009</td><td class="title"><a href="/wz/detail/20261117009">没有时间的留言</a></td><td class="status">未回复</td><td class="time"></td></tr>
</table></body></html>"""


def _board_detail(title: str, author: str, when: str | None, text: str, reply: tuple[str, str, str] | None) -> str:
    time_html = f'<span class="msg-time">留言时间：{when}</span>' if when else ""
    reply_html = ""
    if reply:
        reply_html = (f'<div class="reply"><span class="reply-dept">{reply[0]}</span>'
                      f'<span class="reply-time">答复时间：{reply[1]}</span><div class="reply-content">{reply[2]}</div></div>')
    return f"""<html><head><meta charset="utf-8"><title>问政九江</title></head><body>
<h2 class="msg-title">{title}</h2><div class="msg-meta"><span class="msg-author">网友：{author}</span>{time_html}</div>
<div class="msg-content">{text}</div>{reply_html}</body></html>"""


class FixtureSite:
    """A tiny mutable web: tests change `state` between crawls to simulate the sites moving on."""

    def __init__(self) -> None:
        self.hits: Counter[str] = Counter()
        self.state = {"weibo_reposts": 5, "board_replied": False}
        site = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # keep pytest output clean
                pass

            def do_GET(self):
                parts = urlsplit(self.path)
                site.hits[parts.path] += 1
                try:
                    status, ctype, body = site.route(parts.path, parse_qs(parts.query))
                    if status == "slow":
                        time.sleep(3)
                        status = 200
                    self.send_response(status)
                    self.send_header("Content-Type", ctype)
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the crawler gave up on a slow page

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.base = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> "FixtureSite":
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()

    def route(self, path: str, query: dict[str, list[str]]):
        html = "text/html; charset=utf-8"
        if path == "/robots.txt":
            return 200, "text/plain", b"User-agent: *\nDisallow: /news/hidden/\n"
        if path == "/news/index.html":
            return 200, html, NEWS_LIST_1.encode()
        if path == "/news/list_2.html":
            return 200, html, NEWS_LIST_2.encode()
        if path == "/news/list_3.html":  # beyond max_pages: must never be requested
            return 200, html, NEWS_LIST_2.encode()
        if path == "/news/2026/1118/1001.html":
            return 200, html, _news_article("濂溪区十里河水质异常 居民反映异味", "2026-11-18 09:12", [
                "11月17日，有居民反映十里河濂溪区段河水发黑、散发异味，附近居民出行受到影响。",
                "濂溪区生态环境分局表示已派人调查取样，结果将及时公布。"]).encode()
        if path == "/news/2026/1118/1002.html":
            return 500, html, b"<h1>500 Internal Server Error</h1>"
        if path == "/news/2026/1118/1004.html":
            return 200, html, BROKEN_ARTICLE.encode()
        if path == "/news/2026/1118/1007.html":
            return "slow", html, _news_article("响应太慢的文章", "2026-11-18 06:00", ["太慢了。"]).encode()
        if path == "/news/2026/1117/1005.html":
            return 200, html, _news_article("九江长江大桥夜间施工 部分车道封闭", "2026-11-17 20:05", [
                "为保障大桥安全，九江长江大桥将于本周夜间进行维护施工，部分车道临时封闭。"]).encode()
        if path == "/news/2026/1117/1006.html":  # bytes that are no text in any encoding
            return 200, "text/html", bytes(range(128, 256)) * 40
        if path == "/gbk/index.html":
            return 200, "text/html", GBK_LIST.encode("gbk")
        if path == "/gbk/html/2026-11/18/content_2001.htm":
            return 200, "text/html", GBK_ARTICLE.encode("gbk")
        if path == "/gbk/html/2026-11/18/content_2002.htm":
            return 200, "text/html", GB2312_ARTICLE.encode("gbk")
        if path == "/rss/jxnews.xml":
            return 200, "application/rss+xml", RSS_FEED.format(base=self.base).encode()
        if path == "/api/weibo/search":
            return self.weibo(query.get("q", [""])[0], int(query.get("page", ["1"])[0]))
        if path == "/wz/list":
            page = query.get("page", ["1"])[0]
            if page == "1":
                status2 = "已回复" if self.state["board_replied"] else "办理中"
                return 200, html, BOARD_LIST_1.format(status2=status2).encode()
            return 200, html, BOARD_LIST_2.encode()
        if path == "/wz/detail/20261118001":
            return 200, html, _board_detail(
                "十里河附近化工厂夜间排放异味", "李**", "2026-11-18 09:12:33",
                "每天晚上十点以后，十里河附近的化工厂排放刺鼻气体，联系电话13912345678。",
                ("濂溪区生态环境分局", "2026-11-20 15:00", "经现场核查，该企业已停产整改。")).encode()
        if path == "/wz/detail/20261118002":
            reply = (("濂溪区城管局", "2026-11-21 10:00", "路灯已于11月21日修复。")
                     if self.state["board_replied"] else None)
            return 200, html, _board_detail("小区门口路灯坏了一个月", "王**", "2026-11-18 10:00:00",
                                            "莲花镇某小区门口路灯坏了一个月，晚上出行不便。", reply).encode()
        if path == "/wz/detail/20261117009":
            return 200, html, _board_detail("没有时间的留言", "赵**", None, "这条留言页面上没有留言时间。", None).encode()
        return 404, html, b"<h1>404 Not Found</h1>"

    def weibo(self, keyword: str, page: int):
        if keyword == "登录墙":          # an expired cookie: m.weibo.cn answers ok 0 and asks to log in
            return 200, "application/json", json.dumps({"ok": 0, "msg": "请先登录", "url": "https://passport.weibo.cn/signin"},
                                                       ensure_ascii=False).encode()
        if keyword == "验证码":          # too many requests: a verification page instead of JSON
            return 200, "text/html; charset=utf-8", "<html><body>请输入验证码以继续访问</body></html>".encode()
        posts = {
            "九江": [[_mblog("4981000000000001", "九江<a href='/n/濂溪发布'>@濂溪发布</a> 十里河又臭了"
                             "<span class='url-icon'><img alt='[怒]' src='x.png'></span> "
                             "<a href='/search?q=%23十里河%23'>#十里河#</a>", self.state["weibo_reposts"]),
                      _mblog("4981000000000002", "九江今天天气不错", 0)],
                     [_mblog("4981000000000003", "九江濂溪区的新公园开放了", 1)]],
            "濂溪": [[_mblog("4981000000000003", "九江濂溪区的新公园开放了", 1)]],
        }.get(keyword, [])
        if page > len(posts):
            return 200, "application/json", json.dumps({"ok": 0, "msg": "这里还没有内容",
                                                        "data": {"cards": []}}, ensure_ascii=False).encode()
        next_page = page + 1 if page < len(posts) else None
        data = {"ok": 1, "data": {"cardlistInfo": {"page": next_page, "total": 3}, "cards": posts[page - 1]}}
        return 200, "application/json; charset=utf-8", json.dumps(data, ensure_ascii=False).encode()


# --- config and running --------------------------------------------------------------
def _write_config(tmp: Path, base: str) -> Path:
    for name in ("topics.yaml", "rules.yaml", "agencies.yaml"):
        shutil.copy(REPO / "configs" / name, tmp / name)
    sources = [
        {"name": "xyw", "type": "news", "label": "浔阳晚报", "start_urls": [f"{base}/news/index.html"], "max_pages": 2,
         "list_page": {"link_selector": "ul.news-list a::attr(href)", "link_pattern": r"/news/.*\d{4}/\d{4}/\d+\.html$",
                       "next_selector": "a.next::attr(href)"},
         "settings": {"DOWNLOAD_TIMEOUT": 1, "RETRY_TIMES": 1}},
        {"name": "jjzx", "type": "news", "label": "九江在线", "start_urls": [f"{base}/gbk/index.html"],
         "list_page": {"link_pattern": r"/content_\d+\.htm$"}},
        {"name": "jxnews", "type": "rss", "start_urls": [f"{base}/rss/jxnews.xml"]},
        {"name": "weibo", "type": "weibo_api", "start_urls": [f"{base}/api/weibo/search"], "keywords": ["九江", "濂溪"]},
        {"name": "wz", "type": "gov_board", "label": "问政九江", "start_urls": [f"{base}/wz/list?page=1"], "max_pages": 3,
         "list_page": {"link_selector": "table.msg-list td.title a", "next_selector": "a.next"},
         "detail": {"title": "h2.msg-title::text", "content": "div.msg-content", "author": "span.msg-author::text",
                    "published_at": "span.msg-time::text"}},
        {"name": "dead", "type": "news", "start_urls": [f"{base}/nowhere/index.html"], "enabled": False},
    ]
    (tmp / "sources.yaml").write_text(yaml.safe_dump({"sources": sources}, allow_unicode=True), encoding="utf-8")
    app = {"data_dir": "var", "inbox_dir": "var/inbox", "output_dir": "var/out"}
    (tmp / "app.yaml").write_text(yaml.safe_dump(app), encoding="utf-8")
    return tmp / "app.yaml"


def _run(config: Path, *sources: str) -> tuple[int, dict]:
    cmd = [sys.executable, "-m", "yuqing.crawl_child", "--config", str(config), "--base-dir", str(config.parent)]
    for name in sources:
        cmd += ["--source", name]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=120, cwd=REPO)
    lines = proc.stdout.strip().splitlines()
    assert lines, f"no report on stdout; stderr:\n{proc.stderr[-3000:]}"
    return proc.returncode, json.loads(lines[-1])


def _drain(inbox: Path) -> dict[str, dict]:
    """Read and remove every batch, like enrichment would; posts by id."""
    posts: dict[str, dict] = {}
    for path in sorted(inbox.glob("*.jsonl")):
        for line in path.read_text(encoding="utf-8").splitlines():
            post = json.loads(line)
            assert post["id"] not in posts, f"{post['id']} delivered twice in one crawl"
            posts[post["id"]] = post
        path.unlink()
    return posts


@pytest.fixture(scope="module")
def site():
    with FixtureSite() as running:
        yield running


@pytest.fixture(scope="module")
def crawls(site, tmp_path_factory):
    """Three crawls of the same sites: fresh, unchanged, and after two posts changed."""
    tmp = tmp_path_factory.mktemp("crawl")
    config = _write_config(tmp, site.base)
    inbox = tmp / "var" / "inbox"
    first = _run(config)
    first_posts = _drain(inbox)
    second = _run(config)
    second_posts = _drain(inbox)
    site.state.update(weibo_reposts=99, board_replied=True)
    report = crawl_in_subprocess(config, ["weibo", "wz"], base_dir=tmp)  # the helper other packages use
    third = (0 if report.ok else 1, report.as_dict())
    third_posts = _drain(inbox)
    return {"tmp": tmp, "config": config, "runs": [(first, first_posts), (second, second_posts), (third, third_posts)]}


def _by_url(posts: dict[str, dict], suffix: str) -> dict:
    found = [p for p in posts.values() if (p.get("url") or "").endswith(suffix)]
    assert len(found) == 1, f"expected one post at *{suffix}, got {len(found)}: {sorted(p['url'] for p in posts.values())}"
    return found[0]


# --- assertions -------------------------------------------------------------------------
def test_first_crawl_delivers_every_good_post(crawls):
    (code, report), posts = crawls["runs"][0]
    assert set(report["sources"]) == {"xyw", "jjzx", "jxnews", "weibo", "wz"}  # "dead" is disabled
    counts = {name: s["written"] for name, s in report["sources"].items()}
    assert counts == {"xyw": 3, "jjzx": 2, "jxnews": 2, "weibo": 3, "wz": 3}
    assert len(posts) == 13
    assert {p["source"] for p in posts.values()} == {"xyw", "jjzx", "jxnews", "weibo", "wz"}
    assert code == 0, report


def test_news_article_fields(crawls):
    posts = crawls["runs"][0][1]
    post = _by_url(posts, "/news/2026/1118/1001.html")
    assert post["platform"] == "news"
    assert post["title"] == "濂溪区十里河水质异常 居民反映异味"
    assert "十里河濂溪区段河水发黑" in post["content"]
    assert "版权所有" not in post["content"] and "相关新闻" not in post["content"]
    assert post["published_at"] == "2026-11-18T09:12:00+08:00"  # the article's time, not the header's date
    assert post["author"]["name"] == "张三"
    assert post["extra"]["origin"] == "浔阳晚报"
    assert post["id"].startswith("news:u")


def test_broken_html_still_yields_text(crawls):
    post = _by_url(crawls["runs"][0][1], "/news/2026/1118/1004.html")
    assert post["title"].startswith("浔阳区老旧小区改造进展")
    assert "改造老旧小区三十个" in post["content"]
    assert post["published_at"].startswith("2026-11-18T06:30")


def test_gbk_pages_decode(crawls):
    posts = crawls["runs"][0][1]
    gbk = _by_url(posts, "content_2001.htm")
    assert gbk["title"] == "九江市区出租车调价听证会召开"
    assert "出租车运价调整听证会" in gbk["content"]
    assert gbk["published_at"] == "2026-11-18T09:12:00+08:00"
    gb2312 = _by_url(posts, "content_2002.htm")
    assert "镕喆桥" in gb2312["title"] and "镕喆桥修缮工程" in gb2312["content"]
    assert "\ufffd" not in gb2312["content"]


def test_rss_entries(crawls):
    posts = crawls["runs"][0][1]
    full = _by_url(posts, "/jxnews/3001.html")
    assert full["platform"] == "rss"
    assert full["content"].startswith("记者从省发展改革委获悉")  # content:encoded beats the description
    assert "<p>" not in full["content"]
    assert full["published_at"] == "2026-11-18T09:12:00+08:00"
    assert full["author"]["name"] == "江西日报"
    summary_only = posts["rss:jx-3002"]  # an opaque guid is the native id
    assert summary_only["content"] == "南昌地铁四号线今日正式开通运营，全长39.6公里。"


def test_weibo_posts(crawls):
    posts = crawls["runs"][0][1]
    post = posts["weibo:4981000000000001"]
    assert post["content"] == "九江@濂溪发布 十里河又臭了[怒] #十里河#"
    assert post["published_at"] == "2026-11-18T09:12:00+08:00"
    assert post["author"] == {"name": "九江小王", "id": "123", "followers": 1234, "verified": False,
                              "location": "江西 九江"}
    assert post["engagement"] == {"reposts": 5, "comments": 2, "likes": 3}
    assert post["extra"]["ip_region"] == "江西"
    assert "weibo:4981000000000003" in posts  # page 2, and found by both keywords but delivered once
    report = crawls["runs"][0][0][1]["sources"]["weibo"]
    assert report["duplicates"] == 1


def test_board_messages(crawls):
    posts = crawls["runs"][0][1]
    replied = posts["gov_board:20261118001"]
    assert replied["title"] == "十里河附近化工厂夜间排放异味"
    assert replied["author"]["name"] == "李**"
    assert replied["published_at"] == "2026-11-18T09:12:33+08:00"
    assert replied["extra"]["status"] == "已回复"
    assert replied["extra"]["reply"]["department"] == "濂溪区生态环境分局"
    assert replied["extra"]["reply"]["content"] == "经现场核查，该企业已停产整改。"
    assert replied["extra"]["reply"]["time"] == "2026-11-20T15:00:00+08:00"
    assert "停产整改" not in replied["content"]  # the reply is not part of the citizen's message
    assert posts["gov_board:20261118002"]["extra"]["status"] == "办理中"
    undated = posts["gov_board:20261117009"]
    assert undated["extra"]["date_missing"] is True
    assert undated["extra"]["status"] == "未回复"


def test_errors_are_counted_not_fatal(crawls, site):
    report = crawls["runs"][0][0][1]["sources"]["xyw"]
    kinds = report["error_kinds"]
    assert kinds.get("http_500") == 1 and kinds.get("http_404") == 1
    assert kinds.get("timeout") == 1
    assert kinds.get("decode") == 1
    assert report["errors"] == 4
    assert report["ignored"] == 1  # robots.txt disallows /news/hidden/
    assert site.hits["/news/hidden/2026/1118/1008.html"] == 0
    assert site.hits["/news/list_3.html"] == 0  # max_pages: 2
    assert report["ok"] is True  # a few bad pages do not fail the source


def test_second_crawl_writes_nothing_new(crawls):
    (code, report), posts = crawls["runs"][1]
    assert code == 0
    assert posts == {}
    assert report["written"] == 0
    assert report["skipped_seen"] == 13


def test_changed_posts_are_emitted_again(crawls):
    (code, report), posts = crawls["runs"][2]
    assert code == 0
    assert set(report["sources"]) == {"weibo", "wz"}
    assert set(posts) == {"weibo:4981000000000001", "gov_board:20261118002"}
    assert posts["weibo:4981000000000001"]["engagement"]["reposts"] == 99
    changed = posts["gov_board:20261118002"]
    assert changed["extra"]["status"] == "已回复"
    assert changed["extra"]["reply"]["department"] == "濂溪区城管局"


def test_dead_source_fails_the_run(crawls):
    code, report = _run(crawls["config"], "dead")
    assert code == 1
    dead = report["sources"]["dead"]
    assert dead["ok"] is False and dead["error_kinds"] == {"http_404": 1}


def test_unknown_source_is_a_config_error(crawls):
    code, report = _run(crawls["config"], "no_such_source")
    assert code == 2
    assert report["ok"] is False and "no_such_source" in report["error"]
    with pytest.raises(ConfigError, match="no_such_source"):
        crawl_in_subprocess(crawls["config"], ["no_such_source"], base_dir=crawls["tmp"])


def test_crawls_by_the_service_keep_each_sources_health(site, tmp_path, capsys, monkeypatch):
    """App.crawl_in_child (the scheduler's call) folds each crawl into the source's health record;
    `yuqing sources` shows it."""
    from yuqing.cli import main
    from yuqing.config import load_settings
    from yuqing.jobs import App
    config = _write_config(tmp_path, site.base)
    monkeypatch.chdir(tmp_path)                 # the config's paths are relative to the working folder
    app = App(load_settings(config, base_dir=tmp_path))
    try:
        assert app.crawl_in_child("xyw")["exit_code"] == 0
        app.crawl_in_child("dead")
    finally:
        app.close()
    assert main(["sources", "--config", str(config), "--json"]) == 0
    rows = {r["name"]: r for r in json.loads(capsys.readouterr().out)}
    xyw, dead = rows["xyw"], rows["dead"]
    assert xyw["status"] == "ok" and xyw["runs"] == 1 and xyw["last"]["pages"] > 0 and xyw["last"]["written"] > 0
    assert xyw["last"]["error_kinds"]["http_500"] == 1 and xyw["last_delivery_at"] is not None
    assert dead["status"] == "failing" and dead["consecutive_failures"] == 1 and dead["last_success_at"] is None
    assert dead["last_failure"] == "http_404×1"
    assert rows["weibo"]["status"] == "never"
    assert main(["sources", "--config", str(config)]) == 0
    table = capsys.readouterr().out
    assert "xyw" in table and "http_404×1" in table       # dead: disabled now, its last crawl's problem shown


def test_a_login_wall_and_a_captcha_are_reported_as_blocked(site, tmp_path, monkeypatch):
    from index import health
    from yuqing.config import load_settings
    from yuqing.jobs import App
    config = _write_config(tmp_path, site.base)
    sources = yaml.safe_load((tmp_path / "sources.yaml").read_text("utf-8"))
    weibo = next(s for s in sources["sources"] if s["name"] == "weibo")
    weibo["keywords"] = ["登录墙", "验证码", "九江"]
    (tmp_path / "sources.yaml").write_text(yaml.safe_dump(sources, allow_unicode=True), "utf-8")
    monkeypatch.chdir(tmp_path)
    app = App(load_settings(config, base_dir=tmp_path))
    try:
        report = app.crawl_in_child("weibo")
        record = health.load(app.store, "weibo")
    finally:
        app.close()
    kinds = report["sources"]["weibo"]["error_kinds"]
    assert kinds == {"login_wall": 1, "captcha": 1}, kinds
    assert record.status == "blocked" and record.last.blocked == 2 and record.last.written == 3   # 九江 still came

