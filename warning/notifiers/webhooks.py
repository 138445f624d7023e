"""Chat robots and webhooks: DingTalk, WeCom (企业微信), Feishu (飞书) and a generic signed JSON webhook.

Each speaks its platform's documented robot API:

- DingTalk custom robot: POST {"msgtype": "markdown", "markdown": {"title", "text"}}; signed robots get
  `timestamp` (ms) and `sign` = urlencode(base64(HMAC-SHA256(key=secret, msg=f"{timestamp}\\n{secret}")))
  as query parameters; success is {"errcode": 0}.
- WeCom group robot: POST {"msgtype": "markdown", "markdown": {"content"}} (content ≤ 4096 bytes); the key
  in the URL is the credential; success is {"errcode": 0}.
- Feishu custom bot: POST {"msg_type": "interactive", "card": {…}}; signed bots add `timestamp` (s) and
  `sign` = base64(HMAC-SHA256(key=f"{timestamp}\\n{secret}", msg=b"")) to the body; success is {"code": 0}.
- Generic webhook: POST the alert as JSON with `X-Yuqing-Timestamp` and
  `X-Yuqing-Signature: sha256=hex(HMAC-SHA256(secret, f"{timestamp}.".encode() + body))`.

Long content is split into several messages under the platform's size limit, each numbered (1/3).
Each POST is retried with exponential backoff (connection errors, HTTP 429/5xx and the platforms'
rate-limit codes); what still fails raises NotificationError, the engine records it and retries at later
evaluations, and after its last attempt the message becomes a dead letter (warning.deadletters).
URLs and secrets are read from environment variables named in app.yaml, never written in YAML.
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import re
import time
import urllib.parse
from collections.abc import Callable
from datetime import tzinfo
from typing import Any, ClassVar

import httpx
from pydantic import Field, model_validator

from index.configbase import StrictModel
from index.schema import DEFAULT_TZ, Alert, AlertLevel

from ..alerts import AlertChange
from ..labels import CHANGE_LABELS
from .base import NotificationError, Notifier, NotifierContext, from_env
from .text import alert_lines, subject_line

logger = logging.getLogger(__name__)

RETRY_STATUSES = {429, 500, 502, 503, 504}
_LINE_START = re.compile(r"^[#>*\-+\d.\s]+")


def chat_escape(text: str) -> str:
    """Post text made inert in chat Markdown: no links, images, HTML, code or headings it could open.
    Brackets and angle brackets become their full-width forms, which read the same in Chinese text."""
    table = str.maketrans({"[": "［", "]": "］", "(": "（", ")": "）", "<": "＜", ">": "＞", "`": "'", "*": "＊",
                           "_": "＿", "#": "＃", "|": "｜", "~": "～", "!": "！", "\\": "＼"})
    return text.translate(table)


def _link_line(line: str) -> str:
    """'  链接：<URL>' (a checked http(s) URL) as a chat Markdown link; parentheses are percent-encoded
    so the URL cannot close the link early."""
    url = line.removeprefix("  链接：<").removesuffix(">").replace("(", "%28").replace(")", "%29").replace(" ", "%20")
    return f"  [原文链接]({url})"


def split_lines(lines: list[str], budget: int) -> list[str]:
    """Lines packed into chunks of at most `budget` UTF-8 bytes, cut at line ends; a longer line is cut
    by bytes (at a character boundary, at least one character a piece). Nothing is dropped."""
    chunks: list[str] = []
    current: list[str] = []
    size = 0
    for line in lines:
        pieces = []
        while len(line.encode()) > budget:
            head = line.encode()[:budget].decode("utf-8", "ignore") or line[0]
            pieces.append(head)
            line = line[len(head):]
        pieces.append(line)
        for piece in pieces:
            n = len(piece.encode()) + 1
            if current and size + n > budget:
                chunks.append("\n".join(current).strip("\n"))
                current, size = [], 0
            current.append(piece)
            size += n
    if "\n".join(current).strip():
        chunks.append("\n".join(current).strip("\n"))
    return chunks


class WebhookOptions(StrictModel):
    url: str | None = Field(default=None, description="robot URL (tokens in it are secrets: prefer url_env)")
    url_env: str | None = Field(default=None, description="environment variable holding the URL")
    secret_env: str | None = Field(default=None, description="environment variable holding the signing secret")
    timeout_s: float = Field(default=10.0, gt=0)
    retries: int = Field(default=3, ge=0, le=10, description="extra tries of one POST before giving up")
    backoff_s: float = Field(default=1.0, ge=0, description="first wait between tries; doubles each time")
    max_bytes: int | None = Field(default=None, ge=200, description="split above this many UTF-8 bytes of content")

    @model_validator(mode="after")
    def _one_url(self) -> "WebhookOptions":
        if (self.url is None) == (self.url_env is None):
            raise ValueError("give url or url_env (one of them)")
        if self.url is not None and not re.match(r"^https?://", self.url):
            raise ValueError(f"url must be http(s): {self.url!r}")
        return self


class WebhookNotifier(Notifier):
    """The generic signed JSON webhook; the chat robots below share its delivery."""

    options_model: ClassVar[type[StrictModel]] = WebhookOptions
    platform = "webhook"
    default_max_bytes = 1_000_000
    ok_field, ok_value = "", None               # the platform's success code in the JSON reply
    needs_secret = False

    def __init__(self, name: str, url: str, *, secret: str | None = None, min_level: AlertLevel | str = "蓝",
                 timeout: float = 10.0, retries: int = 3, backoff: float = 1.0, max_bytes: int | None = None,
                 tz: tzinfo = DEFAULT_TZ, sleep: Callable[[float], None] = time.sleep,
                 clock: Callable[[], float] = time.time):
        super().__init__(name, min_level, tz)
        self.url, self.secret = url, secret
        self.timeout, self.retries, self.backoff = timeout, retries, backoff
        self.max_bytes = max_bytes or self.default_max_bytes
        self.sleep, self.clock = sleep, clock

    @classmethod
    def from_config(cls, settings, options: WebhookOptions, context: NotifierContext) -> "WebhookNotifier":
        url = from_env(options.url_env, f"the {cls.platform} URL") if options.url_env else options.url
        secret = None
        if options.secret_env:
            secret = from_env(options.secret_env, "the signing secret")
        elif cls.needs_secret:
            raise NotificationError(f"secret_env: a {cls.platform} webhook signs every request; name the variable "
                                    "holding its secret")
        return cls(settings.name, url, secret=secret, min_level=settings.min_level, timeout=options.timeout_s,
                   retries=options.retries, backoff=options.backoff_s, max_bytes=options.max_bytes, tz=context.tz)

    # --- what is sent --------------------------------------------------------------------
    def payloads(self, alert: Alert, change: AlertChange) -> list[dict[str, Any]]:
        return [{"event": change.kind, "event_label": CHANGE_LABELS.get(change.kind, change.kind),
                 "previous_level": change.previous_level, "alert": alert.model_dump(mode="json")}]

    def request(self, payload: dict[str, Any]) -> tuple[str, dict[str, str], bytes]:
        body = json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
        headers = {"Content-Type": "application/json; charset=utf-8"}
        if self.secret:
            ts = str(int(self.clock()))
            digest = hmac.new(self.secret.encode(), ts.encode() + b"." + body, hashlib.sha256).hexdigest()
            headers |= {"X-Yuqing-Timestamp": ts, "X-Yuqing-Signature": f"sha256={digest}"}
        return self.url, headers, body

    # --- delivery --------------------------------------------------------------------------
    def send(self, alert: Alert, change: AlertChange) -> None:
        for payload in self.payloads(alert, change):
            self._post(payload, alert.id)

    def _post(self, payload: dict[str, Any], alert_id: str) -> None:
        wait = self.backoff
        last = ""
        for attempt in range(self.retries + 1):
            url, headers, body = self.request(payload)      # signed afresh: timestamps expire
            retry = True
            try:
                response = httpx.post(url, content=body, headers=headers, timeout=self.timeout)
            except httpx.HTTPError as exc:
                last = f"{type(exc).__name__}: {exc}"
            else:
                retry, last = self._outcome(response)
                if not last:
                    logger.info("%s: alert %s delivered", self.name, alert_id)
                    return
            if not retry or attempt == self.retries:
                break
            logger.warning("%s: try %d for alert %s failed (%s); again in %.1f s", self.name, attempt + 1, alert_id,
                           last, wait)
            self.sleep(wait)
            wait *= 2
        raise NotificationError(f"{self.name}: {self.platform} did not take alert {alert_id}: {last}")

    def _outcome(self, response: httpx.Response) -> tuple[bool, str]:
        """(worth retrying, problem); problem '' means delivered."""
        if response.status_code >= 400:
            return response.status_code in RETRY_STATUSES, f"HTTP {response.status_code} {response.text[:200]}"
        if not self.ok_field:
            return False, ""
        try:
            reply = response.json()
        except ValueError:
            return True, f"reply is not JSON: {response.text[:200]!r}"
        code = reply.get(self.ok_field) if isinstance(reply, dict) else None
        if code == self.ok_value:
            return False, ""
        return self.rate_limited(code), f"{self.ok_field}={code}: {reply.get('errmsg') or reply.get('msg') or reply}"

    def rate_limited(self, code: Any) -> bool:
        return False

    def send_text(self, title: str, lines: list[str]) -> None:
        """A digest: the title and one line per alert, as the platform's text message, split when long."""
        for payload in self.text_payloads(chat_escape(title), [chat_escape(line) for line in lines]):
            self._post(payload, "digest")

    def text_payloads(self, title: str, lines: list[str]) -> list[dict[str, Any]]:
        return [{"event": "digest", "title": title, "lines": lines}]

    def _text_chunks(self, title: str, lines: list[str]) -> list[str]:
        return [f"**{title}**\n{chunk}" for chunk in split_lines(lines, max(self.max_bytes - 200, 200))]

    # --- text for the chat robots ---------------------------------------------------------
    def markdown_chunks(self, alert: Alert, change: AlertChange, reserve: int = 0) -> list[str]:
        """The alert as chat Markdown (post text escaped), cut at line ends under max_bytes less `reserve`,
        numbered."""
        lines = alert_lines(alert, change, self.tz, chat_escape)
        lines = [f"**{line[2:]}**" if line.startswith("# ") else
                 f"**{line[3:]}**" if line.startswith("## ") else
                 _link_line(line) if line.startswith("  链接：<") else line for line in lines]
        # room for the (i/n) mark and what the platform puts before the first part; never too small to advance
        chunks = split_lines(lines, max(self.max_bytes - 40 - reserve, 100))
        if len(chunks) > 1:
            chunks = [f"{chunk}\n\n（{i}/{len(chunks)}）" for i, chunk in enumerate(chunks, 1)]
        return chunks

    def title(self, alert: Alert, change: AlertChange) -> str:
        return chat_escape(subject_line(alert, change))


