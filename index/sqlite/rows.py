"""Posts, alerts and events ⇄ the rows of the SQLite tables.

A post becomes one small row of filter columns (posts), its full JSON (post_docs),
FTS5 text (posts_fts) and distinct hot words (post_terms).
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, tzinfo
from enum import Enum
from typing import Any

from ..documents import load_record
from ..schema import Alert, Event, Post, aware
from ..segment import Segmenter, is_searchable
from .fts import NO_MARKERS, column_text

TERM_KINDS: dict[str, int] = {"tokens": 0, "keywords": 1, "schemes": 2}


def value(x: Any) -> Any:
    return x.value if isinstance(x, Enum) else x


def keyword(x: Any) -> str | None:
    """Keyword column value; empty means missing."""
    x = value(x)
    return x if x else None


def epoch(dt: datetime) -> float:
    return aware(dt).timestamp()


@dataclass
class PreparedPost:
    post_row: tuple
    doc: str
    fts: tuple[str, str, str]
    terms: list[tuple[int, str]]


POST_COLUMNS = ("id", "platform", "source", "published_at", "sentiment", "emotion", "topic",
                 "province", "province_code", "city", "city_code", "district", "district_code",
                 "region_code", "event_id", "dup_group", "author", "engagement", "enriched",
                "root_id", "followers", "verified", "polarity")
UPSERT_POST = (
    f"INSERT INTO posts ({', '.join(POST_COLUMNS)}) VALUES ({', '.join('?' * len(POST_COLUMNS))}) "
    "ON CONFLICT (id) DO UPDATE SET " + ", ".join(f"{c} = excluded.{c}" for c in POST_COLUMNS[1:])
)


class PostIndexer:
    """Turns a Post into the rows of every table: columns, JSON, FTS text, hot-word terms."""

    def __init__(self, segmenter: Segmenter):
        self.segmenter = segmenter

    def prepare(self, post: Post) -> PreparedPost:
        region = post.region
        row = (
            post.id, value(post.platform), post.source, epoch(post.published_at),
            keyword(post.sentiment.label) if post.sentiment else None,
            keyword(post.emotion.label) if post.emotion else None,
            keyword(post.topic),
            keyword(region.province) if region else None, keyword(region.province_code) if region else None,
            keyword(region.city) if region else None, keyword(region.city_code) if region else None,
            keyword(region.district) if region else None, keyword(region.district_code) if region else None,
            keyword(region.code) if region else None,
            keyword(post.event_id), keyword(post.dup_group), keyword(post.author.name),
            post.engagement.total, int(post.enriched_at is not None),
            keyword(post.root_id), post.author.followers, int(post.author.verified),
            keyword(post.polarity.label) if post.polarity else None,
        )
        # The shown columns are cut here, by the same segmenter that cuts queries, so phrases
        # line up and snippets keep every character. Enrichment's tokens (content words only,
        # cut with its own dictionaries, e.g. place names) are matched through "extra".
        title_tokens = self.segmenter.index_tokens(post.title.translate(NO_MARKERS)) if post.title else []
        body_tokens = self.segmenter.index_tokens(post.content.translate(NO_MARKERS)) if post.content else []
        shown = {*title_tokens, *body_tokens}
        extra: dict[str, None] = {t: None for t in (x.strip() for x in post.tokens)
                                  if t not in shown and is_searchable(t)}
        for token in {*shown, *extra}:
            if len(token) > 2:
                for piece in self.segmenter.pieces(token):
                    extra[piece] = None
        terms = [(TERM_KINDS["tokens"], t) for t in dict.fromkeys(x.strip() for x in post.tokens)
                 if is_searchable(t)]
        terms += [(TERM_KINDS["keywords"], k) for k in dict.fromkeys(x.strip() for x in post.keywords) if k]
        terms += [(TERM_KINDS["schemes"], s) for s in dict.fromkeys(post.schemes) if s]
        return PreparedPost(row, post.model_dump_json(),
                             (column_text(title_tokens), column_text(body_tokens), " ".join(extra)), terms)


def load_post(doc: str, tz: tzinfo) -> Post | None:
    return load_record(Post, doc, tz)


def load_alert(doc: str, tz: tzinfo) -> Alert | None:
    return load_record(Alert, doc, tz)


def load_event(doc: str, tz: tzinfo) -> Event | None:
    return load_record(Event, doc, tz)
