"""The demo "internet": five simulated channels served from the bundled corpus on 127.0.0.1.

    python -m yuqing.demo.site --port 8800 [--clock 2026-11-19T12:00]

URL contract (all times Asia/Shanghai; with a clock set, only posts published at
or before it exist, and board replies appear only once their reply time passed):

* 浔阳晚报 (UTF-8)      /xyw/index.html, /xyw/list_<n>.html (20 a page, newest first),
                        articles /xyw/<yyyy>/<mmdd>/<id>.html
* 九江在线 (GBK)        /jjzx/index.html, /jjzx/index_<n>.html, articles
                        /jjzx/html/<yyyy-mm>/<dd>/content_<id>.htm; bodies GBK, declared
                        only in <meta>; the HTTP header says just text/html
* 江西新闻 RSS 2.0      /rss/jxnews.xml, every item also at /jxnews/<id>.html
* Weibo-like search     /api/weibo/search?q=<keyword>&page=<n> (10 cards a page, newest first)
* 问政九江 board        /wz/list?page=<n> (15 a page, newest first), /wz/detail/<id>

Bad input, on purpose: one 浔阳晚报 article answers 500, one 九江在线 article 404,
one 浔阳晚报 article is badly broken HTML, one board message has no time, and some
posts carry phone and ID numbers. Malformed requests get 400 (a JSON body on the
API), unknown or not-yet-published pages 404, other methods 405.
"""
from __future__ import annotations

import argparse
import json
import logging
import re
import threading
from dataclasses import dataclass
from datetime import datetime
from email.utils import format_datetime
from functools import lru_cache
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Callable
from urllib.parse import parse_qs, quote, urlsplit
from zoneinfo import ZoneInfo

from jinja2 import Environment, FileSystemLoader, select_autoescape
from markupsafe import escape

logger = logging.getLogger("yuqing.demo.site" if __name__ == "__main__" else __name__)

TZ = ZoneInfo("Asia/Shanghai")
CORPUS_FILE = Path(__file__).with_name("corpus") / "posts.jsonl"
TEMPLATES = Path(__file__).with_name("templates")

NEWS_PAGE_SIZE = 20
BOARD_PAGE_SIZE = 15
WEIBO_PAGE_SIZE = 10
RELATED_LINKS = 6
_WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


# URL path prefix → channel, for callers that know a source only by its start URL.
CHANNEL_PREFIXES = {"/xyw/": "xyw", "/jjzx/": "jjzx", "/rss/": "rss", "/jxnews/": "rss",
                    "/api/weibo/": "weibo", "/wz/": "board"}


def channel_of(url: str) -> str | None:
    path = urlsplit(url).path
    return next((ch for prefix, ch in CHANNEL_PREFIXES.items() if path.startswith(prefix)), None)


def load_corpus(path: Path = CORPUS_FILE) -> list[dict[str, Any]]:
    """All corpus records, answer key included, oldest first. Each call returns fresh dicts."""
    records = []
    with path.open(encoding="utf-8") as fh:
        for lineno, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                records.append(json.loads(line))
            except json.JSONDecodeError as exc:
                raise ValueError(f"{path}:{lineno}: not valid JSON ({exc})") from None
    return records


# --- the catalogue: what exists at a given simulated time -----------------------
@dataclass(frozen=True)
class Entry:
    published: datetime
    record: dict[str, Any]

    @property
    def id(self) -> str:
        return self.record["id"]


class Catalog:
    """The corpus indexed per channel, newest first; answers 'what is visible at this clock'."""

    def __init__(self, records: list[dict[str, Any]]):
        self._by_channel: dict[str, list[Entry]] = {}
        self._by_id: dict[tuple[str, str], Entry] = {}
        for record in records:
            entry = Entry(datetime.fromisoformat(record["published_at"]), record)
            self._by_channel.setdefault(record["channel"], []).append(entry)
            self._by_id[(record["channel"], record["id"])] = entry
        for entries in self._by_channel.values():
            entries.sort(key=lambda e: (e.published, e.id), reverse=True)

    def visible(self, channel: str, clock: datetime | None) -> list[Entry]:
        entries = self._by_channel.get(channel, [])
        return entries if clock is None else [e for e in entries if e.published <= clock]

    def changed(self, channel: str, after: datetime | None, until: datetime) -> bool:
        """Whether the channel shows anything new at `until` that it did not at `after` (None: the
        beginning): a post published, or a board reply written, in (after, until]."""
        for entry in self._by_channel.get(channel, []):
            times = [entry.published]
            reply = (entry.record.get("board") or {}).get("reply_time")
            if reply:
                times.append(datetime.fromisoformat(reply))
            if any((after is None or t > after) and t <= until for t in times):
                return True
        return False

    def get(self, channel: str, native_id: str, clock: datetime | None) -> Entry | None:
        entry = self._by_id.get((channel, native_id))
        if entry is None or (clock is not None and entry.published > clock):
            return None
        return entry


