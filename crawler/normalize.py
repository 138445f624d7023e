"""RawPost → index.schema.Post: clean text, stable id, aware time, validated fields."""
from __future__ import annotations

from datetime import datetime, tzinfo
from typing import Any

from pydantic import ValidationError

from index import clock
from index.schema import DEFAULT_TZ, Author, Engagement, Post, post_id

from .extract.dates import parse_datetime
from .extract.text import clean_line, clean_text
from .extract.weibo import parse_count
from .items import RawPost


class InvalidPost(ValueError):
    """A raw post that cannot become a Post; the message says why."""


def _author(raw: dict[str, Any]) -> Author:
    followers = raw.get("followers")
    return Author(name=clean_line(raw.get("name")) or None,
                  id=str(raw["id"]).strip() if raw.get("id") not in (None, "") else None,
                  followers=parse_count(followers) if followers not in (None, "") else None,
                  verified=bool(raw.get("verified")),
                  location=clean_line(raw.get("location")) or None)


def _engagement(raw: dict[str, Any]) -> Engagement:
    return Engagement(reposts=parse_count(raw.get("reposts")), comments=parse_count(raw.get("comments")),
                      likes=parse_count(raw.get("likes")))


def _native(value: Any) -> str | None:
    return str(value).strip() or None if value not in (None, "") else None


def _published_at(value: datetime | str | None, crawled_at: datetime, tz: tzinfo) -> datetime | None:
    if isinstance(value, datetime):
        return value.replace(tzinfo=tz) if value.tzinfo is None else value
    if isinstance(value, str):
        return parse_datetime(value, crawled_at, tz)
    return None


def to_post(raw: RawPost, crawled_at: datetime | None = None, tz: tzinfo = DEFAULT_TZ) -> Post:
    """Validate and normalize. A post without a parseable date is kept, dated at crawl
    time and flagged extra["date_missing"], because losing a citizen complaint over a
    missing timestamp is worse than an approximate time."""
    crawled = raw.crawled_at or crawled_at or clock.now(tz)
    crawled = crawled.replace(tzinfo=tz) if crawled.tzinfo is None else crawled
    title = clean_line(raw.title)
    content = clean_text(raw.content)
    if not (title or content):
        raise InvalidPost("no title and no content")
    url = raw.url.strip() if raw.url and raw.url.strip() else None
    native = _native(raw.native_id)
    try:
        pid = post_id(raw.platform, native_id=native, url=url)
    except ValueError as exc:
        raise InvalidPost(str(exc)) from None
    parent, root = (post_id(raw.platform, native_id=n) if n else None
                    for n in (_native(raw.parent_native_id), _native(raw.root_native_id)))
    extra = dict(raw.extra)
    published = _published_at(raw.published_at, crawled, tz)
    if published is None:
        if isinstance(raw.published_at, str) and raw.published_at.strip():
            extra["date_raw"] = raw.published_at.strip()
        extra["date_missing"] = True
        published = crawled
    try:
        return Post(id=pid, platform=raw.platform, source=raw.source, url=url, title=title, content=content,
                    author=_author(raw.author), published_at=published, crawled_at=crawled,
                    engagement=_engagement(raw.engagement), parent_id=parent, root_id=root, extra=extra)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "post"
        raise InvalidPost(f"{where}: {first['msg']}") from None
