"""The document contracts shared by every stage: posts, alerts and events.

One validated schema flows source → crawler → nlp → index → warning, so each
stage can trust what it receives. Timestamps are always timezone-aware; naive
values are read as Asia/Shanghai, the zone the monitored sources publish in.
"""
from __future__ import annotations

import hashlib
import re
from datetime import datetime, timezone
from enum import Enum
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from . import clock

DEFAULT_TZ = ZoneInfo("Asia/Shanghai")

# Query parameters that track the reader rather than identify the page.
_TRACKING_PARAMS = re.compile(r"^(utm_\w+|spm|from|share_\w+|timestamp|_t|ref)$", re.I)


def aware(value: datetime | None, tz: ZoneInfo = DEFAULT_TZ) -> datetime | None:
    """Attach the default zone to a naive datetime; leave aware ones alone."""
    if value is None:
        return None
    return value.replace(tzinfo=tz) if value.tzinfo is None else value


def now() -> datetime:
    """The current time by index.clock: the system clock, or a simulation's."""
    return clock.now(DEFAULT_TZ)


def normalize_url(url: str) -> str:
    """Canonical form of a URL so the same page crawled twice gets one id."""
    parts = urlsplit(url.strip())
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True)
             if not _TRACKING_PARAMS.match(k)]
    query.sort()
    netloc = parts.netloc.lower()
    if netloc.endswith(":80") and parts.scheme == "http":
        netloc = netloc[:-3]
    if netloc.endswith(":443") and parts.scheme == "https":
        netloc = netloc[:-4]
    path = parts.path or "/"
    return urlunsplit((parts.scheme.lower(), netloc, path, urlencode(query), ""))


def post_id(platform: str, native_id: str | None = None, url: str | None = None) -> str:
    """Stable document id: platform + native id when the source has one, else a URL hash.

    Stable ids make every write an idempotent upsert, so a crash mid-run or a
    re-crawl never duplicates a post.
    """
    if native_id:
        return f"{platform}:{native_id}"
    if not url:
        raise ValueError("a post needs a native id or a url to derive its id")
    digest = hashlib.sha1(normalize_url(url).encode("utf-8")).hexdigest()[:20]
    return f"{platform}:u{digest}"


class Platform(str, Enum):
    news = "news"
    gov_board = "gov_board"
    rss = "rss"
    weibo = "weibo"
    forum = "forum"


class SentimentLabel(str, Enum):
    negative = "负面"
    neutral = "中性"
    positive = "正面"


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True, use_enum_values=True)


class Author(_Model):
    name: str | None = None
    id: str | None = None
    followers: int | None = Field(default=None, ge=0)
    verified: bool = False
    location: str | None = None


class Engagement(_Model):
    reposts: int = Field(default=0, ge=0)
    comments: int = Field(default=0, ge=0)
    likes: int = Field(default=0, ge=0)

    @property
    def total(self) -> int:
        return self.reposts + self.comments + self.likes


class Sentiment(_Model):
    label: SentimentLabel
    score: float = Field(ge=0.0, le=1.0, description="probability of the label")


class Emotion(_Model):
    label: str
    score: float = Field(ge=0.0, le=1.0)


class Topic(_Model):
    label: str
    score: float = Field(ge=0.0, le=1.0)


class RiskFlag(_Model):
    """A yes/no risk judgement with its probability, e.g. rumour risk (谣言风险)."""
    flagged: bool
    score: float = Field(ge=0.0, le=1.0, description="probability of the risk")


class Region(_Model):
    """Where a post is about (or, failing that, where its author is)."""
    province: str | None = None
    province_code: str | None = None
    city: str | None = None
    city_code: str | None = None
    district: str | None = None
    district_code: str | None = None
    source: str | None = Field(default=None, description="'text' or 'author'")

    @property
    def code(self) -> str | None:
        return self.district_code or self.city_code or self.province_code

    @property
    def codes(self) -> tuple[str, ...]:
        """Every level's code it has, province first (what region-code filters match)."""
        return tuple(c for c in (self.province_code, self.city_code, self.district_code) if c)

    @property
    def name(self) -> str:
        return "".join(p for p in (self.province, self.city, self.district) if p)


