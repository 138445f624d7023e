"""Spiders, one per Source.type; spider_for() picks the class for a configured source."""
from __future__ import annotations

from .base import SourceSpider
from .gov_board import ForumSpider, GovBoardSpider
from .news import NewsSpider
from .rss import RssSpider
from .weibo import WeiboApiSpider

SPIDERS_BY_TYPE: dict[str, type[SourceSpider]] = {
    "news": NewsSpider,
    "rss": RssSpider,
    "weibo_api": WeiboApiSpider,
    "gov_board": GovBoardSpider,
    "forum": ForumSpider,
}


def spider_for(source_type: str) -> type[SourceSpider]:
    try:
        return SPIDERS_BY_TYPE[source_type]
    except KeyError:
        raise ValueError(f"no spider for source type {source_type!r}; known: {sorted(SPIDERS_BY_TYPE)}") from None


__all__ = ["SPIDERS_BY_TYPE", "SourceSpider", "spider_for", "NewsSpider", "RssSpider", "WeiboApiSpider",
           "GovBoardSpider", "ForumSpider"]
