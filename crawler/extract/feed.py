"""RSS 2.0 and Atom feeds to plain entries.

Parsed with parsel/lxml (the engine behind Scrapy's XMLFeedSpider) with
namespaces removed, so content:encoded and dc:creator read as plain tags and
one parser covers both formats. Entity expansion stays off (lxml's
resolve_entities=False in parsel), so a hostile feed cannot read local files.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, tzinfo
from urllib.parse import urljoin

from parsel import Selector

from index.schema import DEFAULT_TZ

from .dates import parse_datetime
from .encoding import UnknownEncoding, decodes, normalize_encoding
from .text import clean_line, html_to_text

_XML_DECL = re.compile(rb"^\s*<\?xml[^>]*?encoding=[\"']([\w.:\-]+)[\"'][^>]*\?>", re.I)
_XML_DECL_TEXT = re.compile(r"^\s*<\?xml[^>]*\?>", re.I)


class FeedError(ValueError):
    """Not a feed we can read (not XML, or neither RSS nor Atom)."""


@dataclass
class FeedEntry:
    title: str
    link: str | None
    guid: str | None
    published_at: datetime | None
    author: str | None
    content: str           # plain text: content:encoded (or Atom content), else description/summary
    content_from: str      # "content" or "description", for debugging feeds


def decode_feed(body: bytes, forced: str | None = None) -> str:
    """Feed bytes to text. The XML declaration names the encoding; GB2312/GBK widen to GB18030,
    which libxml2 would not do on its own (GBK-only characters would fail)."""
    candidates: list[str] = []
    if forced:
        candidates.append(normalize_encoding(forced))
    if body.startswith(b"\xef\xbb\xbf"):
        candidates.append("utf-8-sig")
    declared = _XML_DECL.match(body)
    if declared:
        try:
            candidates.append(normalize_encoding(declared.group(1).decode("ascii")))
        except UnknownEncoding:
            pass
    candidates += ["utf-8", "gb18030"]
    for encoding in candidates:
        if decodes(body, encoding):
            text = body.decode(encoding)
            break
    else:
        text = body.decode(candidates[0], errors="replace")
    # lxml refuses str input that still carries an encoding declaration
    return _XML_DECL_TEXT.sub("", text.lstrip("\ufeff"), count=1)


def parse_feed(body: bytes | str, base_url: str | None = None, now: datetime | None = None,
               tz: tzinfo = DEFAULT_TZ, forced_encoding: str | None = None) -> list[FeedEntry]:
    text = body if isinstance(body, str) else decode_feed(body, forced_encoding)
    if not text.strip().startswith("<"):
        raise FeedError("not XML")
    sel = Selector(text=_XML_DECL_TEXT.sub("", text.strip(), count=1), type="xml")
    sel.remove_namespaces()
    if sel.xpath("/rss | /RDF | //channel"):
        return [_rss_item(item, base_url, now, tz) for item in sel.xpath("//item")]
    if sel.xpath("/feed"):
        return [_atom_entry(entry, base_url, now, tz) for entry in sel.xpath("//entry")]
    raise FeedError("neither RSS nor Atom (no <rss>/<channel> or <feed> root)")


def _text(node: Selector, xpath: str) -> str:
    return (node.xpath(f"string({xpath})").get() or "").strip()


def _rss_item(item: Selector, base_url: str | None, now: datetime | None, tz: tzinfo) -> FeedEntry:
    encoded = _text(item, "encoded")
    description = _text(item, "description")
    link = _text(item, "link") or None
    guid = _text(item, "guid") or None
    published = (parse_datetime(_text(item, "pubDate"), now, tz) or parse_datetime(_text(item, "date"), now, tz))
    author = clean_line(_text(item, "creator") or _text(item, "author")) or None
    return FeedEntry(title=clean_line(html_to_text(_text(item, "title"))),
                     link=urljoin(base_url, link) if base_url and link else link,
                     guid=guid, published_at=published, author=author,
                     content=html_to_text(encoded or description),
                     content_from="content" if encoded else "description")


def _atom_entry(entry: Selector, base_url: str | None, now: datetime | None, tz: tzinfo) -> FeedEntry:
    link = (entry.xpath("link[@rel='alternate']/@href").get() or entry.xpath("link[not(@rel)]/@href").get()
            or entry.xpath("link/@href").get())
    content = _text(entry, "content")
    summary = _text(entry, "summary")
    published = parse_datetime(_text(entry, "published"), now, tz) or parse_datetime(_text(entry, "updated"), now, tz)
    return FeedEntry(title=clean_line(html_to_text(_text(entry, "title"))),
                     link=urljoin(base_url, link) if base_url and link else link,
                     guid=_text(entry, "id") or None, published_at=published,
                     author=clean_line(_text(entry, "author/name")) or None,
                     content=html_to_text(content or summary),
                     content_from="content" if content else "description")