# --- responses ----------------------------------------------------------------------
@dataclass
class Response:
    status: int
    body: bytes
    content_type: str

    @classmethod
    def html(cls, text: str, status: int = 200) -> "Response":
        return cls(status, text.encode("utf-8"), "text/html; charset=utf-8")

    @classmethod
    def json(cls, data: Any, status: int = 200) -> "Response":
        return cls(status, json.dumps(data, ensure_ascii=False).encode("utf-8"), "application/json; charset=utf-8")


class BadRequest(Exception):
    """The request's parameters are malformed (answered with 400)."""


def page_number(query: dict[str, list[str]], name: str = "page") -> int:
    raw = query.get(name, ["1"])[-1].strip() or "1"
    if not raw.isdigit() or int(raw) < 1:
        raise BadRequest(f"参数错误：{name} 必须是正整数，收到 {raw!r}")
    return int(raw)


def paginate(entries: list[Entry], page: int, size: int) -> tuple[list[Entry], int]:
    pages = max(1, -(-len(entries) // size))
    return entries[(page - 1) * size: page * size], pages


def minute(dt: datetime) -> str:
    return dt.strftime("%Y-%m-%d %H:%M")


def weibo_time(dt: datetime) -> str:
    """m.weibo.cn style: 'Wed Nov 18 09:12:00 +0800 2026' (locale-independent)."""
    dt = dt.astimezone(TZ)
    return f"{_WEEKDAYS[dt.weekday()]} {_MONTHS[dt.month - 1]} {dt.day:02d} {dt:%H:%M:%S} +0800 {dt.year}"


def paragraphs(record: dict[str, Any]) -> list[str]:
    return [p for p in record["content"].split("\n") if p.strip()]


def summary(record: dict[str, Any], limit: int = 70) -> str:
    first = paragraphs(record)[0] if record["content"].strip() else record["title"]
    return first if len(first) <= limit else first[:limit] + "……"


_MENTION = re.compile(r"@([\w\-]{1,30})")
_HASHTAG = re.compile(r"#([^#\s<>]{1,40})#")
_EMOJI = re.compile(r"\[([\u4e00-\u9fa5A-Za-z]{1,8})\]")


def weibo_html(text: str) -> str:
    """Render plain post text the way m.weibo.cn marks it up: @links, #topic# links, emoji images."""
    html = str(escape(text))
    html = _HASHTAG.sub(
        lambda m: (f'<a href="https://m.weibo.cn/search?containerid=231522type%3D1%26t%3D10%26q%3D%23'
                   f'{quote(m.group(1))}%23" data-hide=""><span class="surl-text">#{m.group(1)}#</span></a>'),
        html)
    html = _MENTION.sub(lambda m: f"<a href='/n/{m.group(1)}'>@{m.group(1)}</a>", html)
    html = _EMOJI.sub(
        lambda m: (f'<span class="url-icon"><img alt="[{m.group(1)}]" '
                   f'src="https://h5.sinaimg.cn/m/emoticon/icon/default/{quote(m.group(1))}.png" '
                   f'style="width:1em; height:1em;" /></span>'),
        html)
    return html.replace("\n", "<br />")


# --- the application: routes → responses --------------------------------------------
class DemoApp:
    """Turns a request path into a response for the current clock. Knows nothing about sockets."""

    def __init__(self, records: list[dict[str, Any]]):
        self.catalog = Catalog(records)
        self.env = Environment(loader=FileSystemLoader(TEMPLATES), autoescape=select_autoescape(["html", "xml"]),
                               keep_trailing_newline=True)
        self.routes: list[tuple[re.Pattern[str], Callable[..., Response]]] = [
            (re.compile(r"/"), self.home),
            (re.compile(r"/robots\.txt"), self.robots),
            (re.compile(r"/xyw/(?:index\.html)?"), lambda **kw: self.xyw_list(page=1, **kw)),
            (re.compile(r"/xyw/list_(?P<page>\d+)\.html"), self.numbered(self.xyw_list)),
            (re.compile(r"/xyw/(?P<year>\d{4})/(?P<mmdd>\d{4})/(?P<id>\d+)\.html"), self.xyw_article),
            (re.compile(r"/jjzx/(?:index\.html)?"), lambda **kw: self.jjzx_list(page=1, **kw)),
            (re.compile(r"/jjzx/index_(?P<page>\d+)\.html"), self.numbered(self.jjzx_list)),
            (re.compile(r"/jjzx/html/(?P<ym>\d{4}-\d{2})/(?P<dd>\d{2})/content_(?P<id>\d+)\.htm"), self.jjzx_article),
            (re.compile(r"/rss/jxnews\.xml"), self.rss_feed),
            (re.compile(r"/jxnews/(?P<id>\w+)\.html"), self.rss_article),
            (re.compile(r"/api/weibo/search"), self.weibo_search),
            (re.compile(r"/wz/(?:list)?"), self.board_list),
            (re.compile(r"/wz/detail/(?P<id>\w+)"), self.board_detail),
        ]

    def handle(self, target: str, clock: datetime | None, base: str) -> Response:
        parts = urlsplit(target)
        query = parse_qs(parts.query, keep_blank_values=True)
        for pattern, handler in self.routes:
            match = pattern.fullmatch(parts.path)
            if match:
                try:
                    return handler(clock=clock, query=query, base=base, **match.groupdict())
                except BadRequest as exc:
                    if parts.path.startswith("/api/"):
                        return Response.json({"ok": 0, "msg": str(exc)}, 400)
                    return self.error(400, str(exc))
        return self.not_found()

    # helpers ------------------------------------------------------------------------
    def render(self, template: str, **context: Any) -> str:
        return self.env.get_template(template).render(**context)

    def error(self, status: int, message: str) -> Response:
        reason = HTTPStatus(status).phrase
        return Response.html(self.render("error.html", status=status, reason=reason, message=message), status)

    def not_found(self, message: str = "您访问的页面不存在或已被删除。") -> Response:
        return self.error(404, message)

    def related(self, channel: str, clock: datetime | None, exclude: str) -> list[dict[str, str]]:
        items = [e for e in self.catalog.visible(channel, clock) if e.id != exclude][:RELATED_LINKS]
        return [{"path": e.record["path"], "title": e.record["title"]} for e in items]

    def article_context(self, entry: Entry, clock: datetime | None) -> dict[str, Any]:
        r = entry.record
        return {"title": r["title"], "paragraphs": paragraphs(r), "time": minute(entry.published),
                "outlet": r["outlet"], "author": r["author"]["name"], "summary": summary(r),
                "related": self.related(r["channel"], clock, r["id"])}

    def faulty(self, entry: Entry) -> Response | None:
        fault = entry.record.get("fault")
        if fault == "http_500":
            return self.error(500, "服务器内部错误，请稍后再试。")
        if fault == "http_404":
            return self.not_found()
        return None

    def numbered(self, list_page: Callable[..., Response]) -> Callable[..., Response]:
        """Route for list_<n>/index_<n> pages: page 1 lives only at index.html, so n must be >= 2."""
        def route(page: str, **kw: Any) -> Response:
            return list_page(page=int(page), **kw) if int(page) >= 2 else self.not_found()
        return route

    # misc ----------------------------------------------------------------------------
    def home(self, clock: datetime | None, **_: Any) -> Response:
        return Response.html(self.render("index.html", clock=clock.isoformat() if clock else None))

    def robots(self, **_: Any) -> Response:
        return Response(200, b"User-agent: *\nAllow: /\n", "text/plain; charset=utf-8")

    # 浔阳晚报 -------------------------------------------------------------------------
    def xyw_list(self, page: str | int, clock: datetime | None, **_: Any) -> Response:
        page = int(page)
        entries, pages = paginate(self.catalog.visible("xyw", clock), page, NEWS_PAGE_SIZE)
        if page > pages:
            return self.not_found()
        url = lambda n: "/xyw/index.html" if n == 1 else f"/xyw/list_{n}.html"   # noqa: E731
        items = [{"path": e.record["path"], "title": e.record["title"], "time": minute(e.published)} for e in entries]
        newest = entries[0].published if entries else clock
        today = (clock or newest or datetime.now(TZ)).strftime("%Y年%m月%d日")
        return Response.html(self.render("xyw_list.html", items=items, page=page, pages=pages, today=today,
                                          prev_url=url(page - 1) if page > 1 else None,
                                          next_url=url(page + 1) if page < pages else None))

    def xyw_article(self, year: str, mmdd: str, id: str, clock: datetime | None, **_: Any) -> Response:
        entry = self.catalog.get("xyw", id, clock)
        if entry is None or entry.record["path"] != f"/xyw/{year}/{mmdd}/{id}.html":
            return self.not_found()
        if (failed := self.faulty(entry)) is not None:
            return failed
        context = self.article_context(entry, clock)
        context["editor"] = "周敏" if context["author"] != "周敏" else "杨帆"
        template = "xyw_broken.html" if entry.record.get("fault") == "broken_html" else "xyw_article.html"
        return Response.html(self.render(template, **context))

    # 九江在线 (GBK) ------------------------------------------------------------------
    @staticmethod
    def gbk(text: str, status: int = 200) -> Response:
        # Declared only by <meta charset=gbk>: the header deliberately names no charset.
        return Response(status, text.encode("gbk", errors="xmlcharrefreplace"), "text/html")

    def jjzx_list(self, page: str | int, clock: datetime | None, **_: Any) -> Response:
        page = int(page)
        entries, pages = paginate(self.catalog.visible("jjzx", clock), page, NEWS_PAGE_SIZE)
        if page > pages:
            return self.not_found()
        url = lambda n: "/jjzx/index.html" if n == 1 else f"/jjzx/index_{n}.html"   # noqa: E731
        items = [{"path": e.record["path"], "title": e.record["title"], "date": e.published.strftime("%Y-%m-%d")}
                 for e in entries]
        return self.gbk(self.render("jjzx_list.html", items=items, page=page, pages=pages, last_url=url(pages),
                                    prev_url=url(page - 1) if page > 1 else None,
                                    next_url=url(page + 1) if page < pages else None))

    def jjzx_article(self, ym: str, dd: str, id: str, clock: datetime | None, **_: Any) -> Response:
        entry = self.catalog.get("jjzx", id, clock)
        if entry is None or entry.record["path"] != f"/jjzx/html/{ym}/{dd}/content_{id}.htm":
            return self.not_found()
        if (failed := self.faulty(entry)) is not None:
            return failed
        context = self.article_context(entry, clock)
        context["time"] = entry.published.strftime("%Y年%m月%d日 %H:%M")
        return self.gbk(self.render("jjzx_article.html", **context))

    # 江西新闻 RSS ---------------------------------------------------------------------
    def rss_feed(self, clock: datetime | None, base: str, **_: Any) -> Response:
        entries = self.catalog.visible("rss", clock)
        items = [{"title": e.record["title"], "path": e.record["path"], "pub_date": format_datetime(e.published),
                  "author": e.record["author"]["name"], "summary": summary(e.record),
                  "paragraphs": paragraphs(e.record)} for e in entries]
        built = clock or (entries[0].published if entries else datetime.now(TZ))
        body = self.render("jxnews_feed.xml", items=items, base=base, build_date=format_datetime(built))
        return Response(200, body.encode("utf-8"), "application/rss+xml; charset=utf-8")

    def rss_article(self, id: str, clock: datetime | None, **_: Any) -> Response:
        entry = self.catalog.get("rss", id, clock)
        if entry is None:
            return self.not_found()
        return Response.html(self.render("jxnews_article.html", **self.article_context(entry, clock)))

    # Weibo-like search API --------------------------------------------------------------
    def weibo_search(self, clock: datetime | None, query: dict[str, list[str]], **_: Any) -> Response:
        keyword = query.get("q", [""])[-1].strip()
        if not keyword:
            raise BadRequest("参数错误：缺少搜索关键词 q")
        page = page_number(query)
        matches = [e for e in self.catalog.visible("weibo", clock) if keyword in e.record["content"]]
        entries, pages = paginate(matches, page, WEIBO_PAGE_SIZE)
        if not entries:
            return Response.json({"ok": 0, "msg": "这里还没有内容", "data": {"cards": []}})
        return Response.json({"ok": 1, "data": {
            "cardlistInfo": {"containerid": f"100103type=1&q={keyword}", "page_size": WEIBO_PAGE_SIZE,
                             "page": page + 1 if page < pages else None, "total": len(matches)},
            "cards": [{"card_type": 9, "itemid": f"seqid:{e.id}", "mblog": self.mblog(e)} for e in entries],
        }})

    @staticmethod
    def mblog(entry: Entry) -> dict[str, Any]:
        r = entry.record
        author, engagement, weibo = r["author"], r["engagement"], r["weibo"] or {}
        user_id = int(author["id"]) if str(author.get("id") or "").isdigit() else 0
        return {
            "id": r["id"], "mid": r["id"], "created_at": weibo_time(entry.published),
            "text": weibo_html(r["content"]), "textLength": len(r["content"].encode("gbk", "replace")),
            "source": weibo.get("client", ""), "region_name": weibo.get("region_name", ""),
            "user": {"id": user_id, "screen_name": author["name"], "profile_url": f"https://m.weibo.cn/u/{user_id}",
                     "followers_count": author.get("followers") or 0, "verified": bool(author.get("verified")),
                     "verified_type": author.get("verified_type", -1), "location": author.get("location") or ""},
            "reposts_count": engagement["reposts"], "comments_count": engagement["comments"],
            "attitudes_count": engagement["likes"], "isLongText": False, "pic_num": 0,
        }

    # 问政九江 ---------------------------------------------------------------------------
    @staticmethod
    def board_state(record: dict[str, Any], clock: datetime | None) -> tuple[str, dict[str, str] | None]:
        """Status and reply as the board shows them at `clock` (a reply appears only once written)."""
        board = record["board"]
        reply_time = datetime.fromisoformat(board["reply_time"]) if board.get("reply_time") else None
        if reply_time is not None and (clock is None or reply_time <= clock):
            return "已回复", {"dept": board["reply_dept"], "time": reply_time.strftime("%Y-%m-%d %H:%M:%S"),
                            "content": board["reply_content"]}
        return ("未回复" if board["status"] == "未回复" else "办理中"), None

    def board_list(self, clock: datetime | None, query: dict[str, list[str]], **_: Any) -> Response:
        page = page_number(query)
        everything = self.catalog.visible("board", clock)
        entries, pages = paginate(everything, page, BOARD_PAGE_SIZE)
        items = []
        for e in entries:
            status, _reply = self.board_state(e.record, clock)
            time = "" if e.record.get("fault") == "no_time" else minute(e.published)
            items.append({"id": e.id, "path": e.record["path"], "title": e.record["title"], "status": status,
                          "time": time})
        return Response.html(self.render("wz_list.html", items=items, page=page, pages=pages, total=len(everything),
                                         prev_url=f"/wz/list?page={page - 1}" if page > 1 else None,
                                         next_url=f"/wz/list?page={page + 1}" if page < pages else None))

    def board_detail(self, id: str, clock: datetime | None, **_: Any) -> Response:
        entry = self.catalog.get("board", id, clock)
        if entry is None:
            return self.not_found("留言不存在或尚未公开。")
        r = entry.record
        status, reply = self.board_state(r, clock)
        time = None if r.get("fault") == "no_time" else entry.published.strftime("%Y-%m-%d %H:%M:%S")
        return Response.html(self.render("wz_detail.html", id=r["id"], title=r["title"], content=r["content"],
                                         author=r["author"]["name"], time=time, status=status, reply=reply))


# --- HTTP plumbing -------------------------------------------------------------------------
class _Handler(BaseHTTPRequestHandler):
    server: "_Server"
    protocol_version = "HTTP/1.1"
    server_version = "YuqingDemo/1.0"
    # headers and body go out as two writes; without TCP_NODELAY a keep-alive client
    # waits ~40 ms per response on Nagle + delayed ACK
    disable_nagle_algorithm = True

    def do_GET(self) -> None:
        self._respond(send_body=True)

    def do_HEAD(self) -> None:
        self._respond(send_body=False)

    def _not_allowed(self) -> None:
        body = b"405 Method Not Allowed"
        self.send_response(405)
        self.send_header("Allow", "GET, HEAD")
        self.send_header("Content-Type", "text/plain; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_POST = do_PUT = do_DELETE = do_PATCH = _not_allowed

    def _respond(self, send_body: bool) -> None:
        site = self.server.site
        host = self.headers.get("Host") or urlsplit(site.base_url).netloc
        try:
            response = site.app.handle(self.path, site.clock, f"http://{host}")
        except Exception:   # a bug in a route must not kill the server thread
            logger.exception("demo site failed on %s", self.path)
            response = Response.html("<h1>500 Internal Server Error</h1>", 500)
        self.send_response(response.status)
        self.send_header("Content-Type", response.content_type)
        self.send_header("Content-Length", str(len(response.body)))
        self.send_header("Cache-Control", "no-cache")
        self.end_headers()
        if send_body:
            self.wfile.write(response.body)

    def log_message(self, format: str, *args: Any) -> None:   # noqa: A002 - stdlib signature
        logger.info("%s %s", self.address_string(), format % args)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    # socketserver's default backlog of 5 drops SYNs when a crawl opens many connections at once,
    # and each dropped SYN costs the client a 1 s retransmit
    request_queue_size = 128

    def __init__(self, address: tuple[str, int], site: "DemoSite"):
        self.site = site
        super().__init__(address, _Handler)


def _aware(when: datetime | None) -> datetime | None:
    if when is None:
        return None
    return when.replace(tzinfo=TZ) if when.tzinfo is None else when


@lru_cache(maxsize=1)
def _default_app() -> DemoApp:
    return DemoApp(load_corpus())


class DemoSite:
    """The demo internet as a real HTTP server in a background thread.

    `clock` (naive values are Asia/Shanghai) limits the site to posts published at
    or before it; None serves everything. Use as a context manager or start()/stop().
    """

    def __init__(self, host: str = "127.0.0.1", port: int = 0, clock: datetime | None = None,
                 records: list[dict[str, Any]] | None = None):
        self.host = host
        self.port = port
        self.app = DemoApp(records) if records is not None else _default_app()
        self._clock = _aware(clock)
        self._lock = threading.Lock()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self.base_url = ""

    @property
    def clock(self) -> datetime | None:
        with self._lock:
            return self._clock

    def set_clock(self, when: datetime | None) -> None:
        with self._lock:
            self._clock = _aware(when)
        logger.info("demo site clock set to %s", self._clock.isoformat() if self._clock else "none (all posts)")

    def start(self) -> str:
        if self._server is not None:
            return self.base_url
        self._server = _Server((self.host, self.port), self)
        host, port = self._server.server_address[:2]
        self.port = port
        self.base_url = f"http://{host}:{port}"
        # a short poll interval keeps stop() prompt (shutdown waits for the next poll)
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05},
                                        name="demo-site", daemon=True)
        self._thread.start()
        logger.info("demo site serving at %s", self.base_url)
        return self.base_url

    def stop(self) -> None:
        if self._server is None:
            return
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._server = self._thread = None
        logger.info("demo site stopped")

    def changed(self, channel: str, after: datetime | None, until: datetime) -> bool:
        """See Catalog.changed: lets a simulation skip a crawl that could find nothing new."""
        return self.app.catalog.changed(channel, _aware(after), _aware(until))

    def url_for(self, record: dict[str, Any]) -> str | None:
        """Absolute URL of a record's page on this site (None for Weibo posts)."""
        return f"{self.base_url}{record['path']}" if record.get("path") else None

    def __enter__(self) -> "DemoSite":
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Serve the Yuqing Sentinel demo internet.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8800)
    parser.add_argument("--clock", help="simulated time, e.g. 2026-11-19T12:00 (Asia/Shanghai); default: all posts")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        clock = datetime.fromisoformat(args.clock) if args.clock else None
    except ValueError:
        parser.error(f"--clock: not an ISO date-time: {args.clock!r}")
    site = DemoSite(args.host, args.port, clock)
    try:
        site.start()
    except OSError as exc:
        parser.error(f"cannot listen on {args.host}:{args.port}: {exc}")
    print(f"Demo internet at {site.base_url}/  (Ctrl+C to stop)", flush=True)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        pass
    finally:
        site.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
