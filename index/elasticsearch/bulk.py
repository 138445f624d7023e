"""Bulk writes through elasticsearch.helpers.streaming_bulk, with per-document outcomes.

Documents rejected with 429 (queue full) or a 5xx are retried with exponential
backoff by the helper; what still fails that way is reported as `retry_later`
(the caller spools it), while a document Elasticsearch refuses (e.g. a strict
mapping violation) is reported with its reason. A transport failure part-way
raises BulkInterrupted, which says which documents were already acknowledged.
"""
from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from .client import RETRY_STATUSES, translated
from ..store import StoreUnavailable

if TYPE_CHECKING:  # pragma: no cover
    from elasticsearch import Elasticsearch

logger = logging.getLogger(__name__)


@dataclass
class BulkOutcome:
    ok: list[str] = field(default_factory=list)                  # ids acknowledged
    failed: dict[str, str] = field(default_factory=dict)         # id → why Elasticsearch refused it
    retry_later: dict[str, str] = field(default_factory=dict)    # id → last 429/5xx reason, retries spent


class BulkInterrupted(StoreUnavailable):
    """The cluster went away part-way; `outcome` holds what was settled before."""

    def __init__(self, message: str, outcome: BulkOutcome):
        super().__init__(message)
        self.outcome = outcome


def item_reason(info: dict[str, Any]) -> str:
    """'type: reason (caused by: type: reason)' of one bulk item's error."""
    error = info.get("error")
    if isinstance(error, dict):
        text = f"{error.get('type')}: {error.get('reason')}"
        cause = error.get("caused_by")
        if isinstance(cause, dict):
            text += f" (caused by {cause.get('type')}: {cause.get('reason')})"
        return text
    if error is not None:
        return str(error)
    return f"HTTP {info.get('status')}"


class BulkWriter:
    """Writes bulk actions ({"_op_type", "_index", "_id", ...}) and reports each document."""

    def __init__(self, client: "Elasticsearch", *, chunk_size: int = 500, max_retries: int = 5,
                 initial_backoff_s: float = 0.5, max_backoff_s: float = 30.0, where: str = "elasticsearch"):
        self.client = client
        self.chunk_size = max(1, chunk_size)
        self.max_retries = max(0, max_retries)
        self.initial_backoff_s = initial_backoff_s
        self.max_backoff_s = max_backoff_s
        self.where = where

    def write(self, actions: Iterable[dict[str, Any]]) -> BulkOutcome:
        from elasticsearch import helpers

        outcome = BulkOutcome()
        results = helpers.streaming_bulk(
            self.client, actions, chunk_size=self.chunk_size, raise_on_error=False, raise_on_exception=True,
            max_retries=self.max_retries, initial_backoff=self.initial_backoff_s, max_backoff=self.max_backoff_s,
            retry_on_status=RETRY_STATUSES)
        try:
            with translated("bulk write", self.where):
                for ok, item in results:
                    op, info = next(iter(item.items()))
                    doc_id = str(info.get("_id"))
                    status = int(info.get("status") or 0)
                    if ok or (op == "delete" and status == 404):
                        outcome.ok.append(doc_id)
                    elif status in RETRY_STATUSES:
                        outcome.retry_later[doc_id] = item_reason(info)
                    else:
                        outcome.failed[doc_id] = item_reason(info)
        except StoreUnavailable as exc:
            raise BulkInterrupted(str(exc), outcome) from exc
        if outcome.failed:
            logger.warning("documents refused by Elasticsearch",
                           extra={"count": len(outcome.failed), "first": next(iter(outcome.failed.items()))})
        if outcome.retry_later:
            logger.warning("documents still rejected after retries",
                           extra={"count": len(outcome.retry_later), "retries": self.max_retries})
        return outcome


