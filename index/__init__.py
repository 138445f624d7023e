"""Storage: the post schema, the Store protocols, its backends and a factory from `store:` settings."""
from __future__ import annotations

from .backends import STORE_BACKENDS, BackendNotAvailable, create_store
from .store import (
    KEYWORD_FIELDS, Bucket, PostQuery, SearchHit, SearchResult, Store, StoreError, StoreUnavailable,
    TimeBucket, UpsertReport,
)

__all__ = [
    "KEYWORD_FIELDS", "Bucket", "BackendNotAvailable", "PostQuery", "STORE_BACKENDS", "SearchHit",
    "SearchResult", "Store", "StoreError", "StoreUnavailable", "TimeBucket", "UpsertReport", "create_store",
]
