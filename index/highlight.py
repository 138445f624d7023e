"""Highlight snippets: query words marked with <em> in HTML-safe text, for any backend.

A backend marks matches itself where it can (FTS5 snippets, Elasticsearch's
highlighter); this is the fallback for matches it cannot mark, such as a query
word found inside a longer indexed token.
"""
from __future__ import annotations

import html
import re
from collections.abc import Sequence


def highlight_text(text: str, words: Sequence[str], width: int = 80) -> str | None:
    """Mark `words` in raw text around their first occurrence; None when none occurs."""
    words = sorted({w for w in words if w.strip()}, key=len, reverse=True)
    if not words or not text:
        return None
    pattern = re.compile("|".join(re.escape(w) for w in words), re.IGNORECASE)
    first = pattern.search(text)
    if first is None:
        return None
    start = max(0, first.start() - width // 3)
    end = min(len(text), start + width)
    window = " ".join(text[start:end].split())
    pieces, pos = [], 0
    for m in pattern.finditer(window):
        pieces.append(html.escape(window[pos:m.start()], quote=False))
        pieces.append(f"<em>{html.escape(m.group(0), quote=False)}</em>")
        pos = m.end()
    pieces.append(html.escape(window[pos:], quote=False))
    return ("…" if start > 0 else "") + "".join(pieces) + ("…" if end < len(text) else "")
