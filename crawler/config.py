"""The crawler's configuration models: sources.yaml and the schedule a source runs on.

The crawler owns these; the `yuqing` shell loads the file and hands the
validated models (plus the working folders, as a CrawlContext) to the runner.
"""
from __future__ import annotations

import re

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import Field, field_validator, model_validator

from index.configbase import ConfigError, StrictModel, check_unique, expand_env

# Built-in source types and the platform each one's posts carry by default.
DEFAULT_PLATFORMS = {"news": "news", "rss": "rss", "weibo_api": "weibo", "gov_board": "gov_board", "forum": "forum"}
PLATFORMS = ("news", "gov_board", "rss", "weibo", "forum")


class Schedule(StrictModel):
    """Either an interval or a crontab expression (minute hour day month weekday)."""
    interval_minutes: float | None = Field(default=None, gt=0)
    cron: str | None = None
    jitter_seconds: int = Field(default=0, ge=0)

    @model_validator(mode="after")
    def _one_of(self) -> "Schedule":
        if (self.interval_minutes is None) == (self.cron is None):
            raise ValueError("give exactly one of interval_minutes or cron")
        if self.cron is not None:
            from apscheduler.triggers.cron import CronTrigger
            try:
                CronTrigger.from_crontab(self.cron)
            except ValueError as exc:
                raise ValueError(f"invalid cron expression {self.cron!r}: {exc}") from None
        return self


class ListPageRules(StrictModel):
    """How a generic list page leads to articles (CSS selectors)."""
    link_selector: str = "a::attr(href)"
    link_pattern: str | None = Field(default=None, description="regex an article URL must match")
    next_selector: str | None = None


class DetailRules(StrictModel):
    """CSS selectors for detail pages of boards/forums; missing ones fall back to generic extraction."""
    title: str | None = None
    content: str | None = None
    published_at: str | None = None
    author: str | None = None
    extra: dict[str, str] = Field(default_factory=dict)


class ForumRules(StrictModel):
    """A thread page of a Tieba-style forum: every floor (楼) in one element, the first the thread
    itself, the others its replies. Selectors are CSS, relative to a floor."""
    floor: str = Field(description="each floor, e.g. div.l_post")
    content: str = Field(description="a floor's text, e.g. div.d_post_content")
    author: str | None = Field(default=None, description="a floor's author, e.g. a.p_author_name::text")
    published_at: str | None = Field(default=None, description="a floor's time, e.g. span.tail-info::text")
    floor_id: str | None = Field(default=None, description="a floor's own id, e.g. ::attr(data-pid); "
                                                           "default: its floor number")
    max_replies: int = Field(default=100, ge=0, le=5000, description="replies taken per thread page")


class Source(StrictModel):
    name: str = Field(pattern=r"^[a-z0-9_\-]+$")
    type: str = Field(description="a built-in spider type (news, rss, weibo_api, gov_board, forum) "
                                  "or the class path of a SourceSpider subclass")
    platform: str | None = Field(default=None, description=f"one of {', '.join(PLATFORMS)}; default from type")
    label: str = Field(default="", description="human name shown in reports, e.g. 市民网")
    start_urls: list[str] = Field(min_length=1)
    enabled: bool = True
    schedule: Schedule = Field(default_factory=lambda: Schedule(interval_minutes=30))
    encoding: str | None = Field(default=None, description="force a page encoding, e.g. gbk; default: detect")
    keywords: list[str] = Field(default_factory=list, description="search keywords for search APIs")
    max_pages: int = Field(default=5, ge=1, description="list/search pages to follow per crawl")
    list_page: ListPageRules = Field(default_factory=ListPageRules)
    detail: DetailRules = Field(default_factory=DetailRules)
    forum: ForumRules | None = Field(default=None, description="type forum: the floors of a thread page")
    proxies: list[str] = Field(default_factory=list, description="proxy URLs (http://user:pass@host:port, "
                               "${VAR} read from the environment) used in turn, one failing for 5 minutes is passed over")
    id_pattern: str | None = Field(default=None, description="a regular expression whose one group takes the site's "
                                   "own article or message id from a page URL, e.g. /(\\d+)\\.html$: the post id "
                                   "then survives the site moving to https, another host name or port")
    settings: dict[str, Any] = Field(default_factory=dict, description="extra Scrapy settings")

    @field_validator("type")
    @classmethod
    def _type(cls, value: str) -> str:
        from .registry import SPIDER_TYPES
        return SPIDER_TYPES.check_name(value, "mypackage.spiders.MySpider")

    @field_validator("platform")
    @classmethod
    def _platform(cls, value: str | None) -> str | None:
        if value is not None and value not in PLATFORMS:
            raise ValueError(f"unknown platform {value!r}; use one of {', '.join(PLATFORMS)}")
        return value

    @field_validator("start_urls", "proxies")
    @classmethod
    def _urls(cls, urls: list[str], info) -> list[str]:
        """${VAR} read from the environment; each must be an http(s) URL."""
        what = "proxy URL" if info.field_name == "proxies" else "URL"
        expanded = [expand_env(url) for url in urls]
        for url in expanded:
            if not url.startswith(("http://", "https://")):
                raise ValueError(f"{url!r} is not an http(s) {what}")
        return expanded

    @property
    def platform_name(self) -> str:
        return self.platform or DEFAULT_PLATFORMS.get(self.type, "news")

    @field_validator("id_pattern")
    @classmethod
    def _id_pattern(cls, value: str | None) -> str | None:
        if value is None:
            return value
        try:
            groups = re.compile(value).groups
        except re.error as exc:
            raise ValueError(f"not a regular expression: {exc}") from None
        if groups != 1:
            raise ValueError(f"needs exactly one group (the id), has {groups}")
        return value

    @model_validator(mode="after")
    def _forum_rules(self) -> "Source":
        if self.forum is not None and self.type != "forum":
            raise ValueError(f"forum: only a source of type forum reads thread floors (this one is {self.type!r})")
        return self


class SourcesFile(StrictModel):
    sources: list[Source]

    @model_validator(mode="after")
    def _unique(self) -> "SourcesFile":
        check_unique([s.name for s in self.sources], "source")
        return self


@dataclass(frozen=True)
class CrawlContext:
    """What a crawl needs beyond the sources: where posts and seen-state go, the zone, the log level."""
    sources: SourcesFile
    inbox_dir: Path
    data_dir: Path
    timezone: str = "Asia/Shanghai"
    log_level: str = "INFO"
    sources_path: Path | None = None    # for messages

    def source(self, name: str) -> Source:
        for s in self.sources.sources:
            if s.name == name:
                return s
        where = self.sources_path or "sources.yaml"
        raise ConfigError(f"no source named {name!r} in {where}; "
                          f"known: {', '.join(s.name for s in self.sources.sources)}")
