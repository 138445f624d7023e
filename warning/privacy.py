"""PII masking for everything a report or an alert shows (delegates to nlp.privacy)."""
from __future__ import annotations

import re

from nlp.privacy import mask_pii

_UNSAFE_URL = re.compile(r"[\s<>\"'`\\]")


def mask(text: str | None) -> str:
    return mask_pii(text) if text else ""


def safe_link(url: str | None) -> str | None:
    """The link to show for a post: None unless http(s), free of characters that would break out of
    an attribute or a Markdown link, and free of anything the masker would hide."""
    if not url or not url.startswith(("http://", "https://")) or _UNSAFE_URL.search(url) or mask(url) != url:
        return None
    return url


def excerpt(text: str | None, limit: int = 80) -> str:
    """At most `limit` characters of text, whitespace collapsed and personal data masked first
    (so a number cut at the edge is never shown half-unmasked); '…' marks a cut."""
    flat = mask(" ".join((text or "").split()))
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"
