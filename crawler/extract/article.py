"""Generic article extraction with a fallback chain, so a new news site needs YAML, not code.

Order, per field (first hit wins):
- title:   configured CSS → trafilatura's → og:title → <title>; then the page heading that
           this contains, which drops site suffixes ("标题_九江在线" → "标题")
- content: configured CSS → trafilatura → the page's paragraphs → og:/meta description
- time:    configured CSS → meta tags (article:published_time, pubdate…) → elements whose
           class/id says time/date/info → labelled text (发布时间：…) anywhere → the time the
           list page showed → trafilatura's date (day precision only, hence last)
- author:  configured CSS → 作者：… in the info line → meta author → trafilatura → 编辑：…
Precise sources come before heuristic ones; each step is cheap next to the download.
"""
from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field
from datetime import datetime, tzinfo
from typing import Any, Callable

import lxml.html
from parsel import Selector, SelectorList

from index.schema import DEFAULT_TZ
from ..config import DetailRules

from .dates import FULL_RE, MONTH_DAY_DASH_RE, MONTH_DAY_RE, find_datetime, parse_datetime
from .text import clean_line, clean_text, element_text

logger = logging.getLogger(__name__)

_DATE_META_KEYS = ("article:published_time", "og:release_date", "og:published_time", "pubdate", "publishdate",
                   "publish_date", "publish-date", "publishtime", "publish_time", "datepublished", "date",
                   "dc.date", "dc.date.issued", "dcterms.created", "weibo:article:create_at", "apub:time",
                   "sailthru.date", "article:modified_time")
_AUTHOR_META_KEYS = ("author", "article:author", "dc.creator", "byl")
_TIME_HINT_XPATH = ("//*[contains(@class,'time') or contains(@class,'date') or contains(@class,'info') or "
                    "contains(@class,'pubtime') or contains(@id,'time') or contains(@id,'date') or "
                    "contains(@class,'source') or contains(@class,'meta')][not(self::html or self::body)]")
_AUTHOR_RE = re.compile(r"(?:作者|记者|(?<![正原全下])文)\s*[:：/]\s*([\w·\u3000 ]{1,20}?)(?=\s{1,}|$|[|｜，,;；])")
# Old portals often name only the editor; better than no name at all, so it comes last.
_EDITOR_RE = re.compile(r"(?:责任)?编辑\s*[:：/]\s*([\w·\u3000 ]{1,20}?)(?=\s{1,}|$|[|｜，,;；)）])")
_ORIGIN_RE = re.compile(r"来源\s*[:：]\s*([^\s|｜，,;；]{1,30})")
_TITLE_SPLIT = re.compile(r"\s*(?:_|\||｜| - | — |——|-{2,})\s*")
_SHORT_BLOCKS = ("//body//*[self::td or self::div or self::span or self::p or self::li]"
                 "[string-length(normalize-space(.)) < 120]")
_INFO_LABEL = re.compile(r"发布|发表|来源|作者|记者|时间")
_CLOCK = re.compile(r"\d{1,2}[:：]\d{2}")
_WEEKDAY = re.compile(r"星期[一二三四五六日天]|周[一二三四五六日]")
_LABELLED_TIME = re.compile(r"(?:发布时间|发表时间|发布日期|发稿时间|时间|日期)\s*[:：]\s*([\d年月日\-/.:： ]{6,25})")
_RULE_CELL = re.compile(r"^[\s\-:=]*$")  # markdown table separator cells
_META_LINE = re.compile(r"发布时间|发表时间|发布日期|来源\s*[:：]|作者\s*[:：]|编辑\s*[:：]|浏览次数|点击数|字号")
_NAV_LINE = re.compile(r"首页|当前位置|您的位置|所在的位置|现在位置|^\S{1,12}\s*[>›»]+$")
_TITLE_OPEN = re.compile(r"<title[^>]*>", re.I)
_TITLE_CLOSE = re.compile(r"</title\s*>", re.I)
_ANY_TAG = re.compile(r"<[a-zA-Z/!]")
_CUT_AT = "\"'“”‘’「」『』《》"   # where an unescaped quote ends an attribute early
# A line where the article has ended and the page's furniture begins.
_END_OF_ARTICLE = re.compile(r"^\W{0,3}(?:【?免责声明|版权声明|责任编辑|相关阅读|相关新闻|相关文章|推荐阅读|延伸阅读|热点新闻|"
                             r"热门推荐|为您推荐|猜你喜欢|分享到|网友评论|点击排行|跟贴排行|扫描二维码|更多精彩|"
                             r"本文来源|原标题)|评论\s*\d+\s*赞\s*\d+")