class Post(_Model):
    """One public post, article, feed entry or citizen message."""
    id: str
    platform: Platform
    source: str = Field(description="configured source name, e.g. 'metro_news'")
    url: str | None = None
    title: str = ""
    content: str = ""
    author: Author = Field(default_factory=Author)
    published_at: datetime
    crawled_at: datetime = Field(default_factory=now)
    engagement: Engagement = Field(default_factory=Engagement)
    lang: str = "zh"
    # Repost cascades (转发/评论): Post ids (post_id() form, e.g. "weibo:4xxxx") from the source.
    parent_id: str | None = Field(default=None, description="the post this one reposts or comments on")
    root_id: str | None = Field(default=None, description="the original post of its repost cascade")

    # Filled by nlp enrichment; empty until then.
    tokens: list[str] = Field(default_factory=list, description="jieba segmentation of title+content")
    keywords: list[str] = Field(default_factory=list)
    sentiment: Sentiment | None = Field(default=None, description="the writer's emotional tone (情感)")
    polarity: Sentiment | None = Field(default=None, description="舆情倾向: 负面 = reports or alleges harm, "
                                       "wrongdoing, a grievance or a risk, whatever the tone (what warnings count)")
    emotion: Emotion | None = None
    topics: list[Topic] = Field(default_factory=list)
    rumor: RiskFlag | None = Field(default=None, description="rumour risk from the rumor model")
    region: Region | None = None
    schemes: list[str] = Field(default_factory=list, description="monitoring schemes (监测方案) the post matches")
    event_id: str | None = None
    dup_group: str | None = Field(default=None, description="near-duplicate group id")
    is_first_report: bool = Field(default=False, description="首发: earliest post of its dup group")
    pii_masked: bool = False
    analysis_truncated: bool = Field(default=False, description="enrichment read only the start of the text "
                                                                 "(nlp.max_analysis_chars or the segmentation deadline)")
    enriched_at: datetime | None = None
    extra: dict[str, Any] = Field(default_factory=dict)

    @field_validator("published_at", "crawled_at", "enriched_at", mode="after")
    @classmethod
    def _aware(cls, value: datetime | None) -> datetime | None:
        return aware(value)

    @model_validator(mode="after")
    def _has_text(self) -> "Post":
        if not (self.title.strip() or self.content.strip()):
            raise ValueError("a post needs a title or content")
        return self

    @property
    def text(self) -> str:
        """Title and body as one string, the unit the NLP models read."""
        if self.title and self.content.startswith(self.title):
            return self.content
        return f"{self.title}\n{self.content}".strip()

    @property
    def topic(self) -> str | None:
        return self.topics[0].label if self.topics else None

    @property
    def sentiment_label(self) -> str | None:
        return self.sentiment.label if self.sentiment else None

    @property
    def polarity_label(self) -> str | None:
        return self.polarity.label if self.polarity else None


class AlertLevel(str, Enum):
    """National four-colour warning grades, lowest to highest."""
    blue = "蓝"
    yellow = "黄"
    orange = "橙"
    red = "红"

    @property
    def rank(self) -> int:
        return list(AlertLevel).index(self)

    @classmethod
    def parse(cls, value: "str | AlertLevel") -> "AlertLevel":
        if isinstance(value, AlertLevel):
            return value
        for level in cls:
            if value in (level.value, level.name):
                return level
        raise ValueError(f"unknown alert level {value!r}; use one of 蓝/黄/橙/红 or blue/yellow/orange/red")


class AlertStatus(str, Enum):
    """Where the owning agency is with an alert (warning.lifecycle holds the transitions)."""
    new = "new"                        # raised (or reopened), not yet acknowledged by the owner
    acknowledged = "acknowledged"      # 已签收
    handling = "handling"              # 处置中
    resolved = "resolved"              # 已办结, with a note
    false_positive = "false_positive"  # 误报, with a note


# Statuses written before the lifecycle existed, read as today's.
LEGACY_STATUSES = {"open": AlertStatus.new.value, "closed": AlertStatus.resolved.value}
ACTIVE_STATUSES = (AlertStatus.new.value, AlertStatus.acknowledged.value, AlertStatus.handling.value)


def status_values(statuses: "tuple[str, ...] | list[str]") -> list[str]:
    """The stored values a status filter must match: today's names plus the legacy spellings."""
    out = [AlertStatus(LEGACY_STATUSES.get(s, s)).value for s in statuses]
    return out + [old for old, current in LEGACY_STATUSES.items() if current in out]


class AlertExample(_Model):
    """One post behind an alert, as shown to a reader: text already cut and PII-masked."""
    post_id: str
    platform: str
    platform_label: str = ""
    published_at: datetime
    url: str | None = Field(default=None, description="http(s) link to the original, None when unsafe to show")
    text: str = Field(description="the first 80 characters of title + content, personal data masked")
    author: str | None = Field(default=None, description="author name, personal data masked")
    followers: int | None = None
    engagement: int = 0
    sentiment: str | None = None
    polarity: str | None = Field(default=None, description="舆情倾向 of the post (负面/中性/正面)")

    @field_validator("published_at", mode="after")
    @classmethod
    def _aware(cls, value: datetime) -> datetime:
        return aware(value)


class LevelAdjustment(_Model):
    """One step from the rule's own level to the alert's: reach, spread, negativity (+1) or region (-1)."""
    kind: str = Field(description="reach / spread / negativity / region")
    change: int = Field(description="+1 raises one level, -1 lowers one")
    reason: str = Field(description="why, in words, with the numbers")
    level: AlertLevel | None = Field(default=None, description="the level after this step; None: dropped")


