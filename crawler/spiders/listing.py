"""List page → detail pages, the shape shared by news sites, message boards and forums."""
from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Iterator
from typing import Any

import scrapy
from parsel import Selector
from scrapy.http import Response

from ..extract.listing import ListingRow, iter_listing, next_page_url
from .base import SourceSpider

logger = logging.getLogger(__name__)


def row_hash(row: ListingRow) -> str:
    """What a list row shows: a new reply status, title or time changes it."""
    blob = json.dumps([row.url, row.title, row.text, row.status, sorted(row.cells.items())], ensure_ascii=False)
    return hashlib.sha1(blob.encode("utf-8")).hexdigest()


class ListDetailSpider(SourceSpider):
    """Walks list pages (up to Source.max_pages via list_page.next_selector) and hands
    every matching link, with what its list row said, to parse_detail.

    Incremental (YUQING_INCREMENTAL): a row showing what it showed when its post was last
    delivered is not fetched again, and a list page with no new row ends the walk."""

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.listing_marks: dict[str, str] = {}     # detail URL → its row's hash, until the post is delivered

    def start_requests(self) -> Iterator[scrapy.Request]:
        for url in self.start_urls:
            yield self.request(url, self.parse_list, cb_kwargs={"page": 1}, dont_filter=True)

    def parse_list(self, response: Response, page: int = 1) -> Iterator[scrapy.Request]:
        html = self.text_of(response)
        if html is None:
            return
        sel = Selector(text=html)
        try:
            rows = iter_listing(sel, response.url, self.source.list_page, self.now(), self.tz)
            next_url = next_page_url(sel, response.url, self.source.list_page)
        except (ValueError, TypeError) as exc:
            self.parse_failed(response, "parse", exc)
            return
        if not rows:
            logger.warning("%s: no links matched on list page %s (check list_page.link_selector/link_pattern)",
                           self.name, response.url, extra={"source": self.name, "url": response.url})
        fresh = 0
        for row in rows:
            if self.incremental:
                digest = row_hash(row)
                if self.seen_state.row_unchanged(row.url, digest):
                    self.skipped_known()
                    continue
                # recorded by the pipelines once this row's post is delivered or found unchanged
                self.listing_marks[row.url] = digest
            fresh += 1
            yield self.request(row.url, self.parse_detail, cb_kwargs={"listing": row})
        if self.incremental and rows and not fresh:
            return      # newest first: a page with nothing new means the later pages have nothing new
        if next_url and page < self.source.max_pages:
            yield self.request(next_url, self.parse_list, cb_kwargs={"page": page + 1})

    def parse_detail(self, response: Response, listing: ListingRow | None = None) -> Iterator[Any]:
        raise NotImplementedError
