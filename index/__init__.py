"""Storage: the Store interface, its embedded SQLite backend, and a factory from settings."""
from __future__ import annotations

from typing import TYPE_CHECKING

from .sqlite_store import SQLiteStore
from .store import (
    KEYWORD_FIELDS, Bucket, PostQuery, SearchHit, SearchResult, Store, StoreError, StoreUnavailable,
    TimeBucket, UpsertReport,
)

if TYPE_CHECKING:  # pragma: no cover - index stays importable without the yuqing package
    from yuqing.config import Settings

__all__ = [
    "KEYWORD_FIELDS", "Bucket", "BackendNotAvailable", "PostQuery", "SQLiteStore", "SearchHit", "SearchResult",
    "Store", "StoreError", "StoreUnavailable", "TimeBucket", "UpsertReport", "create_store",
]


class BackendNotAvailable(StoreError, NotImplementedError):
    """The configured backend is not part of this installation (yet)."""


def create_store(settings: "Settings") -> Store:
    """The Store that settings.app.store names, not yet opened (call open() or use `with`)."""
    config = settings.app.store
    if config.backend == "sqlite":
        user_dicts = [settings.path(p) for p in settings.app.nlp.user_dicts]
        return SQLiteStore(settings.path(config.sqlite.path), user_dicts=user_dicts)
    if config.backend == "elasticsearch":
        raise BackendNotAvailable(
            "store.backend 'elasticsearch' is not available in this version; "
            f"set store.backend: sqlite in {settings.config_path}")
    raise BackendNotAvailable(f"unknown store backend {config.backend!r}; use sqlite or elasticsearch")
