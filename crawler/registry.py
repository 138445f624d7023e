"""Spider types by name (sources.yaml `type:`) or by class path for a third-party SourceSpider."""
from __future__ import annotations

from index.plugins import Registry

SPIDER_TYPES: Registry = Registry("source type", "crawler.spiders.base:SourceSpider", {
    "news": "crawler.spiders.news:NewsSpider",
    "rss": "crawler.spiders.rss:RssSpider",
    "weibo_api": "crawler.spiders.weibo:WeiboApiSpider",
    "gov_board": "crawler.spiders.gov_board:GovBoardSpider",
    "forum": "crawler.spiders.gov_board:ForumSpider",
})
