"""Government message boards (问政) and forums: list table → message pages with the official reply."""
from __future__ import annotations

import re
from collections.abc import Iterator
from urllib.parse import parse_qsl, urlsplit

from scrapy.http import Response

from ..extract.board import BoardMessageExtractor
from ..extract.listing import ListingRow
from ..items import RawPost
from .listing import ListDetailSpider

_ID_PARAMS = ("id", "mid", "msgid", "msg_id", "messageid", "tid", "pid", "aid", "articleid", "infoid", "letterid")
_EXTENSION = re.compile(r"\.(?:s?html?|jsp|aspx?|php|do)$", re.I)


def message_id_from_url(url: str) -> str | None:
    """The board's own message number: an id-like query parameter, else the last path
    segment when it contains a digit (/wz/detail/20261118001, /thread-123.html)."""
    parts = urlsplit(url)
    params = {k.lower(): v for k, v in parse_qsl(parts.query)}
    for key in _ID_PARAMS:
        if params.get(key):
            return params[key]
    segment = _EXTENSION.sub("", parts.path.rstrip("/").rsplit("/", 1)[-1])
    return segment if segment and any(ch.isdigit() for ch in segment) else None


class GovBoardSpider(ListDetailSpider):
    name = "gov_board"

    def parse_detail(self, response: Response, listing: ListingRow | None = None) -> Iterator[RawPost]:
        html = self.text_of(response)
        if html is None:
            return
        try:
            page = BoardMessageExtractor(self.source.detail, self.tz).extract(html, response.url, self.now(),
                                                                            listing)
        except ValueError as exc:
            self.parse_failed(response, "parse", exc)
            return
        yield self.raw_post(url=response.url, native_id=message_id_from_url(response.url),
                            title=page.title or (listing.title if listing else ""), content=page.content,
                            published_at=page.published_at, author={"name": page.author}, extra=page.extra)


class ForumSpider(GovBoardSpider):
    """Tieba-style forums: thread list → thread page. With `forum:` rules, the page's first floor is the
    thread and each later floor a reply of its own (parent and root: the thread), so comment waves
    count in the event and the spread rules; without them a thread page reads like a board message."""
    name = "forum"

    def parse_detail(self, response: Response, listing: ListingRow | None = None) -> Iterator[RawPost]:
        rules = self.source.forum
        if rules is None:
            yield from super().parse_detail(response, listing)
            return
        html = self.text_of(response)
        if html is None:
            return
        from parsel import Selector

        from ..extract.article import ArticleExtractor, css_text
        from ..extract.dates import find_datetime
        from ..extract.text import clean_line
        sel = Selector(text=html)
        try:
            floors = sel.css(rules.floor)
            title = clean_line(css_text(sel, self.source.detail.title)) if self.source.detail.title else ""
            title = title or ArticleExtractor(self.source.detail, self.tz).extract(html, response.url, self.now()).title
        except ValueError as exc:
            self.parse_failed(response, "parse", exc)
            return
        if not floors:
            self.parse_failed(response, "parse", ValueError(f"no floor matched forum.floor {rules.floor!r}"))
            return
        thread = message_id_from_url(response.url)
        for number, floor in enumerate(floors[: rules.max_replies + 1], start=1):
            content = css_text(floor, rules.content)
            if not content:
                continue
            own = clean_line(css_text(floor, rules.floor_id)) if rules.floor_id else ""
            when = find_datetime(css_text(floor, rules.published_at), self.now(), self.tz, loose=True) \
                if rules.published_at else None
            author = clean_line(css_text(floor, rules.author)) if rules.author else ""
            if number == 1:
                yield self.raw_post(url=response.url, native_id=thread, title=title or (listing.title if listing else ""),
                                    content=content, published_at=when or (listing.listed_at if listing else None),
                                    author={"name": author}, extra={"floor": 1})
            else:
                key = own or str(number)
                yield self.raw_post(url=f"{response.url}#{key}", native_id=f"{thread}-{key}" if thread else None,
                                    title="", content=content, published_at=when, author={"name": author},
                                    parent_native_id=thread, root_native_id=thread,
                                    extra={"floor": number, "thread_title": title})
