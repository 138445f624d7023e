"""m.weibo.cn-style search API JSON to plain posts.

A page is {"ok": 1, "data": {"cardlistInfo": {"page": next}, "cards": [...]}}; posts
sit in cards of card_type 9 (or nested in card_group of type-11 cards, as the
real search page returns). Past the last page the API answers ok == 0.

A repost (转发) carries its cascade's original as `retweeted_status` (Weibo always
embeds the original, never an intermediate repost); a repost of a repost also names
the post it reposted as `pid`/`pidstr`. These become the post's root and parent.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime, tzinfo
from typing import Any

from index.schema import DEFAULT_TZ

from .dates import parse_datetime
from .text import clean_line, html_to_text

_COUNT_RE = re.compile(r"^\s*([\d.]+)\s*(万|亿)?\+?\s*$")
_REGION_PREFIX = re.compile(r"^\s*发布于\s*")


class WeiboFormatError(ValueError):
    """The JSON does not look like a weibo search page."""


@dataclass
class WeiboPost:
    id: str
    text: str
    created_at: datetime | None
    created_raw: str
    user: dict[str, Any]
    reposts: int
    comments: int
    likes: int
    extra: dict[str, Any] = field(default_factory=dict)
    parent_id: str | None = None        # native id of the reposted post (the original, or pid when given)
    root_id: str | None = None          # native id of the cascade's original (retweeted_status)


@dataclass
class WeiboPage:
    ok: bool
    posts: list[WeiboPost]
    next_page: int | None
    paging_known: bool = True          # False: the API gave no cardlistInfo.page, so try page + 1
    message: str = ""


def parse_count(value: Any) -> int:
    """Counts arrive as ints or as display strings ("1.2万", "100万+", ""); never negative."""
    if value is None or isinstance(value, bool):
        return 0
    if isinstance(value, (int, float)):
        return max(0, int(value))
    match = _COUNT_RE.match(str(value))
    if not match:
        return 0
    number = float(match.group(1))
    scale = {"万": 10_000, "亿": 100_000_000}.get(match.group(2) or "", 1)
    return int(number * scale)


def weibo_text(html: str | None) -> str:
    """Plain text of a weibo: links keep their text (@user, #话题#), emoji keep their alt ([怒])."""
    return html_to_text(html or "", keep_emoji_alt=True)


def _mblogs(cards: list[Any]) -> list[dict[str, Any]]:
    found = []
    for card in cards:
        if not isinstance(card, dict):
            continue
        if isinstance(card.get("mblog"), dict):
            found.append(card["mblog"])
        for inner in card.get("card_group") or []:
            if isinstance(inner, dict) and isinstance(inner.get("mblog"), dict):
                found.append(inner["mblog"])
    return found


def parse_search_page(data: Any, now: datetime | None = None, tz: tzinfo = DEFAULT_TZ) -> WeiboPage:
    if not isinstance(data, dict) or "ok" not in data:
        raise WeiboFormatError("not a weibo API response (no 'ok' field)")
    body = data.get("data") or {}
    if not isinstance(body, dict):
        raise WeiboFormatError("'data' is not an object")
    if data.get("ok") != 1:
        return WeiboPage(ok=False, posts=[], next_page=None, message=str(data.get("msg") or ""))
    posts = [parse_mblog(m, now, tz) for m in _mblogs(body.get("cards") or [])]
    info = body.get("cardlistInfo") or {}
    paging_known = isinstance(info, dict) and "page" in info
    next_page = info.get("page") if paging_known else None
    try:
        next_page = int(next_page) if next_page not in (None, "", 0, "0") else None
    except (TypeError, ValueError):
        next_page = None
    return WeiboPage(ok=True, posts=[p for p in posts if p is not None], next_page=next_page,
                     paging_known=paging_known)


def parse_mblog(mblog: dict[str, Any], now: datetime | None = None, tz: tzinfo = DEFAULT_TZ) -> WeiboPost | None:
    native = mblog.get("id") or mblog.get("mid") or mblog.get("idstr")
    if not native:
        return None
    user = mblog.get("user") or {}
    created_raw = str(mblog.get("created_at") or "")
    extra: dict[str, Any] = {}
    if mblog.get("source"):
        extra["client"] = clean_line(html_to_text(str(mblog["source"])))
    region = _REGION_PREFIX.sub("", str(mblog.get("region_name") or "")).strip()
    if region:
        extra["ip_region"] = region
    if mblog.get("isLongText"):
        extra["truncated"] = True   # the search API cuts long posts; the full text needs another call
    root = parent = None
    retweeted = mblog.get("retweeted_status")
    if isinstance(retweeted, dict):
        # A deleted original still has its id ("抱歉，此微博已被作者删除"): the cascade stays one.
        root = _native_id(retweeted)
        extra["retweeted_id"] = root
        extra["retweeted_text"] = weibo_text(retweeted.get("text"))
        parent = _native_id({"id": mblog.get("pidstr") or mblog.get("pid")}) or root
        if parent == str(native):
            parent = root
    author = {
        "id": str(user["id"]) if user.get("id") is not None else None,
        "name": clean_line(user.get("screen_name")) or None,
        "followers": parse_count(user.get("followers_count")) if user.get("followers_count") is not None else None,
        "verified": bool(user.get("verified")),
        "location": clean_line(user.get("location")) or None,
    }
    if user.get("verified_type") is not None:
        extra["verified_type"] = user.get("verified_type")
    return WeiboPost(id=str(native), text=weibo_text(mblog.get("text")),
                     created_at=parse_datetime(created_raw, now, tz), created_raw=created_raw, user=author,
                     reposts=parse_count(mblog.get("reposts_count")),
                     comments=parse_count(mblog.get("comments_count")),
                     likes=parse_count(mblog.get("attitudes_count")), extra=extra,
                     parent_id=parent, root_id=root)


def _native_id(mblog: dict[str, Any]) -> str | None:
    """A weibo's id as text ("idstr" first: JSON numbers past 2**53 lose digits in some clients)."""
    for key in ("idstr", "id", "mid"):
        value = mblog.get(key)
        if value not in (None, "", 0, "0") and not isinstance(value, bool):
            return str(value).strip() or None
    return None


# What a refusal says, by kind (index.health counts these as "blocked").
_REFUSALS = (("login_wall", ("登录", "login", "passport", "未登录", "请先")),
             ("captcha", ("验证码", "captcha", "安全验证", "verify")),
             ("rate_limited", ("频繁", "稍后", "too many", "rate limit", "限制")))


def refusal_kind(text: str | None) -> str | None:
    """login_wall | captcha | rate_limited when a response or its message says so, else None."""
    lowered = (text or "").lower()
    for kind, words in _REFUSALS:
        if any(w in lowered for w in words):
            return kind
    return None

