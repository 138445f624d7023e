"""Storage: the post schema, the Store protocols, its backends and a factory from `store:` settings."""
from __future__ import annotations

from .backends import STORE_BACKENDS, BackendNotAvailable, create_store
from .store import (
    KEYWORD_FIELDS, AlertStore, Bucket, EventStore, Lifecycle, PostIndex, PostQuery, SearchHit, SearchResult,
    StateStore, Store, StoreError, StoreUnavailable, TimeBucket, UpsertReport,
)

__all__ = [
    "KEYWORD_FIELDS", "AlertStore", "Bucket", "BackendNotAvailable", "EventStore", "Lifecycle", "PostIndex",
    "PostQuery", "STORE_BACKENDS", "SearchHit", "SearchResult", "StateStore", "Store", "StoreError",
    "StoreUnavailable", "TimeBucket", "UpsertReport", "create_store",
]
