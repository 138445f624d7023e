"""influencer: a negative post on a monitored topic from an account with many followers, or a verified media account.

A complaint from a 50万-follower account or a verified media account (大V, 媒体号) reaches
more people in an hour than a hundred ordinary posts; offices watch them one by one.
The rule asks the store for the window's negative posts (filter.topics names the monitored
topics) by authors with at least `min_followers` followers and, when `verified` is on, by
verified authors (PostQuery.min_followers / .verified), each as bounded top hits by engagement
(`candidates`, default 200 — never a scan); a verified author counts when its verified_type
makes it a media account. One finding per author (group key: platform + author id or name), so a
big account posting five times is one alert; levels grade the author's followers.
"""
from __future__ import annotations

import dataclasses
import logging
from datetime import datetime

from pydantic import Field

from index.schema import Post, aware
from index.store import PostIndex, PostQuery

from ..durations import Duration, humanize_duration
from ..grading import LevelThresholds, level_for
from ..labels import platform_label
from ..privacy import mask
from ..rules import Finding, Rule, RuleParams

logger = logging.getLogger(__name__)

NEGATIVE = "负面"


class InfluencerParams(RuleParams):
    window: Duration = Field(description="the recent period read, e.g. 2h")
    min_followers: int = Field(default=100_000, ge=1, description="followers that make an account influential")
    verified: bool = Field(default=True, description="a verified media account counts whatever its followers")
    verified_types: list[int] = Field(
        default_factory=lambda: [3, 5],
        description="Weibo verified_type values that make a verified account a media account "
                    "(3 媒体, 5 网站; 0 is a verified individual, 1 government); empty: every verified account")
    verified_followers: float = Field(default=100_000, ge=0,
                                      description="followers a verified account is graded as, at least")
    levels: LevelThresholds = Field(description="followers per level, e.g. {蓝: 100000, 黄: 500000, 红: 2000000}")
    candidates: int = Field(default=200, ge=1, le=2000,
                            description="posts read per evaluation from big accounts, and as many from verified "
                                        "ones (top by engagement)")


def author_key(post: Post) -> str:
    who = post.author.id or post.author.name or post.id
    platform = post.platform.value if hasattr(post.platform, "value") else str(post.platform)
    return f"{platform}_{who}"


class InfluencerRule(Rule):
    type_name = "influencer"
    params_model = InfluencerParams
    params: InfluencerParams

    def is_media(self, post: Post) -> bool:
        if not post.author.verified:
            return False
        if not self.params.verified_types:
            return True
        try:
            return int(post.extra.get("verified_type")) in self.params.verified_types
        except (TypeError, ValueError):
            return False

    def evaluate(self, store: PostIndex, now: datetime) -> list[Finding]:
        p = self.params
        now = aware(now)
        window_start = now - p.window
        query = dataclasses.replace(p.filter.query(window_start, now), polarities=(NEGATIVE,))
        candidates: dict[str, Post] = {}
        asks = [dataclasses.replace(query, min_followers=p.min_followers)]
        if p.verified:
            asks.append(dataclasses.replace(query, verified=True))
        for ask in asks:
            for hit in store.search(ask, size=p.candidates, sort="engagement").hits:
                candidates[hit.post.id] = hit.post
        by_author: dict[str, list[Post]] = {}
        for post in sorted(candidates.values(), key=lambda post: (-post.engagement.total, post.id)):
            followers = post.author.followers or 0
            if followers >= p.min_followers or (p.verified and self.is_media(post)):
                by_author.setdefault(author_key(post), []).append(post)
        findings = []
        for key, posts in by_author.items():
            if key in p.ignore_groups:
                continue
            lead = max(posts, key=lambda post: (post.engagement.total, post.published_at))
            followers = lead.author.followers or 0
            media = p.verified and self.is_media(lead)
            graded = max(float(followers), p.verified_followers if media else 0.0)
            level = level_for(graded, p.levels)
            if level is None:
                continue
            name = mask(lead.author.name or "") or "某账号"
            kind = "媒体账号" if media else ("认证账号" if lead.author.verified else "账号")
            platform = platform_label(lead.platform.value if hasattr(lead.platform, "value") else str(lead.platform))
            engagement = sum(post.engagement.total for post in posts)
            metrics = {"count": float(len(posts)), "followers": float(followers), "graded_followers": graded,
                       "engagement": float(engagement), "verified": float(lead.author.verified), "media": float(media)}
            summary = (f"近{humanize_duration(p.window)}{platform}{kind}「{name}」（粉丝{_followers(followers)}）"
                       f"发布负面信息{len(posts)}条，互动{engagement}次。")
            findings.append(Finding(
                rule=self.name, rule_type=self.type_name, group_by="author", group_key=key,
                level=level, value=graded, value_key="graded_followers", metrics=metrics,
                window_start=window_start, window_end=now,
                query=PostQuery(ids=tuple(post.id for post in posts), start=window_start, end=now),
                subject=f"{kind}「{name}」", headline="发布负面信息", summary=summary, thresholds=p.levels,
            ))
        logger.debug("rule %s at %s: %d findings", self.name, now.isoformat(), len(findings))
        return findings


def _followers(n: int) -> str:
    return f"{n / 10_000:.1f}万" if n >= 10_000 else str(n)
