"""Government message boards (问政/留言板) and forums: a citizen message and the official reply.

Configured `detail` selectors come first. Without them, boards are recognised by
the conventions most of them share: a reply block whose class contains "reply"
(department, time, content inside), labelled times (留言时间/答复时间) and a status
word (已回复, 办理中 …). The reply lands in extra["reply"], the status in
extra["status"], so the warning rules can tell answered messages from open ones.
"""
from __future__ import annotations

import re
from datetime import datetime, tzinfo
from typing import Any

import lxml.html
from parsel import Selector

from index.schema import DEFAULT_TZ
from ..config import DetailRules

from .article import (ArticleExtractor, ExtractedPage, ExtractionError, css_text, detached_copy, repair_markup,
                      set_dotted)
from .dates import find_datetime
from .listing import ListingRow, status_in
from .text import clean_line, clean_text, element_text

_AUTHOR_PREFIX = re.compile(r"^(?:网友|留言人|提问人|来信人|作者|发帖人|楼主)\s*[:：]\s*")
_MESSAGE_TIME_LABEL = re.compile(r"(?:留言时间|提问时间|来信时间|发布时间|发表时间|发帖时间)\s*[:：]?")
_REPLY_TIME_LABEL = re.compile(r"(?:答复时间|回复时间|办结时间)\s*[:：]?")
_REPLY_DEPT_LABEL = re.compile(r"(?:答复单位|回复单位|答复部门|回复部门|办理单位)\s*[:：]\s*(\S+)")
_REPLY_HINT = "contains(@class,'reply') or contains(@id,'reply') or contains(@class,'answer')"
_REPLY_BLOCK = f"//*[{_REPLY_HINT}][not(ancestor::*[{_REPLY_HINT}])]"
_MIN_REPLY = 6  # characters; shorter "reply" blocks are buttons (回复) not answers


_REPLY_FIELD_ALIASES = {"dept": "department", "unit": "department", "org": "department", "department": "department",
                        "time": "time", "date": "time", "content": "content", "text": "content", "body": "content"}


def canonical_extra_key(key: str) -> str:
    """Configured extra names for the reply all land in extra["reply"]: reply_dept, reply.unit →
    reply.department; reply_time → reply.time; reply_content → reply.content."""
    lowered = key.lower()
    for prefix in ("reply_", "reply.", "reply-"):
        if lowered.startswith(prefix):
            part = lowered[len(prefix):]
            return f"reply.{_REPLY_FIELD_ALIASES.get(part, part)}"
    return key


