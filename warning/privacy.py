"""PII masking for everything a report or an alert shows (delegates to nlp.privacy)."""
from __future__ import annotations

from nlp.privacy import mask_pii


def mask(text: str | None) -> str:
    return mask_pii(text) if text else ""
