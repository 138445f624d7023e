"""News sites: list pages → article pages, extracted generically (crawler/extract/article.py)."""
from __future__ import annotations

import logging
from collections.abc import Iterator

from scrapy.http import Response

from ..extract.article import ArticleExtractor
from ..extract.listing import ListingRow
from ..items import RawPost
from .listing import ListDetailSpider

logger = logging.getLogger(__name__)


class NewsSpider(ListDetailSpider):
    name = "news"

    def parse_detail(self, response: Response, listing: ListingRow | None = None) -> Iterator[RawPost]:
        html = self.text_of(response)
        if html is None:
            return
        try:
            page = ArticleExtractor(self.source.detail, self.tz).extract(
                html, response.url, self.now(), listing.listed_at if listing else None)
        except ValueError as exc:   # ExtractionError, or a bad selector in the source's YAML
            self.parse_failed(response, "parse", exc)
            return
        logger.debug("%s: %s time from %s", self.name, response.url, page.published_from or "nowhere")
        yield self.raw_post(url=response.url, title=page.title or (listing.title if listing else ""),
                            content=page.content, published_at=page.published_at,
                            author={"name": page.author}, extra=page.extra)
