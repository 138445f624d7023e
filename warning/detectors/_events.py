"""Per-event questions for the event rules, asked as store aggregations (terms on event_id).

The rules first ask which events are busiest in the window (one terms aggregation, at
most `max_events` buckets), then ask small questions about those few only: their counts
in another period, their negative posts, their platforms, their titles.
"""
from __future__ import annotations

import dataclasses
from collections.abc import Sequence

from index.store import EventStore, PostIndex, PostQuery

from ..labels import event_subject, platform_label
from ..rules import group_query
from ._counting import negatives

EVENT_FIELD = "event_id"
PLATFORM_BUCKETS = 50    # more platforms than any deployment has


def busiest_events(store: PostIndex, query: PostQuery, max_events: int) -> dict[str, int]:
    """Event id -> posts matching `query`, for the `max_events` events with most posts (posts without
    an event are not counted)."""
    return {bucket.key: bucket.count for bucket in store.terms(query, EVENT_FIELD, size=max_events)}


def counts_of(store: PostIndex, query: PostQuery, event_ids: Sequence[str]) -> dict[str, int]:
    """Posts matching `query` for each of `event_ids` (absent: none)."""
    if not event_ids:
        return {}
    narrowed = dataclasses.replace(query, event_ids=tuple(event_ids))
    return {bucket.key: bucket.count for bucket in store.terms(narrowed, EVENT_FIELD, size=len(event_ids))}


def negative_counts(store: PostIndex, query: PostQuery, event_ids: Sequence[str]) -> dict[str, int]:
    return counts_of(store, negatives(query), event_ids)


def platforms_of(store: PostIndex, query: PostQuery, event_id: str) -> dict[str, int]:
    """Platform -> posts of one event matching `query`, most posts first."""
    buckets = store.terms(group_query(query, "event", event_id), "platform", size=PLATFORM_BUCKETS)
    return {bucket.key: bucket.count for bucket in buckets}


def event_subjects(store: PostIndex, event_ids: Sequence[str]) -> dict[str, str]:
    """Event id -> 「title」事件, from the store's events; an event the store does not hold (or a
    store without events) reads by its id."""
    titles: dict[str, str] = {}
    if event_ids and isinstance(store, EventStore):
        titles = {event.id: event.title for event in store.get_events(event_ids)}
    return {event_id: event_subject(titles.get(event_id) or event_id) for event_id in event_ids}


def platform_names(platforms: dict[str, int]) -> str:
    """微博、新闻网站、论坛"""
    return "、".join(platform_label(platform) for platform in platforms)


def negative_clause(negative: int, count: int) -> str:
    """'，其中负面8条（40%）' or nothing."""
    return f"，其中负面{negative}条（{negative / count:.0%}）" if negative and count else ""
