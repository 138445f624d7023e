"""Text normalisation shared by training and inference, so both see the same characters."""
from __future__ import annotations

import re
import unicodedata

_SPACE = re.compile(r"\s+")
# Zero-width and BOM characters sneak in from copied web text.
_INVISIBLE = re.compile("[\u200b-\u200f\u2060\ufeff]")


def normalize_text(text: str) -> str:
    """NFKC (full-width ASCII → half-width), lower case, one space for any whitespace run."""
    text = unicodedata.normalize("NFKC", text)
    text = _INVISIBLE.sub("", text)
    return _SPACE.sub(" ", text).strip().lower()
