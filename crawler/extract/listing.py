"""List pages: which links lead to articles/messages, and what each row says about them.

Driven by yuqing.config.ListPageRules: `link_selector` (CSS; "a::attr(href)" or
an element selector), `link_pattern` (regex the absolute URL must match) and
`next_selector`. Each link's enclosing row (tr/li) is read too, because list
pages often carry the only reliable time (<span class="date">) and a board's
status column (已回复/办理中).
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime, tzinfo
from urllib.parse import urldefrag, urljoin

from parsel import Selector

from index.schema import DEFAULT_TZ
from ..config import ListPageRules

from .dates import find_datetime
from .text import clean_line

STATUS_WORDS = ("已回复", "已答复", "已办结", "已处理", "已受理", "办理中", "处理中", "未回复", "待回复", "未受理", "待受理")
_STATUS_RE = re.compile("|".join(STATUS_WORDS))
_ATTR_SUFFIX = re.compile(r"^(?P<css>.*?)::attr\((?P<attr>[\w\-:]+)\)\s*$")
_SKIP_SCHEMES = ("javascript:", "mailto:", "tel:", "#", "data:")


@dataclass
class ListingRow:
    """One link on a list page and the facts its row shows."""
    url: str
    title: str = ""
    text: str = ""                      # the row's text outside the link
    cells: dict[str, str] = field(default_factory=dict)   # row cells by class name
    listed_at: datetime | None = None
    status: str | None = None


def status_in(text: str | None) -> str | None:
    match = _STATUS_RE.search(text or "")
    return match.group(0) if match else None


def split_selector(css: str) -> tuple[str, str]:
    """"ul.list a::attr(href)" → ("ul.list a", "href"); an element selector → (css, "href")."""
    if "::text" in css:
        raise ValueError(f"link selector {css!r} selects text; select the <a> or its ::attr(href)")
    match = _ATTR_SUFFIX.match(css)
    if match:
        return (match["css"].strip() or "*"), match["attr"]
    return css, "href"


def _select(sel: Selector, css: str):
    try:
        return sel.css(css)
    except Exception as exc:  # cssselect raises several types; the YAML author needs the selector named
        raise ValueError(f"invalid CSS selector {css!r}: {exc}") from None


def _absolute(base_url: str, href: str | None) -> str | None:
    if not href:
        return None
    href = href.strip()
    if not href or href.lower().startswith(_SKIP_SCHEMES):
        return None
    url = urldefrag(urljoin(base_url, href))[0]
    return url if url.startswith(("http://", "https://")) else None


def iter_listing(sel: Selector, base_url: str, rules: ListPageRules, now: datetime | None = None,
                 tz: tzinfo = DEFAULT_TZ) -> list[ListingRow]:
    element_css, attr = split_selector(rules.link_selector)
    pattern = re.compile(rules.link_pattern) if rules.link_pattern else None
    rows: list[ListingRow] = []
    seen: set[str] = set()
    for node in _select(sel, element_css):
        url = _absolute(base_url, node.attrib.get(attr))
        if url is None or url in seen or (pattern and not pattern.search(url)):
            continue
        seen.add(url)
        rows.append(_row(node, url, now, tz))
    return rows


def _row(node: Selector, url: str, now: datetime | None, tz: tzinfo) -> ListingRow:
    title = clean_line(node.attrib.get("title") or " ".join(node.xpath(".//text()").getall()))
    container = node.xpath("ancestor::*[self::tr or self::li or self::dd or self::article][1]")
    if not container:
        container = node.xpath("..")
    # the row's text without the link's own text: a title like "11月17日起限行" is not the listing time
    outside = clean_line(" ".join(container.xpath(".//text()[not(ancestor::a)]").getall())) if container else ""
    cells = {}
    for cell in container.xpath("./*[@class]") if container else []:
        key = cell.attrib["class"].split()[0]
        cells.setdefault(key, clean_line(" ".join(cell.xpath(".//text()").getall())))
    if len(outside) > 200:  # the "row" is a whole page section, not a row
        outside, cells = "", {}
    return ListingRow(url=url, title=title, text=outside, cells=cells,
                      listed_at=find_datetime(outside, now, tz, loose=True), status=status_in(outside))


def next_page_url(sel: Selector, base_url: str, rules: ListPageRules) -> str | None:
    if not rules.next_selector:
        return None
    element_css, attr = split_selector(rules.next_selector)
    for node in _select(sel, element_css):
        url = _absolute(base_url, node.attrib.get(attr))
        if url and url != base_url:
            return url
    return None
