"""Counting posts per group with store aggregations only (never scanning posts)."""
from __future__ import annotations

import dataclasses

from index.store import PostIndex, PostQuery

from ..rules import GROUP_FIELDS

NEGATIVE = "负面"


def counts_by_group(store: PostIndex, query: PostQuery, group_by: str, max_groups: int) -> dict[str | None, int]:
    """Posts matching `query` per group value; {None: n} when the rule does not group."""
    field = GROUP_FIELDS[group_by]
    if field is None:
        return {None: store.count(query)}
    return {bucket.key: bucket.count for bucket in store.terms(query, field, size=max_groups)}


def negatives(query: PostQuery) -> PostQuery:
    return dataclasses.replace(query, polarities=(NEGATIVE,))