class DingTalkNotifier(WebhookNotifier):
    platform = "DingTalk"
    default_max_bytes = 18_000                  # the robot takes 20,000 bytes per message
    ok_field, ok_value = "errcode", 0

    def payloads(self, alert: Alert, change: AlertChange) -> list[dict[str, Any]]:
        title = self.title(alert, change)
        return [{"msgtype": "markdown", "markdown": {"title": title[:64], "text": chunk}}
                for chunk in self.markdown_chunks(alert, change)]

    def request(self, payload: dict[str, Any]) -> tuple[str, dict[str, str], bytes]:
        url = self.url
        if self.secret:
            ts = str(int(self.clock() * 1000))
            digest = hmac.new(self.secret.encode(), f"{ts}\n{self.secret}".encode(), hashlib.sha256).digest()
            sign = urllib.parse.quote_plus(base64.b64encode(digest).decode())
            url += ("&" if "?" in url else "?") + f"timestamp={ts}&sign={sign}"
        return url, {"Content-Type": "application/json; charset=utf-8"}, json.dumps(payload, ensure_ascii=False).encode()

    def rate_limited(self, code: Any) -> bool:
        return code in (130101, 410100)         # too many messages per minute

    def text_payloads(self, title: str, lines: list[str]) -> list[dict[str, Any]]:
        return [{"msgtype": "markdown", "markdown": {"title": title[:64], "text": chunk}}
                for chunk in self._text_chunks(title, lines)]


