"""Posts, alerts and events ⇄ Elasticsearch documents.

A document mirrors the model (Kibana users see the familiar field names) plus a
few derived fields that queries and dashboards need:

  content_seg        jieba words of title + content (+ enrichment's own words and the
                     dictionary sub-words of long words), lower-cased, space-separated
  topic              the primary topic label
  region.code/name   the most specific region code, and the full place name
  engagement.total   reposts + comments + likes
  tokens, keywords   distinct searchable words, so a terms aggregation counts posts;
                     the lists as the model had them are kept under `raw` when they differ
  alert_ids          alerts that cite the post (kept by the store across rewrites)

Reading a document drops the derived fields again, so a post comes back equal to
the one written, with times in the store's time zone (index.documents loads it).
"""
from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import tzinfo
from typing import Any

from ..documents import load_record
from ..schema import DEFAULT_TZ, Alert, Event, Post, Region
from ..segment import Segmenter, is_searchable

logger = logging.getLogger(__name__)

DERIVED_POST_FIELDS = ("content_seg", "topic", "alert_ids", "raw")


def distinct_words(words: Iterable[str]) -> list[str]:
    """Trimmed, searchable, first occurrence kept: the values a hot-word count sees."""
    return [w for w in dict.fromkeys(x.strip() for x in words) if is_searchable(w)]


def distinct_keywords(words: Iterable[str]) -> list[str]:
    return [w for w in dict.fromkeys(x.strip() for x in words) if w]


def region_document(region: Region | None) -> dict[str, Any] | None:
    if region is None:
        return None
    doc = region.model_dump(mode="json")
    doc["code"] = region.code
    doc["name"] = region.name or None
    return doc


def _strip_region(doc: dict[str, Any]) -> None:
    region = doc.get("region")
    if isinstance(region, dict):
        region.pop("code", None)
        region.pop("name", None)


class PostDocuments:
    """Builds and reads post documents; segmentation uses the index-side jieba cut, the
    same one that cuts query text, so words line up."""

    def __init__(self, segmenter: Segmenter):
        self.segmenter = segmenter

    def segmented(self, post: Post) -> str:
        words: dict[str, None] = {}
        ordered: list[str] = []
        for text in (post.title, post.content):
            if text:
                for token in self.segmenter.index_tokens(text):
                    if is_searchable(token):
                        ordered.append(token.lower())
                        words[token.lower()] = None
        # Enrichment's tokens may cut differently (its dictionaries know place names).
        for token in post.tokens:
            for part in token.split():
                part = part.lower()
                if part not in words and is_searchable(part):
                    words[part] = None
                    ordered.append(part)
        # Sub-words let a query for a short word find it inside a longer one (九江 in 九江市).
        pieces = [p.lower() for w in list(words) if len(w) > 2 for p in self.segmenter.pieces(w)]
        return " ".join(ordered + pieces)

    def document(self, post: Post) -> dict[str, Any]:
        doc = post.model_dump(mode="json")
        doc["content_seg"] = self.segmented(post)
        doc["topic"] = post.topic
        doc["region"] = region_document(post.region)
        doc["engagement"]["total"] = post.engagement.total
        tokens, keywords = distinct_words(post.tokens), distinct_keywords(post.keywords)
        raw: dict[str, list[str]] = {}
        if tokens != post.tokens:
            raw["tokens"] = list(post.tokens)
        if keywords != post.keywords:
            raw["keywords"] = list(post.keywords)
        doc["tokens"], doc["keywords"] = tokens, keywords
        if raw:
            doc["raw"] = raw
        return doc

    @staticmethod
    def post(source: dict[str, Any], tz: tzinfo = DEFAULT_TZ) -> Post | None:
        doc = dict(source)
        raw = doc.get("raw") or {}
        for name in DERIVED_POST_FIELDS:
            doc.pop(name, None)
        doc["tokens"] = raw.get("tokens", doc.get("tokens", []))
        doc["keywords"] = raw.get("keywords", doc.get("keywords", []))
        if isinstance(doc.get("engagement"), dict):
            doc["engagement"] = {k: v for k, v in doc["engagement"].items() if k != "total"}
        if isinstance(doc.get("region"), dict):
            doc["region"] = dict(doc["region"])
            _strip_region(doc)
        return load_record(Post, doc, tz)


def _record_document(record: Alert | Event) -> dict[str, Any]:
    doc = record.model_dump(mode="json")
    doc["region"] = region_document(record.region)
    return doc


def _load_record(model: type[Alert] | type[Event], source: dict[str, Any], tz: tzinfo) -> Alert | Event | None:
    doc = dict(source)
    if isinstance(doc.get("region"), dict):
        doc["region"] = dict(doc["region"])
        _strip_region(doc)
    return load_record(model, doc, tz)


def alert_document(alert: Alert) -> dict[str, Any]:
    return _record_document(alert)


def load_alert(source: dict[str, Any], tz: tzinfo = DEFAULT_TZ) -> Alert | None:
    return _load_record(Alert, source, tz)


def event_document(event: Event) -> dict[str, Any]:
    return _record_document(event)


def load_event(source: dict[str, Any], tz: tzinfo = DEFAULT_TZ) -> Event | None:
    return _load_record(Event, source, tz)
