"""Full-text search on FTS5: indexed column text, user text as MATCH expressions, snippets.

Text is cut by the index-side jieba segmenter (index.segment) and stored as
space-separated tokens, which FTS5's unicode61 tokenizer splits again; whitespace
of the original text travels as a GAP token so snippets can be put back together
with Chinese words unspaced and Latin words spaced.
"""
from __future__ import annotations

import html
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass, field

from .. import querylang
from ..segment import Segmenter

# Markers FTS5 puts around matches, and the token standing for whitespace; removed from
# indexed text so a stray control character cannot forge a highlight.
OPEN, CLOSE, GAP = "\x02", "\x03", "\x1f"
NO_MARKERS = str.maketrans("", "", OPEN + CLOSE + GAP)


def column_text(tokens: Iterable[str]) -> str:
    """Tokens joined by spaces (FTS5 splits there); original whitespace becomes a GAP token."""
    parts = []
    for token in tokens:
        if not token or token.isspace():
            if parts and parts[-1] != GAP:
                parts.append(GAP)
        else:
            parts.append(f" {GAP} ".join(token.split()))
    return " ".join(parts)


def fts_string(text: str) -> str:
    """An FTS5 string literal: inside double quotes every character is literal text."""
    return '"' + text.replace('"', '""') + '"'


@dataclass
class FtsMatch:
    """A user's text as an FTS5 expression. `expression` None: nothing searchable, match nothing."""
    expression: str | None
    surface: list[str] = field(default_factory=list)   # the words as typed, for fallback highlights


class FtsQueryBuilder:
    """Search text (index.querylang trees) → FTS5 MATCH expressions.

    Each bare word is cut by jieba; a chunk cut into several words matches either
    as one token or as all its words, and a long word either as itself or as all
    its search-mode sub-words, so a post segmented a little differently (e.g. by
    enrichment's user dictionary) is still found. "Quoted phrases" match
    consecutive tokens in title or body; title: ones in the title. AND, OR and
    NOT become FTS5's own (`a AND NOT b` is `a NOT b`). User text only ever
    appears inside FTS5 string literals, so operators and syntax characters in
    it are plain text.
    """

    def __init__(self, segmenter: Segmenter):
        self.segmenter = segmenter

    def build(self, text: str) -> FtsMatch:
        """The whole query as one expression, for text FTS5 can express alone (no field filters)."""
        node = querylang.prune(querylang.parse(text), self.searchable)
        if node is None:
            return FtsMatch(None)
        expression = self.expression(node)
        if expression is None:
            raise ValueError(f"{text!r} needs SQL beside FTS5 (field filters or NOT alone); see index.sqlite.querysql")
        return FtsMatch(expression, self.surface(querylang.positive_text(node)))

    def searchable(self, text: str) -> bool:
        return bool(self.segmenter.words(text))

    def expression(self, node: querylang.Node) -> str | None:
        """An FTS5 expression matching exactly the posts `node` matches; None when FTS5 cannot say it
        (a field filter, or a NOT with nothing positive beside it)."""
        if isinstance(node, querylang.Term):
            return self.chunk(node.text)
        if isinstance(node, querylang.Phrase):
            return self.phrase(node.text)
        if isinstance(node, querylang.Field):
            return self.phrase(node.value, "{title}") if node.is_text else None
        if isinstance(node, querylang.Or):
            parts = [self._grouped(c) for c in node.children]
            return None if None in parts else " OR ".join(parts)   # type: ignore[arg-type]
        if isinstance(node, querylang.And):
            positive = [self._grouped(c) for c in node.children if not isinstance(c, querylang.Not)]
            negative = [self._grouped(c.child) for c in node.children if isinstance(c, querylang.Not)]
            if not positive or None in positive or None in negative:
                return None
            out = " AND ".join(positive)   # type: ignore[arg-type]
            return f"({out}) NOT ({' OR '.join(negative)})" if negative else out   # type: ignore[arg-type]
        return None     # NOT alone: FTS5's NOT is binary

    def _grouped(self, node: querylang.Node) -> str | None:
        """An operand of AND/OR/NOT: an inner AND or OR in parentheses (leaves bring their own)."""
        expression = self.expression(node)
        if expression is not None and isinstance(node, (querylang.And, querylang.Or)):
            return f"({expression})"
        return expression

    def chunk(self, chunk: str) -> str | None:
        """A bare word as typed: one word (or its sub-words), or a chunk jieba cuts into several."""
        words = self.segmenter.words(chunk)
        if not words:
            return None
        if len(words) == 1:
            return self._word(words[0])
        return f"({fts_string(chunk)} OR ({' AND '.join(self._word(w) for w in words)}))"

    def phrase(self, text: str, columns: str = "{title body}") -> str | None:
        words = self.segmenter.words(text)
        return self._phrase(words, columns) if words else None

    def surface(self, leaves: Iterable[querylang.TextLeaf]) -> list[str]:
        """The words as typed, for highlights where FTS5's snippet marks nothing."""
        out: list[str] = []
        for leaf in leaves:
            text = querylang.leaf_text(leaf)
            words = self.segmenter.words(text)
            if isinstance(leaf, querylang.Term) and len(words) > 1:
                out.extend(words)
            elif words:
                out.append(text)
        return out

    def any_term(self, terms: Iterable[str]) -> str | None:
        """An expression matching posts with at least one of the terms: a one-word term as a bare word
        of the search text (itself or its sub-words), a longer one as a quoted phrase; None: none searchable."""
        parts = []
        for term in dict.fromkeys(terms):
            words = self.segmenter.words(term)
            if len(words) == 1:
                parts.append(self._word(words[0]))
            elif words:
                parts.append(self._phrase(words))
        return " OR ".join(parts) if parts else None

    @staticmethod
    def _phrase(words: list[str], columns: str = "{title body}") -> str:
        """Consecutive tokens in title or body (or the given columns)."""
        return f"{columns} : " + fts_string(" ".join(words))

    def _word(self, word: str) -> str:
        pieces = self.segmenter.pieces(word)
        if not pieces:
            return fts_string(word)
        return f"({fts_string(word)} OR ({' AND '.join(fts_string(p) for p in pieces)}))"


def _spaced(ch: str) -> bool:
    """Latin letters and digits keep a space between tokens; CJK text does not."""
    return ch.isalnum() and unicodedata.east_asian_width(ch) not in ("W", "F")


def render_snippet(raw: str) -> str | None:
    """An FTS5 snippet of space-joined tokens → readable HTML-safe text with <em> marks.

    Returns None when the snippet marks nothing.
    """
    if OPEN not in raw:
        return None
    out: list[str] = []
    last = ""   # last visible character written
    for piece in raw.split(" "):
        visible = piece.replace(OPEN, "").replace(CLOSE, "")
        if not visible:
            out.append(piece)
            continue
        if not visible.strip(GAP):          # whitespace in the original text
            if last and last != " ":
                out.append(piece.replace(GAP, " "))
                last = " "
            continue
        if last and _spaced(last) and _spaced(visible[0]):
            out.append(" ")
        out.append(piece.replace(GAP, " "))
        last = visible[-1]
    text = html.escape("".join(out).strip(), quote=False)
    text = text.replace(CLOSE + OPEN, "").replace(CLOSE + " " + OPEN, " ")
    return text.replace(OPEN, "<em>").replace(CLOSE, "</em>")
