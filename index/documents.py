"""Loading stored records back into the schema models, for every backend.

A stored post, alert or event that no longer validates (an older program wrote
it, or a hand edit broke it) is logged and skipped rather than failing the whole
read: the record stays in storage for a later fix or migration. Times come back
as aware datetimes in the store's time zone.
"""
from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import tzinfo
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from .schema import DEFAULT_TZ, Alert, Event, Post

logger = logging.getLogger(__name__)

M = TypeVar("M", bound=BaseModel)

TIME_FIELDS: dict[type[BaseModel], tuple[str, ...]] = {
    Post: ("published_at", "crawled_at", "enriched_at"),
    Alert: ("window_start", "window_end", "first_seen", "last_seen", "ended_at"),
    Event: ("first_seen", "last_seen", "updated_at"),
}
POST_TIME_FIELDS, ALERT_TIME_FIELDS, EVENT_TIME_FIELDS = TIME_FIELDS[Post], TIME_FIELDS[Alert], TIME_FIELDS[Event]


def localize(model: BaseModel, names: Iterable[str], tz: tzinfo = DEFAULT_TZ) -> None:
    """Set these aware datetime fields to the same instants in `tz`."""
    for name in names:
        value = getattr(model, name)
        if value is not None:
            setattr(model, name, value.astimezone(tz))


def load_record(model: type[M], stored: str | bytes | dict[str, Any], tz: tzinfo = DEFAULT_TZ) -> M | None:
    """A model from its stored JSON text or dict, times in `tz`; None (logged) when it no longer validates."""
    try:
        record = model.model_validate_json(stored) if isinstance(stored, (str, bytes)) \
            else model.model_validate(stored)
    except ValidationError as exc:
        record_id = stored.get("id") if isinstance(stored, dict) else None
        logger.error(f"stored {model.__name__.lower()} no longer validates; skipped",
                     extra={"record_id": record_id, "error": str(exc)[:500]})
        return None
    localize(record, TIME_FIELDS.get(model, ()), tz)
    return record


__all__ = ["ALERT_TIME_FIELDS", "EVENT_TIME_FIELDS", "POST_TIME_FIELDS", "TIME_FIELDS", "load_record", "localize"]