_UNKNOWN_NOW = datetime(2999, 12, 31, 23, 59, tzinfo=DEFAULT_TZ)   # stands for an unknown capture time
_BYLINE_CHARS = 160  # the byline follows the headline within this many characters of page text
_SENTENCE = 20      # characters; shorter lines are headings, links, buttons
_MIN_PARAGRAPH = 8  # characters; shorter <p> are usually captions or buttons


class ExtractionError(ValueError):
    """The page has no usable text (not a transient failure: retrying will not help)."""


@dataclass
class ExtractedPage:
    title: str = ""
    content: str = ""
    published_at: datetime | None = None
    published_from: str = ""        # which step found the time, for debugging extraction rules
    author: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)


def repair_markup(html: str) -> str:
    """Close an unterminated <title>. Its content is raw text to an HTML parser, so a
    missing </title> swallows the whole page into the title; every other unclosed
    tag lxml repairs by itself."""
    opening = _TITLE_OPEN.search(html)
    if not opening:
        return html
    rest = html[opening.end():]
    closing = _TITLE_CLOSE.search(rest)
    next_tag = _ANY_TAG.search(rest)
    if next_tag and (closing is None or closing.start() > next_tag.start()):
        return html[:opening.end()] + rest[:next_tag.start()] + "</title>" + rest[next_tag.start():]
    return html


def meta_tags(sel: Selector) -> dict[str, str]:
    """<meta> content by lower-cased name/property/itemprop (first occurrence wins)."""
    found: dict[str, str] = {}
    for meta in sel.xpath("//meta"):
        key = meta.attrib.get("name") or meta.attrib.get("property") or meta.attrib.get("itemprop")
        value = meta.attrib.get("content")
        if key and value and value.strip():
            found.setdefault(key.strip().lower(), value.strip())
    return found


def css_text(sel: Selector | SelectorList, css: str | None) -> str:
    """Text of what a configured CSS selector matches: ::text/::attr results joined, elements flattened."""
    if not css:
        return ""
    try:
        matched = sel.css(css)
    except Exception as exc:  # a bad selector in YAML must name itself, not crash the crawl
        raise ValueError(f"invalid CSS selector {css!r}: {exc}") from None
    parts = []
    for node in matched:
        root = node.root
        if isinstance(root, str):
            parts.append(root)
        elif isinstance(root, lxml.html.HtmlElement):
            parts.append(element_text(detached_copy(root)))
        else:
            parts.append(node.get())
    return clean_text("\n".join(parts))


def detached_copy(element: lxml.html.HtmlElement) -> lxml.html.HtmlElement:
    """element_text edits the tree it reads; give it a copy so later selectors see the original."""
    return lxml.html.fragment_fromstring(lxml.html.tostring(element, encoding="unicode"), create_parent="div")


def _trafilatura_run(html: str, url: str | None, **options: Any) -> dict[str, Any]:
    import trafilatura

    try:
        doc = trafilatura.bare_extraction(html, url=url, with_metadata=True, include_comments=False,
                                          include_tables=True, **options)
    except Exception as exc:  # trafilatura is robust but not total; a failure only skips this step
        logger.debug("trafilatura failed on %s: %s", url, exc)
        return {}
    if doc is None:
        return {}
    return doc.as_dict() if hasattr(doc, "as_dict") else dict(doc)


def _body_weight(text: str | None) -> int:
    """Characters in sentence-length lines: body text has many, nav/related-link lists few."""
    return sum(len(line) for line in (text or "").splitlines() if len(line.strip()) >= _SENTENCE)


def _trafilatura(html: str, url: str | None) -> dict[str, Any]:
    """trafilatura in precision mode, unless balanced mode finds clearly more body text.

    Precision drops nav and related links on small article pages; on some portal
    layouts (163.com) it picks a recommendation box instead of the article, which
    balanced mode gets right. The run with more sentence-length text wins; ties
    go to precision.
    """
    precise = _trafilatura_run(html, url, favor_precision=True)
    balanced = _trafilatura_run(html, url)
    if _body_weight(balanced.get("text")) > 1.2 * _body_weight(precise.get("text")):
        return balanced
    return precise or balanced


def _title_from_head(sel: Selector) -> str:
    raw = clean_line(sel.xpath("//title/text()").get())
    if not raw:
        return ""
    parts = [p for p in _TITLE_SPLIT.split(raw) if p]
    return parts[0] if parts and len(parts[0]) >= 4 else raw


