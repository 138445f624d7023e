"""PII masking for everything a report or an alert shows.

The real masker is nlp.privacy.mask_pii (owned by the NLP package). Until it is
importable, a conservative fallback masks the obvious cases, so a briefing never
prints a citizen's phone or ID number.
"""
from __future__ import annotations

import logging
import re
from collections.abc import Callable
from functools import lru_cache

logger = logging.getLogger(__name__)

_FALLBACK_PATTERNS: list[tuple[re.Pattern[str], Callable[[re.Match[str]], str]]] = [
    (re.compile(r"(?<![0-9Xx])[1-9]\d{5}(?:19|20)\d{2}(?:0[1-9]|1[0-2])(?:0[1-9]|[12]\d|3[01])\d{3}[0-9Xx](?![0-9Xx])"),
     lambda m: m.group()[:6] + "*" * 12),                                          # resident ID card
    (re.compile(r"(?<!\d)(?:\+?86[- ]?)?1[3-9]\d(?:[- ]?\d{4}){2}(?!\d)"),
     lambda m: re.sub(r"\d(?=(?:[- ]?\d){4}$)|\d(?=(?:[- ]?\d){4,7}$)", "*", m.group())),  # mobile
    (re.compile(r"(?<!\d)0\d{2,3}-?\d{7,8}(?!\d)"), lambda m: m.group()[:4] + "****" + m.group()[-2:]),  # landline
    (re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+"), lambda m: m.group()[0] + "***@" + m.group().split("@", 1)[1]),
]


def fallback_mask(text: str) -> str:
    for pattern, replace in _FALLBACK_PATTERNS:
        text = pattern.sub(replace, text)
    return text


@lru_cache(maxsize=1)
def get_masker() -> Callable[[str], str]:
    """nlp.privacy.mask_pii when available, else the fallback (with a warning, once)."""
    try:
        from nlp.privacy import mask_pii
    except ImportError:
        logger.warning("nlp.privacy.mask_pii is not available; alerts and reports use the built-in fallback masker")
        return fallback_mask
    return mask_pii


def mask(text: str | None) -> str:
    if not text:
        return ""
    return get_masker()(text)
