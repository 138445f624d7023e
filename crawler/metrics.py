"""Crawl counters (Scrapy stats keys) and the one place errors are logged and counted.

Every failure (HTTP error, timeout, undecodable or unparsable page, invalid item)
goes through record_error, so the log line always names the URL and the reason
and the per-source report can total them.
"""
from __future__ import annotations

import logging
from typing import Any

logger = logging.getLogger("crawler.errors")

PREFIX = "yuqing/"
PAGES = PREFIX + "pages_fetched"          # pages and API responses received (2xx, decoded)
WRITTEN = PREFIX + "items_written"
SKIPPED_SEEN = PREFIX + "items_skipped_seen"
DUPLICATES = PREFIX + "items_duplicate"
INVALID = PREFIX + "items_invalid"
IGNORED = PREFIX + "requests_ignored"
SKIPPED_KNOWN = PREFIX + "fetches_skipped_known"   # incremental crawls: pages not fetched, nothing new there
ERRORS = PREFIX + "errors"
ERROR_KIND = PREFIX + "errors/"        # + kind: http_404, timeout, decode, parse, invalid, inbox …


def record_error(stats: Any, source: str, url: str | None, kind: str, reason: str,
                 level: int = logging.WARNING) -> None:
    """Log one failure with its URL and reason, and count it (total and per kind)."""
    logger.log(level, "%s: %s failed (%s): %s", source, url or "-", kind, reason,
               extra={"source": source, "url": url, "kind": kind, "reason": reason})
    if stats is not None:
        stats.inc_value(ERRORS)
        stats.inc_value(ERROR_KIND + kind)