def _headings(sel: Selector) -> list[str]:
    texts = []
    for node in sel.xpath("//h1 | //h2 | //h3 | //*[contains(@class,'title')][not(self::title)]")[:20]:
        text = clean_line(" ".join(node.xpath(".//text()").getall()))
        if 4 <= len(text) <= 120:
            texts.append(text)
    return texts


def _heading_title(sel: Selector, candidate: str) -> str:
    """The page heading that the <title>-like candidate contains: "标题-九江在线" → "标题".
    Without a matching heading, the candidate minus a trailing site-name segment."""
    headings = _headings(sel)
    if not candidate:
        return headings[0] if headings else ""
    # A heading that goes on where the candidate stops: the candidate was cut, typically by a
    # quotation mark inside a meta attribute (content="狂奔的龙湖集团"暗伤"曝露？" reads as 狂奔的龙湖集团).
    longer = [h for h in headings if h.startswith(candidate) and len(h) > len(candidate)
              and h[len(candidate)] in _CUT_AT]
    if longer:
        return min(longer, key=len)
    matches = [h for h in headings if h in candidate]
    if matches:
        return max(matches, key=len)
    parts = [p for p in _TITLE_SPLIT.split(candidate) if p]
    return parts[0] if len(parts) > 1 and len(parts[0]) >= 4 else candidate


def untable(text: str) -> str:
    """trafilatura renders layout tables as "| cell | cell |" rows; old sites lay out
    whole pages with tables, so turn rows back into plain lines."""
    lines = []
    for line in text.splitlines():
        stripped = line.strip()
        if stripped.startswith("|") and stripped.endswith("|"):
            cells = re.split(r"(?<!\\)\|", stripped.strip("|"))
            lines.extend(cell.replace("\\|", "|").strip() for cell in cells
                         if not _RULE_CELL.match(cell))
        else:
            lines.append(line)
    return clean_text("\n".join(lines))


def strip_boilerplate_lines(text: str, title: str) -> str:
    """Drop what extraction keeps around the body: above it the title, nav, info and short widget
    lines (登录 / 消息 / 通知); below it everything from the first end-of-article marker in the
    latter half (责任编辑, 免责声明, 相关阅读, 分享到, "评论 108 赞 305" lists …)."""
    lines = text.splitlines()
    while lines:
        head = lines[0]
        if (head == title or (len(head) <= 80 and (_META_LINE.search(head) or _NAV_LINE.search(head)))
                or (len(head.strip()) < _MIN_PARAGRAPH and any(len(line) >= _SENTENCE for line in lines[1:4]))):
            lines.pop(0)
            continue
        break
    total = sum(len(line) for line in lines)
    seen = 0
    for i, line in enumerate(lines):
        if i and seen >= total * 0.4 and _END_OF_ARTICLE.search(line):
            lines = lines[:i]
            break
        seen += len(line)
    return "\n".join(lines)


def _paragraphs(sel: Selector) -> str:
    texts = (clean_line(" ".join(p.xpath(".//text()").getall())) for p in sel.xpath("//body//p"))
    return "\n".join(t for t in texts if len(t) >= _MIN_PARAGRAPH)


