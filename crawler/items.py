"""The item spiders yield: a raw post, before validation.

A dataclass (Scrapy handles those through itemadapter) rather than a dict, so a
misspelt field fails in the spider that wrote it. The validation pipeline turns
it into index.schema.Post; nothing downstream of the pipelines sees RawPost.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any


@dataclass
class RawPost:
    source: str                          # configured source name
    platform: str                        # index.schema.Platform value
    url: str | None = None
    native_id: str | None = None         # the site's own id (weibo mid, message number); else the URL is hashed
    title: str = ""
    content: str = ""
    published_at: datetime | str | None = None   # parsed when the spider could, raw text otherwise
    author: dict[str, Any] = field(default_factory=dict)       # name, id, followers, verified, location
    engagement: dict[str, Any] = field(default_factory=dict)   # reposts, comments, likes
    extra: dict[str, Any] = field(default_factory=dict)
    crawled_at: datetime | None = None
    parent_native_id: str | None = None  # the site's id of the post this one reposts/comments on (same platform)
    root_native_id: str | None = None    # the site's id of the cascade's original post
