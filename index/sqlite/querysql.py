"""A search query (index.querylang) → FTS5 MATCH expressions and SQL conditions on posts `p`.

Text that FTS5 can say alone (words, phrases, title:, AND/OR/NOT among them)
becomes one MATCH expression; field filters and NOTs with nothing positive beside
them become SQL, joined to the text by `p.rid [NOT] IN (SELECT rowid FROM
posts_fts WHERE posts_fts MATCH ?)`. The common search — positive text plus
field filters ANDed at the top — keeps the fast path: its text is the one MATCH
the search joins (bm25 ranking, snippets) and its filters are plain column
conditions, as PostQuery's own filters are.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from .. import querylang
from ..querylang import And, Field, Node, Not, Or
from .fts import FtsQueryBuilder
from .rows import TERM_KINDS

Condition = tuple[str, list[Any]]
_IN_FTS = "p.rid IN (SELECT rowid FROM posts_fts WHERE posts_fts MATCH ?)"
_NOT_IN_FTS = "p.rid NOT IN (SELECT rowid FROM posts_fts WHERE posts_fts MATCH ?)"
_REGION_NAMES = ("p.province", "p.city", "p.district")
_REGION_CODES = ("p.province_code", "p.city_code", "p.district_code")


@dataclass
class SqlText:
    """A query's text for SQLite. `match`: the FTS5 expression a search joins on (None: no join);
    `conditions`: SQL on posts `p`, ANDed; `highlight`: an expression of the positive text only,
    for snippets (None: nothing to mark); `surface`: the positive words as typed, for fallbacks."""
    match: str | None
    conditions: list[Condition] = field(default_factory=list)
    highlight: str | None = None
    surface: list[str] = field(default_factory=list)


class SqlQueryCompiler:
    def __init__(self, fts: FtsQueryBuilder, columns: Mapping[str, str]):
        self.fts = fts
        self.columns = columns      # store keyword field → posts column

    def compile(self, text: str, *, join: bool) -> SqlText | None:
        """None when the query can match nothing (its text holds nothing searchable).
        Raises querylang.QuerySyntaxError. With `join`, positive text ANDed at the top goes to `match`."""
        node = querylang.prune(querylang.parse(text), self.fts.searchable)
        if node is None:
            return None
        positive = querylang.positive_text(node)
        marks = [e for e in (self.fts.expression(leaf) for leaf in positive) if e]
        out = SqlText(None, highlight=" OR ".join(f"({m})" for m in dict.fromkeys(marks)) or None,
                      surface=self.fts.surface(positive))
        if join:
            parts = querylang.conjuncts(node)
            text = [p for p in parts if self._fts_part(p)]
            if any(not isinstance(p, Not) for p in text):
                out.match = self.fts.expression(text[0] if len(text) == 1 else And(tuple(text)))
                out.conditions = [self.condition(p) for p in parts if p not in text]
                return out
        out.conditions = [self.condition(node)]
        return out

    def _fts_part(self, node: Node) -> bool:
        """Text FTS5 can say, or the NOT of such text (which FTS5 can say beside positive text)."""
        return self.fts.expression(node.child if isinstance(node, Not) else node) is not None

    def condition(self, node: Node) -> Condition:
        expression = self.fts.expression(node)
        if expression is not None:
            return _IN_FTS, [expression]
        if isinstance(node, Field):
            return self._field(node)
        if isinstance(node, Not):
            inner = self.fts.expression(node.child)
            if inner is not None:
                return _NOT_IN_FTS, [inner]
            sql, params = self.condition(node.child)
            # A comparison with a NULL column is NULL, and NOT NULL would drop the post: read it as false.
            return f"NOT coalesce(({sql}), 0)", params
        assert isinstance(node, (And, Or))
        # The parts FTS5 can say together travel as one MATCH, not one subquery each.
        children = list(node.children)
        if isinstance(node, And):
            text = [c for c in children if self._fts_part(c)]
            grouped = And(tuple(text)) if len(text) > 1 and self.fts.expression(And(tuple(text))) else None
        else:
            text = [c for c in children if self.fts.expression(c) is not None]
            grouped = Or(tuple(text)) if len(text) > 1 else None
        if grouped is not None:
            children = [grouped, *(c for c in children if c not in text)]
        parts = [self.condition(c) for c in children]
        if len(parts) == 1:
            return parts[0]
        joiner = " AND " if isinstance(node, And) else " OR "
        return "(" + joiner.join(f"({sql})" for sql, _ in parts) + ")", [p for _, params in parts for p in params]

    def _field(self, node: Field) -> Condition:
        spec, value = node.spec, node.value
        if spec.kind == "keyword":
            return f"p.{self.columns[spec.target]} = ?", [value]
        if spec.kind == "region":
            columns = _REGION_CODES if value.isascii() and value.isdigit() else _REGION_NAMES
            return "(" + " OR ".join(f"{c} = ?" for c in columns) + ")", [value] * len(columns)
        if spec.kind == "scheme":
            return f"p.rid IN (SELECT rid FROM post_terms WHERE kind = {TERM_KINDS['schemes']} AND term = ?)", [value]
        raise AssertionError(f"field kind {spec.kind!r} has no SQL")   # pragma: no cover - title is FTS


__all__ = ["SqlQueryCompiler", "SqlText"]
