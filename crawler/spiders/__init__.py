"""Spiders, one per source type; spider_for() picks the class for a configured source (crawler.registry)."""
from __future__ import annotations

from index.plugins import ComponentError

from ..registry import SPIDER_TYPES
from .base import SourceSpider


def spider_for(source_type: str) -> type[SourceSpider]:
    try:
        return SPIDER_TYPES.get(source_type)
    except ComponentError as exc:
        raise ValueError(str(exc)) from None


__all__ = ["SPIDER_TYPES", "SourceSpider", "spider_for"]
