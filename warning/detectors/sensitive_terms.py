"""sensitive_terms: posts naming a weighted sensitive term group (死亡, 爆炸, 中毒, 聚集 …), graded by reach.

An office's sensitive-word list (敏感词表) is a set of term groups, each with a weight: a
death weighs more than a complaint about a smell. A term matches as a word of the store's
jieba-segmented index (itself, or inside a longer word it is a dictionary part of: 爆炸 in
发生爆炸), never as bare characters, so 死亡 does not match 死鱼 and 爆炸 not 爆米花. For
each group the rule asks two things of the store — the count of posts in the window with any
of its terms (PostQuery.any_terms) and the top posts by engagement among them (bounded top
hits, never a scan) — and scores each post:

    post score = group weight × platform authority × (2 if verified) × reach
    reach      = 1 + log10(1 + followers) / 2 + log10(1 + reposts + comments + likes) / 2

The group's severity is its strongest post's score × (1 + 0.3 × log2(matching posts)),
so one credible post about a death (weight 5, a verified news outlet) raises an alert at
once, while a single low-reach mention stays below the lowest level.
"""
from __future__ import annotations

import dataclasses
import logging
import math
from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from index.schema import Post, aware
from index.store import PostIndex, PostQuery

from ..durations import Duration, humanize_duration
from ..grading import LevelThresholds, level_for
from ..rules import Finding, Rule, RuleParams

logger = logging.getLogger(__name__)

DEFAULT_AUTHORITY = {"news": 2.0, "gov_board": 1.5, "rss": 1.5, "weibo": 1.0, "forum": 0.8}
NEGATIVE = "负面"


class TermGroup(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, description="the group's name in titles, e.g. 死亡")
    weight: float = Field(gt=0, le=10, description="how grave a mention is, e.g. 死亡 5, 欠薪 3")
    terms: list[str] = Field(min_length=1, description="words any of which puts a post in the group")

    @field_validator("terms")
    @classmethod
    def _terms(cls, terms: list[str]) -> list[str]:
        cleaned = [t.strip() for t in terms]
        if any(not t for t in cleaned):
            raise ValueError("a term is empty")
        if any(any(c.isspace() or c == '"' for c in t) for t in cleaned):
            raise ValueError("a term must be one word (no spaces or quotes)")
        return list(dict.fromkeys(cleaned))


class SensitiveTermsParams(RuleParams):
    window: Duration = Field(description="the recent period searched, e.g. 6h")
    groups: list[TermGroup] = Field(min_length=1, description="weighted term groups")
    levels: LevelThresholds = Field(description="severity per level, e.g. {蓝: 10, 黄: 20, 橙: 35, 红: 60}")
    platform_authority: dict[str, float] = Field(default_factory=lambda: dict(DEFAULT_AUTHORITY),
                                                 description="score factor per platform; others 1.0")
    verified_factor: float = Field(default=2.0, ge=1.0, description="factor for verified (media, official) accounts")
    negative_only: bool = Field(default=False, description="count only posts the polarity model reads as 负面 (舆情倾向)")
    min_posts: int = Field(default=1, ge=1, description="fewest matching posts in the window")
    top_posts: int = Field(default=20, ge=1, le=200, description="posts scored per term (top by engagement)")

    @model_validator(mode="after")
    def _unique_groups(self) -> "SensitiveTermsParams":
        names = [g.name for g in self.groups]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"groups: duplicate group names {dupes}")
        for platform, factor in self.platform_authority.items():
            if factor <= 0:
                raise ValueError(f"platform_authority.{platform}: must be positive, got {factor:g}")
        return self


def reach(post: Post) -> float:
    followers = post.author.followers or 0
    return 1 + math.log10(1 + followers) / 2 + math.log10(1 + post.engagement.total) / 2


class SensitiveTermsRule(Rule):
    type_name = "sensitive_terms"
    params_model = SensitiveTermsParams
    params: SensitiveTermsParams

    def post_score(self, post: Post, weight: float) -> float:
        p = self.params
        authority = p.platform_authority.get(post.platform.value if hasattr(post.platform, "value")
                                             else str(post.platform), 1.0)
        verified = p.verified_factor if post.author.verified else 1.0
        return weight * authority * verified * reach(post)

    def evaluate(self, store: PostIndex, now: datetime) -> list[Finding]:
        p = self.params
        now = aware(now)
        window_start = now - p.window
        base = p.filter.query(window_start, now)
        if p.negative_only:
            base = dataclasses.replace(base, polarities=(NEGATIVE,))
        findings = []
        for group in p.groups:
            if group.name in p.ignore_groups:
                continue
            query = dataclasses.replace(base, any_terms=tuple(group.terms))
            posts = store.count(query)
            if posts < p.min_posts:
                continue
            scored: dict[str, tuple[float, Post]] = {}
            for hit in store.search(query, size=p.top_posts, sort="engagement").hits:
                scored[hit.post.id] = (self.post_score(hit.post, group.weight), hit.post)
            if not scored:
                continue
            # The terms named: those found in the scored posts' text, in the group's order.
            matched_terms = [t for t in group.terms if any(t in post.text for _, post in scored.values())]
            best_score, best = max(scored.values(), key=lambda item: item[0])
            severity = best_score * (1 + 0.3 * math.log2(posts))
            level = level_for(severity, p.levels)
            if level is None:
                continue
            ids = tuple(pid for pid, _ in sorted(scored.items(), key=lambda kv: -kv[1][0]))[:50]
            followers = best.author.followers or 0
            metrics = {"count": float(posts), "severity": round(severity, 2), "max_post_score": round(best_score, 2),
                       "weight": group.weight, "max_followers": float(max((s[1].author.followers or 0)
                                                                          for s in scored.values())),
                       "terms_matched": float(len(matched_terms))}
            who = "认证账号" if best.author.verified else "账号"
            summary = (f"近{humanize_duration(p.window)}出现「{group.name}」类敏感信息{posts}条"
                       f"（命中词：{'、'.join(matched_terms[:5]) or group.terms[0]}），"
                       f"影响力最高的一条来自{_platform(best)}{who}（粉丝{_followers(followers)}），"
                       f"严重度{severity:.1f}。")
            findings.append(Finding(
                rule=self.name, rule_type=self.type_name, group_by="term_group", group_key=group.name,
                level=level, value=severity, value_key="severity", metrics=metrics,
                window_start=window_start, window_end=now, query=PostQuery(ids=ids, start=window_start, end=now),
                subject=f"「{group.name}」类", headline="敏感信息", summary=summary, thresholds=p.levels,
            ))
        logger.debug("rule %s at %s: %d findings", self.name, now.isoformat(), len(findings))
        return findings


def _platform(post: Post) -> str:
    from ..labels import platform_label
    return platform_label(post.platform.value if hasattr(post.platform, "value") else str(post.platform))


def _followers(n: int) -> str:
    return f"{n / 10_000:.1f}万" if n >= 10_000 else str(n)