class WeComNotifier(WebhookNotifier):
    platform = "WeCom"
    default_max_bytes = 4_000                   # markdown content ≤ 4096 bytes
    ok_field, ok_value = "errcode", 0

    def payloads(self, alert: Alert, change: AlertChange) -> list[dict[str, Any]]:
        colour = "warning" if alert.level in ("橙", "红") else "info"
        head = f'<font color="{colour}">{self.title(alert, change)}</font>\n'
        chunks = self.markdown_chunks(alert, change, reserve=len(head.encode()))
        chunks[0] = head + chunks[0]
        return [{"msgtype": "markdown", "markdown": {"content": chunk}} for chunk in chunks]

    def request(self, payload: dict[str, Any]) -> tuple[str, dict[str, str], bytes]:
        return self.url, {"Content-Type": "application/json; charset=utf-8"}, json.dumps(payload, ensure_ascii=False).encode()

    def rate_limited(self, code: Any) -> bool:
        return code == 45009                    # API freq out of limit

    def text_payloads(self, title: str, lines: list[str]) -> list[dict[str, Any]]:
        return [{"msgtype": "markdown", "markdown": {"content": chunk}} for chunk in self._text_chunks(title, lines)]


FEISHU_TEMPLATES = {"蓝": "blue", "黄": "yellow", "橙": "orange", "红": "red"}


