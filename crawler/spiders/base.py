"""The base of every spider: built from one configured Source, with uniform error accounting.

Spiders are chosen by Source.type and take the Source (model, dict or JSON
string) as their `source` argument, so a new site is a YAML entry, not code.
"""
from __future__ import annotations

import json
import logging
import re
from collections.abc import AsyncIterator, Iterator
from datetime import datetime
from typing import Any, Callable
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

import scrapy
from pydantic import ValidationError
from scrapy.exceptions import IgnoreRequest
from scrapy.http import Response, TextResponse
from twisted.python.failure import Failure

from index import clock

from ..config import Source

from .. import metrics
from ..items import RawPost
from ..middlewares import UndecodableResponse
from ..state import SeenState

logger = logging.getLogger(__name__)


def coerce_source(value: Source | dict[str, Any] | str | None) -> Source:
    """Accept the Source model, its dict, or its JSON (as `scrapy crawl -a source=...` passes it)."""
    if isinstance(value, Source):
        return value
    if value is None:
        raise ValueError("a source spider needs a `source` argument (the Source config, dict or JSON)")
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except json.JSONDecodeError as exc:
            raise ValueError(f"source argument is not JSON: {exc}") from None
    try:
        return Source.model_validate(value)
    except ValidationError as exc:
        raise ValueError(f"invalid source config: {exc}") from None


def start_domains(urls: list[str]) -> list[str]:
    """Hosts of the start URLs (without "www."), so links to other sites are not followed;
    subdomains stay allowed (Scrapy's offsite rule)."""
    hosts = []
    for url in urls:
        host = (urlsplit(url).hostname or "").lower()
        host = host.removeprefix("www.")
        if host and host not in hosts:
            hosts.append(host)
    return hosts


def _failure_kind(failure: Failure) -> tuple[str, str]:
    """(kind, reason) for a failed request; classified by exception name so that it works
    across Scrapy/Twisted versions that renamed their exceptions."""
    exc = failure.value
    response = getattr(exc, "response", None)
    if response is not None and getattr(response, "status", None):
        return f"http_{response.status}", f"HTTP {response.status}"
    names = " ".join(c.__name__ for c in type(exc).__mro__)
    if isinstance(exc, UndecodableResponse):
        return "decode", str(exc)
    if "Timeout" in names or "TimedOut" in names:
        return "timeout", str(exc) or "timed out"
    if "DNS" in names or "Resolve" in names:
        return "dns", str(exc)
    if any(k in names for k in ("Refused", "Connect", "ConnectionLost", "ConnectionDone", "ResponseFailed",
                                "DataLoss", "ResponseNeverReceived")):
        return "connection", f"{type(exc).__name__}: {exc}"
    return "fetch", f"{type(exc).__name__}: {exc}"


class SourceSpider(scrapy.Spider):
    """One configured source. Subclasses set `name` (the Source.type they serve) and
    implement start_requests() and the callbacks."""

    name = ""  # empty: abstract, so Scrapy's spider loader skips it

    def __init__(self, source: Source | dict[str, Any] | str | None = None, *args: Any, **kwargs: Any):
        self.source = coerce_source(source)
        kwargs.pop("name", None)
        super().__init__(self.source.name, *args, **kwargs)
        self.start_urls = list(self.source.start_urls)
        self.allowed_domains = start_domains(self.start_urls)

    @classmethod
    def from_crawler(cls, crawler: Any, *args: Any, **kwargs: Any) -> "SourceSpider":
        spider = super().from_crawler(crawler, *args, **kwargs)
        spider.allowed_domains += [d for d in crawler.settings.getlist("YUQING_EXTRA_DOMAINS")
                                   if d not in spider.allowed_domains]
        return spider

    @classmethod
    def check_source(cls, source: Source) -> list[str]:
        """Problems that make this source uncrawlable (shown before any request is sent)."""
        return []

    # --- time and context ---------------------------------------------------
    @property
    def tz(self) -> ZoneInfo:
        settings = getattr(self, "settings", None)
        return ZoneInfo(settings.get("YUQING_TIMEZONE", "Asia/Shanghai") if settings else "Asia/Shanghai")

    def now(self) -> datetime:
        return clock.now(self.tz)

    # --- incremental crawls (YUQING_INCREMENTAL) -----------------------------------
    @property
    def incremental(self) -> bool:
        settings = getattr(self, "settings", None)
        return bool(settings and settings.getbool("YUQING_INCREMENTAL"))

    @property
    def seen_state(self) -> SeenState:
        """What earlier crawls delivered (opened on first use, closed with the spider)."""
        if getattr(self, "_seen_state", None) is None:
            self._seen_state = SeenState(self.settings.get("YUQING_STATE_PATH"))
        return self._seen_state

    def skipped_known(self, n: int = 1) -> None:
        if self.stats is not None:
            self.stats.inc_value(metrics.SKIPPED_KNOWN, n)

    def closed(self, reason: str) -> None:
        state = getattr(self, "_seen_state", None)
        if state is not None:
            state.close()
            self._seen_state = None

    @property
    def platform(self) -> str:
        return self.source.platform_name

    @property
    def stats(self) -> Any:
        crawler = getattr(self, "crawler", None)
        return crawler.stats if crawler else None

    # --- requests -------------------------------------------------------------
    async def start(self) -> AsyncIterator[Any]:
        for request in self.start_requests():
            yield request

    def start_requests(self) -> Iterator[scrapy.Request]:
        raise NotImplementedError

    def request(self, url: str, callback: Callable[..., Any], **kwargs: Any) -> scrapy.Request:
        """Every request goes through here so that every failure reaches on_error."""
        return scrapy.Request(url, callback=callback, errback=self.on_error, **kwargs)

    def on_error(self, failure: Failure) -> None:
        request = getattr(failure, "request", None)
        url = request.url if request is not None else None
        kind, reason = _failure_kind(failure)
        if kind == "fetch" and failure.check(IgnoreRequest):
            # robots.txt or the offsite rule said no: policy, not a failure
            if self.stats is not None:
                self.stats.inc_value(metrics.IGNORED)
            logger.info("%s: skipped %s: %s", self.name, url, reason, extra={"source": self.name, "url": url})
            return
        metrics.record_error(self.stats, self.name, url, kind, reason)

    # --- responses ------------------------------------------------------------
    def text_of(self, response: Response) -> str | None:
        """The decoded page, or None (error recorded) when the response is not text."""
        if not isinstance(response, TextResponse):
            self.parse_failed(response, "not_text",
                              f"not a text page ({response.headers.get(b'Content-Type', b'?').decode('latin-1')})")
            return None
        self.page_fetched()
        return response.text

    def page_fetched(self) -> None:
        if self.stats is not None:
            self.stats.inc_value(metrics.PAGES)

    def parse_failed(self, response: Response, kind: str, reason: Exception | str) -> None:
        metrics.record_error(self.stats, self.name, response.url, kind, str(reason))

    def raw_post(self, **fields: Any) -> RawPost:
        fields.setdefault("crawled_at", self.now())
        if self.source.id_pattern and fields.get("url") and "#" not in fields["url"]:
            match = re.search(self.source.id_pattern, fields["url"])
            if match and match.group(1):
                # the site's own id, in this source's namespace: stable whatever scheme, host or port serves it
                fields["native_id"] = f"{self.source.name}/{match.group(1)}"
        return RawPost(source=self.source.name, platform=self.platform, **fields)