class BoardMessageExtractor:
    """One message page: title, message text, author, time, status and the official reply."""

    def __init__(self, rules: DetailRules | None = None, tz: tzinfo = DEFAULT_TZ):
        self.rules = rules or DetailRules()
        self.tz = tz

    def extract(self, html: str, url: str | None = None, now: datetime | None = None,
                listing: ListingRow | None = None) -> ExtractedPage:
        if not html or not html.strip():
            raise ExtractionError("empty page")
        html = repair_markup(html)
        sel = Selector(text=html)
        reply = self._reply(sel, now)
        page = ExtractedPage()
        page.title = clean_line(css_text(sel, self.rules.title)) or self._first_heading(sel)
        page.content = css_text(sel, self.rules.content) or self._message_text(sel)
        author = clean_line(css_text(sel, self.rules.author)) or self._class_text(sel, "author")
        page.author = _AUTHOR_PREFIX.sub("", author).strip() or None

        page.published_at, page.published_from = self._message_time(sel, now, listing)
        for key, css in self.rules.extra.items():
            value = css_text(sel, css)
            if value:
                set_dotted(page.extra, canonical_extra_key(key), value)
        configured = page.extra.get("reply")
        if isinstance(configured, dict):
            if configured.get("time"):
                parsed = find_datetime(configured["time"], now, self.tz, loose=True)
                configured["time"] = parsed.isoformat() if parsed else configured["time"]
            page.extra["reply"] = {**(reply or {}), **configured}   # configured parts win
        elif reply:
            page.extra["reply"] = reply
        raw_status = (page.extra.get("status") or (listing.status if listing else None)
                      or self._class_text(sel, "status"))
        # "办理状态：已回复" → "已回复"; an unknown wording is kept as the site wrote it
        status = status_in(raw_status) or clean_line(raw_status) or ("已回复" if page.extra.get("reply") else "")
        if status:
            page.extra["status"] = status

        if not (page.title or page.content):
            # no board markup we recognise: fall back to generic article extraction
            generic = ArticleExtractor(self.rules, self.tz).extract(html, url, now,
                                                                  listing.listed_at if listing else None)
            generic.extra.update(page.extra)
            return generic
        return page

    # --- pieces -----------------------------------------------------------
    @staticmethod
    def _first_heading(sel: Selector) -> str:
        for xp in ("//*[contains(@class,'title')][self::h1 or self::h2 or self::h3]", "//h1", "//h2", "//title"):
            text = clean_line(" ".join(sel.xpath(f"({xp})[1]//text()").getall()))
            if text:
                return text
        return ""

    @staticmethod
    def _class_text(sel: Selector, hint: str) -> str:
        node = sel.xpath(f"(//*[contains(@class,'{hint}')][not(ancestor-or-self::*[{_REPLY_HINT}])])[1]")
        return clean_line(" ".join(node.xpath(".//text()").getall()))

    @staticmethod
    def _message_text(sel: Selector) -> str:
        """The first content-like element that neither is, sits in, nor wraps the reply block."""
        candidates = sel.xpath(
            "//*[contains(@class,'content') or contains(@class,'detail') or contains(@class,'body')]"
            f"[not(ancestor-or-self::*[{_REPLY_HINT}])][not(.//*[{_REPLY_HINT}])]")
        for node in candidates:
            root = node.root
            if isinstance(root, lxml.html.HtmlElement):
                text = element_text(detached_copy(root))
                if text:
                    return text
        return ""

    def _message_time(self, sel: Selector, now: datetime | None,
                      listing: ListingRow | None) -> tuple[datetime | None, str]:
        if self.rules.published_at:
            value = find_datetime(css_text(sel, self.rules.published_at), now, self.tz, loose=True)
            if value:
                return value, "selector"
        # Only text outside the reply block: its 答复时间 is not when the message was posted.
        outside = sel.xpath("//body//text()[not(ancestor::script or ancestor::style)]"
                            f"[not(ancestor::*[{_REPLY_HINT}])]").getall()
        text = clean_line(" ".join(outside))
        for label in _MESSAGE_TIME_LABEL.finditer(text):
            value = find_datetime(text[label.start():label.end() + 40], now, self.tz, loose=True)
            if value:
                return value, "label"
        time_cell = self._class_text(sel, "time")
        value = find_datetime(time_cell, now, self.tz, loose=True) if time_cell else None
        if value:
            return value, "info"
        if listing and listing.listed_at:
            return listing.listed_at, "listing"
        return None, ""

    def _reply(self, sel: Selector, now: datetime | None) -> dict[str, Any] | None:
        block = sel.xpath(f"({_REPLY_BLOCK})[1]")
        if not block:
            return None
        dept = clean_line(" ".join(block.xpath(".//*[contains(@class,'dept') or contains(@class,'unit') or "
                                               "contains(@class,'org')][1]//text()").getall()))
        raw_time = clean_line(" ".join(block.xpath(".//*[contains(@class,'time') or contains(@class,'date')]"
                                                   "[1]//text()").getall()))
        content_node = block.xpath(".//*[contains(@class,'content') or contains(@class,'text')][1]")
        whole = clean_text("\n".join(block.xpath(".//text()").getall()))
        if not dept:
            match = _REPLY_DEPT_LABEL.search(whole)
            dept = match.group(1) if match else ""
        if not raw_time:
            label = _REPLY_TIME_LABEL.search(whole)
            raw_time = whole[label.start():label.end() + 40] if label else ""
        content = clean_text("\n".join(content_node.xpath(".//text()").getall())) if content_node else ""
        if not content:
            content = whole
        if not dept and len(content) < _MIN_REPLY:
            return None
        parsed = find_datetime(raw_time, now, self.tz, loose=True) if raw_time else None
        reply: dict[str, Any] = {"department": dept or None, "content": content,
                                 "time": parsed.isoformat() if parsed else None}
        return reply