class FeishuNotifier(WebhookNotifier):
    platform = "Feishu"
    default_max_bytes = 18_000                  # request body ≤ 20 KB
    ok_field, ok_value = "code", 0

    def payloads(self, alert: Alert, change: AlertChange) -> list[dict[str, Any]]:
        title = subject_line(alert, change)          # plain_text: shown as written, never parsed
        return [{"msg_type": "interactive", "card": {
                    "config": {"wide_screen_mode": True},
                    "header": {"title": {"tag": "plain_text", "content": title},
                               "template": FEISHU_TEMPLATES.get(alert.level, "blue")},
                    "elements": [{"tag": "markdown", "content": chunk}]}}
                for chunk in self.markdown_chunks(alert, change)]

    def request(self, payload: dict[str, Any]) -> tuple[str, dict[str, str], bytes]:
        if self.secret:
            ts = str(int(self.clock()))
            digest = hmac.new(f"{ts}\n{self.secret}".encode(), b"", hashlib.sha256).digest()
            payload = {"timestamp": ts, "sign": base64.b64encode(digest).decode(), **payload}
        return self.url, {"Content-Type": "application/json; charset=utf-8"}, json.dumps(payload, ensure_ascii=False).encode()

    def rate_limited(self, code: Any) -> bool:
        return code == 9499                     # too many requests

    def text_payloads(self, title: str, lines: list[str]) -> list[dict[str, Any]]:
        return [{"msg_type": "interactive", "card": {
                    "header": {"title": {"tag": "plain_text", "content": title}, "template": "blue"},
                    "elements": [{"tag": "markdown", "content": chunk}]}} for chunk in self._text_chunks(title, lines)]