class ArticleExtractor:
    """Title, body, time and author of one HTML page (see module docstring for the order)."""

    def __init__(self, rules: DetailRules | None = None, tz: tzinfo = DEFAULT_TZ):
        self.rules = rules or DetailRules()
        self.tz = tz

    def extract(self, html: str, url: str | None = None, now: datetime | None = None,
                listed_at: datetime | None = None, *, now_unknown: bool = False) -> ExtractedPage:
        """`now` is the crawl time that relative (昨天, 3小时前) and year-less (10-08 12:00) dates are read
        against; `now_unknown` says a saved page's capture time is not known: such a date then gives no
        publish time (None) unless the page itself supplies the year."""
        if now_unknown:
            page = self.extract(html, url, _UNKNOWN_NOW, listed_at)
            if page.published_at is not None and page.published_at.year >= _UNKNOWN_NOW.year - 1:
                page.published_at, page.published_from = None, ""
            return page
        if not html or not html.strip():
            raise ExtractionError("empty page")
        html = repair_markup(html)
        sel = Selector(text=html)
        meta = meta_tags(sel)
        page = ExtractedPage()
        lazy: dict[str, Any] = {}
        text = PageText(sel)

        def traf() -> dict[str, Any]:
            if "doc" not in lazy:
                lazy["doc"] = _trafilatura(html, url)
            return lazy["doc"]

        page.title = clean_line(css_text(sel, self.rules.title)) or self._title(sel, meta, traf, text)
        page.content = (css_text(sel, self.rules.content)
                        or strip_boilerplate_lines(untable(traf().get("text") or ""), page.title)
                        or _paragraphs(sel)
                        or clean_text(meta.get("og:description") or meta.get("description")))
        if not (page.title or page.content):
            raise ExtractionError("no title or text found")

        page.published_at, page.published_from = self._published_at(sel, meta, now, listed_at, traf, page.title,
                                                                    text)
        if page.published_at is not None:
            page.published_at = refine_time(page.published_at, page.published_from, html, text.joined, self.tz)
        page.author = (clean_line(css_text(sel, self.rules.author)) or self._labelled(sel, _AUTHOR_RE)
                       or next((clean_line(meta[k]) for k in _AUTHOR_META_KEYS if meta.get(k)), None)
                       or clean_line(traf().get("author")) or self._labelled(sel, _EDITOR_RE)) or None
        origin = self._labelled(sel, _ORIGIN_RE)
        if origin:
            page.extra["origin"] = origin
        for key, css in self.rules.extra.items():
            value = css_text(sel, css)
            if value:
                set_dotted(page.extra, key, value)
        return page

    @staticmethod
    def _title(sel: Selector, meta: dict[str, str], traf: Callable[[], dict[str, Any]], text: "PageText") -> str:
        # The article's own headline is a page heading that <title> (or og:title) begins with —
        # "标题-EDN 电子技术设计", "标题 东区办事处": the site's name follows. Headings of sidebars
        # and recommendation lists are not in <title>, whatever trafilatura picked.
        full_head = clean_line(sel.xpath("//title/text()").get())
        headings = _headings(sel)
        for candidate in (full_head, clean_line(meta.get("og:title"))):
            starts = [h for h in headings if candidate and len(h) >= 6 and candidate.startswith(h)]
            if starts:
                return max(starts, key=len)
        # No heading element: a text of the page that <title> begins with, most of <title>'s first part
        # (layout-table sites put the headline in a <td>): "标题 东区办事处_中山网" → "标题".
        first = _title_from_head(sel)
        starts = [t for t in text.nodes if full_head and 6 <= len(t) < len(full_head) and full_head.startswith(t)
                  and len(t) >= 0.6 * len(first)]
        if starts:
            return max(starts, key=len)
        head = first
        title = clean_line(traf().get("title")) or clean_line(meta.get("og:title")) or head
        if head and title != head and title.startswith(head) and len(title) > len(head) + 8:
            title = head  # an unclosed heading swallowed the text after it; <title> is intact
        elif head and title and len(head) > len(title) and head.startswith(title) and head[len(title)] in _CUT_AT:
            title = head  # a quotation mark cut the meta/og title short; <title> has all of it
        return _heading_title(sel, title)

    def _published_at(self, sel: Selector, meta: dict[str, str], now: datetime | None,
                      listed_at: datetime | None, traf: Callable[[], dict[str, Any]],
                      title: str, text: "PageText") -> tuple[datetime | None, str]:
        if self.rules.published_at:
            value = find_datetime(css_text(sel, self.rules.published_at), now, self.tz, loose=True)
            if value:
                return value, "selector"
        value = self._byline_time(text.joined, title, now)
        if value:
            return value, "byline"
        for key in _DATE_META_KEYS:
            value = parse_datetime(meta.get(key), now, self.tz)
            if value:
                return value, f"meta:{key}"
        value = self._info_line_time(sel, now)
        if value:
            return value, "info"
        for label_hit in _labelled_times(text.joined):
            value = parse_datetime(label_hit, now, self.tz)
            if value:
                return value, "label"
        if listed_at:
            return listed_at, "listing"
        value = parse_datetime(traf().get("date"), now, self.tz)
        if value:
            return value, "trafilatura"
        return None, ""

    def _byline_time(self, text: str, title: str, now: datetime | None) -> datetime | None:
        """The date and clock time in the byline: the first one in the text just after the headline
        (新华社 2020-01-03 18:13, 发表于2014-08-24 21:30 | 来源…). What the reader sees beats meta
        tags, which some portals fill with an update time."""
        if len(title) < 4:
            return None
        at = text.find(title)
        if at < 0:
            return None
        window = text[at + len(title): at + len(title) + _BYLINE_CHARS]
        for regex in (FULL_RE, MONTH_DAY_DASH_RE, MONTH_DAY_RE):
            for match in regex.finditer(window):
                if match.group("H") is None:
                    continue
                value = parse_datetime(match.group(0), now, self.tz)
                if value is not None:
                    return value
        return None

    def _info_line_time(self, sel: Selector, now: datetime | None) -> datetime | None:
        """Best time among short elements whose class/id hints at time/date/info.

        A labelled line (发布时间/来源) or one with a clock time beats a bare date:
        headers often show today's date (2026年11月24日 星期二) in a "date" element.
        """
        best: tuple[int, datetime] | None = None
        for node in sel.xpath(_TIME_HINT_XPATH)[:40]:
            text = clean_line(" ".join(node.xpath(".//text()").getall()))
            if not 0 < len(text) <= 200:  # a long block is content, not an info line
                continue
            value = find_datetime(text, now, self.tz, loose=True)
            if value is None:
                continue
            score = (2 if _INFO_LABEL.search(text) else 0) + (1 if _CLOCK.search(text) else 0)
            score -= 2 if _WEEKDAY.search(text) else 0
            if best is None or score > best[0]:
                best = (score, value)
        return best[1] if best else None

    @staticmethod
    def _labelled(sel: Selector, regex: re.Pattern[str]) -> str | None:
        """A labelled value (作者：张三) from the info line, else from any short block:
        long blocks are article text, where "记者：" may start a quoted question."""
        nodes = sel.xpath(_TIME_HINT_XPATH)[:30] + sel.xpath(_SHORT_BLOCKS)[:300]
        for node in nodes:
            match = regex.search(" ".join(node.xpath(".//text()").getall()))
            if match:
                return clean_line(match.group(1)) or None
        return None


