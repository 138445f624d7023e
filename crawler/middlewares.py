"""Downloader middleware: make every page decode right, or reject it with a reason.

Runs after decompression (priority below HttpCompressionMiddleware's 590), so it
sees the real body. The source's configured encoding wins; otherwise Scrapy's
detection stands unless extract.encoding.pick_encoding knows better (GBK pages
with no declaration, GBK bytes behind a UTF-8 declaration).
"""
from __future__ import annotations

import logging
import time
from typing import Any

from scrapy.exceptions import IgnoreRequest, NotConfigured
from scrapy.http import Request, Response, TextResponse

from .extract.encoding import normalize_encoding, pick_encoding, replacement_ratio

logger = logging.getLogger(__name__)


class UndecodableResponse(IgnoreRequest):
    """Too much of the body fails to decode for its text to be worth keeping.

    An IgnoreRequest, so Scrapy hands it to the request's errback, which counts it."""


class PageEncodingMiddleware:
    def __init__(self, forced: str | None = None, max_bad_ratio: float = 0.02):
        self.forced = normalize_encoding(forced) if forced else None
        self.max_bad_ratio = max_bad_ratio

    @classmethod
    def from_crawler(cls, crawler: Any) -> "PageEncodingMiddleware":
        settings = crawler.settings
        return cls(settings.get("YUQING_SOURCE_ENCODING") or None,
                   settings.getfloat("YUQING_MAX_UNDECODABLE_RATIO", 0.02))

    def process_response(self, request: Request, response: Response, spider: Any = None) -> Response:
        if not isinstance(response, TextResponse) or not 200 <= response.status < 300:
            return response
        if self.forced:
            response = response.replace(encoding=self.forced)
        else:
            content_type = response.headers.get(b"Content-Type", b"").decode("latin-1")
            better = pick_encoding(response.body, content_type)
            if better and better != response.encoding:
                logger.debug("decoding %s as %s instead of %s", response.url, better, response.encoding)
                response = response.replace(encoding=better)
        ratio = replacement_ratio(response.text)
        if ratio > self.max_bad_ratio:
            raise UndecodableResponse(f"{ratio:.0%} of the text does not decode as {response.encoding}; "
                                      f"set the source's encoding if the site uses another one")
        return response


class ProxyPoolMiddleware:
    """The source's proxies (Source.proxies → YUQING_PROXIES) in turn, one per request; a proxy the
    connection to which fails is passed over for `YUQING_PROXY_BACKOFF_S` (300 s), and the retried
    request goes through the next one. Scrapy's HttpProxyMiddleware then speaks to it."""

    def __init__(self, proxies: list[str], backoff_s: float = 300.0):
        self.proxies = list(proxies)
        self.backoff_s = backoff_s
        self.down_until: dict[str, float] = {}
        self.turn = 0

    @classmethod
    def from_crawler(cls, crawler: Any) -> "ProxyPoolMiddleware":
        proxies = crawler.settings.getlist("YUQING_PROXIES")
        if not proxies:
            raise NotConfigured("no proxies")
        return cls(proxies, crawler.settings.getfloat("YUQING_PROXY_BACKOFF_S", 300.0))

    def _next(self) -> str:
        now = time.monotonic()
        for _ in range(len(self.proxies)):
            proxy = self.proxies[self.turn % len(self.proxies)]
            self.turn += 1
            if self.down_until.get(proxy, 0) <= now:
                return proxy
        return min(self.proxies, key=lambda p: self.down_until.get(p, 0))   # all down: the one back soonest

    def process_request(self, request: Request, spider: Any = None) -> None:
        current = request.meta.get("yuqing_proxy")
        if current is None or current not in self.proxies or self.down_until.get(current, 0) > time.monotonic():
            proxy = self._next()
            request.meta["yuqing_proxy"] = request.meta["proxy"] = proxy
        return None

    def process_exception(self, request: Request, exception: Exception, spider: Any = None) -> None:
        proxy = request.meta.get("yuqing_proxy")
        if proxy:
            self.down_until[proxy] = time.monotonic() + self.backoff_s
            logger.warning("proxy %s failed (%s); passed over for %.0f s", proxy.split("@")[-1],
                           type(exception).__name__, self.backoff_s)
        return None