class AlertBasis(_Model):
    """Why an alert has its level: the rule, the graded value against the thresholds, and adjustments."""
    rule: str
    rule_type: str
    description: str = ""
    value_key: str
    value: float
    thresholds: dict[str, float] = Field(default_factory=dict, description="level -> threshold of the rule")
    rule_level: AlertLevel = Field(description="the level the thresholds give")
    threshold: float | None = Field(default=None, description="the threshold of rule_level that was reached")
    next_level: AlertLevel | None = None
    next_threshold: float | None = None
    adjustments: list[LevelAdjustment] = Field(default_factory=list)
    level: AlertLevel = Field(description="the level after adjustments")
    text: str = Field(default="", description="the whole explanation in one sentence")


class AlertPeak(_Model):
    """The strongest moment of an alert's episode (highest level, then highest value), kept apart
    from the summary and metrics, which always describe the latest evaluation."""
    at: datetime
    level: AlertLevel
    value_key: str
    value: float
    summary: str = ""
    metrics: dict[str, float] = Field(default_factory=dict)
    basis: AlertBasis | None = None

    @field_validator("at", mode="after")
    @classmethod
    def _aware(cls, value: datetime) -> datetime:
        return aware(value)


class Alert(_Model):
    """A warning raised by a rule; its state is written back to the store."""
    id: str = Field(description="stable: rule + dedup key, so re-evaluation updates instead of repeating")
    rule: str
    rule_type: str
    level: AlertLevel
    title: str
    summary: str = ""
    status: AlertStatus = AlertStatus.new
    assignee: str | None = Field(default=None, description="user id the alert is assigned to")
    reported_to: list[str] = Field(default_factory=list,
                                   description="agencies above the owner it was reported to (直报, overdue), in order")
    ack_due: datetime | None = Field(default=None, description="acknowledge by (deadline of the level); None once done")
    resolve_due: datetime | None = Field(default=None, description="resolve by; None once resolved")
    silenced_until: datetime | None = Field(default=None, description="no reminders or overdue escalation until then")
    topic: str | None = None
    region: Region | None = None
    agency: str | None = Field(default=None, description="agency id the alert is routed to")
    agency_name: str | None = None
    keywords: list[str] = Field(default_factory=list)
    schemes: list[str] = Field(default_factory=list, description="monitoring schemes the finding was scoped to")
    post_ids: list[str] = Field(default_factory=list, description="representative posts, newest first")
    examples: list[AlertExample] = Field(default_factory=list, description="the representative posts as shown")
    metrics: dict[str, float] = Field(default_factory=dict, description="numbers of the latest evaluation")
    basis: AlertBasis | None = Field(default=None, description="why the latest evaluation gave its level")
    peak: AlertPeak | None = Field(default=None, description="the episode's strongest evaluation")
    ended_at: datetime | None = Field(default=None, description="when the episode ended (已平息); None while open")
    window_start: datetime
    window_end: datetime
    first_seen: datetime = Field(default_factory=now)
    last_seen: datetime = Field(default_factory=now)
    history: list[dict[str, Any]] = Field(default_factory=list, description="level changes, notifications, handling")

    @field_validator("window_start", "window_end", "first_seen", "last_seen", "ended_at", "ack_due", "resolve_due",
                     "silenced_until", mode="after")
    @classmethod
    def _aware(cls, value: datetime | None) -> datetime | None:
        return aware(value)

    @field_validator("status", mode="before")
    @classmethod
    def _legacy_status(cls, value: Any) -> Any:
        return LEGACY_STATUSES.get(value, value) if isinstance(value, str) else value

    @property
    def level_enum(self) -> AlertLevel:
        return AlertLevel.parse(self.level)


class Event(_Model):
    """A cluster of posts about one happening (事件), built online by nlp event clustering.

    The id derives from the first post, so re-running the clustering over the same
    posts gives the same events.
    """
    id: str
    title: str
    keywords: list[str] = Field(default_factory=list)
    first_post_id: str
    first_seen: datetime = Field(description="published_at of the first post (首发)")
    last_seen: datetime = Field(description="published_at of the newest post")
    post_count: int = Field(default=0, ge=0)
    negative_count: int = Field(default=0, ge=0)
    platforms: dict[str, int] = Field(default_factory=dict, description="posts per platform")
    topic: str | None = None
    region: Region | None = None
    updated_at: datetime = Field(default_factory=now)
    extra: dict[str, Any] = Field(default_factory=dict, description="clustering state, e.g. centroid terms")

    @field_validator("first_seen", "last_seen", "updated_at", mode="after")
    @classmethod
    def _aware(cls, value: datetime) -> datetime:
        return aware(value)


def utc(dt: datetime) -> datetime:
    return aware(dt).astimezone(timezone.utc)
