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
    """Forum threads share the board shape: list of threads → thread page (first post)."""
    name = "forum"
