"""List page → detail pages, the shape shared by news sites, message boards and forums."""
from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

import scrapy
from parsel import Selector
from scrapy.http import Response

from ..extract.listing import ListingRow, iter_listing, next_page_url
from .base import SourceSpider

logger = logging.getLogger(__name__)


class ListDetailSpider(SourceSpider):
    """Walks list pages (up to Source.max_pages via list_page.next_selector) and hands
    every matching link, with what its list row said, to parse_detail."""

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
        for row in rows:
            yield self.request(row.url, self.parse_detail, cb_kwargs={"listing": row})
        if next_url and page < self.source.max_pages:
            yield self.request(next_url, self.parse_list, cb_kwargs={"page": page + 1})

    def parse_detail(self, response: Response, listing: ListingRow | None = None) -> Iterator[Any]:
        raise NotImplementedError
