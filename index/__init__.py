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
        try:
            import elasticsearch  # noqa: F401 - only to give a clear message when the extra is missing
        except ImportError:
            raise BackendNotAvailable("store.backend 'elasticsearch' needs the client: "
                                      "pip install 'yuqing-sentinel[es]'") from None
        from .es_store import ElasticsearchStore
        user_dicts = [settings.path(p) for p in settings.app.nlp.user_dicts]
        return ElasticsearchStore.from_settings(config.elasticsearch, base_dir=settings.base_dir,
                                                user_dicts=user_dicts)
    raise BackendNotAvailable(f"unknown store backend {config.backend!r}; use sqlite or elasticsearch")