def refine_time(value: datetime, found_by: str, html: str, page_text: str, tz: tzinfo) -> datetime:
    """Two repairs a page itself allows:
    - a bare date (a meta tag, trafilatura's day): the same date shown with a clock time on the
      page gives the time (人民网 meta 2019-06-15, byline 2019年06月15日08:18);
    - a date read without its year (10-08 12:00, resolved against the crawl time): the page's own
      full date with the same month, day and clock (a script's "2019-10-08 12:00:57") gives the year.
    `html` is searched whole (scripts hold such dates); `page_text` is the visible text.
    """
    local = value.astimezone(tz)
    bare = (local.hour, local.minute, local.second) == (0, 0, 0)
    yearless = found_by in ("info", "byline", "label", "selector", "listing")
    if not (bare or yearless):
        return value
    shown = [full for full in (parse_datetime(m.group(0), None, tz) for m in FULL_RE.finditer(" ".join(html.split()))
                               if m.group("H") is not None) if full is not None]      # the page's dates with a clock
    if bare:
        same_day = next((full for full in shown if full.astimezone(tz).date() == local.date()), None)
        if same_day is not None:
            return same_day
    if yearless:
        clock = (local.month, local.day, local.hour, local.minute)
        for full in shown:
            f = full.astimezone(tz)
            if (f.month, f.day, f.hour, f.minute) == clock and f.year != local.year and _yearless(page_text, local):
                return local.replace(year=f.year)
    return value


class PageText:
    """The page's visible text (scripts and styles left out), read once per extraction: its
    cleaned text nodes and all of it on one line."""
    _XPATH = "//body//text()[not(ancestor::script or ancestor::style)]"

    def __init__(self, sel: Selector):
        self._raw = sel.xpath(self._XPATH).getall()
        self._nodes: list[str] | None = None
        self._joined: str | None = None

    @property
    def nodes(self) -> list[str]:
        if self._nodes is None:
            self._nodes = [t for t in (clean_line(x) for x in self._raw) if t]
        return self._nodes

    @property
    def joined(self) -> str:
        if self._joined is None:
            self._joined = clean_line(" ".join(self._raw))
        return self._joined


def _yearless(text: str, local: datetime) -> bool:
    """The page text shows this month-day-clock without a year (so the year was a guess)."""
    pattern = re.compile(rf"(?<![\d年/\-.]){local.month:02d}-{local.day:02d}\s+{local.hour:02d}:{local.minute:02d}"
                         rf"|(?<![\d年]){local.month}月{local.day}日\s*{local.hour:02d}:{local.minute:02d}")
    return bool(pattern.search(text))


def _labelled_times(text: str) -> list[str]:
    return [m.group(1).strip() for m in _LABELLED_TIME.finditer(text)]


def set_dotted(target: dict[str, Any], key: str, value: Any) -> None:
    """extra["reply.department"] = x → extra["reply"]["department"] = x."""
    *parents, leaf = key.split(".")
    for part in parents:
        nested = target.get(part)
        if not isinstance(nested, dict):
            nested = target[part] = {}
        target = nested
    target[leaf] = value
