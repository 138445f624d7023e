"""The one search-query language of the CLI, the web workbench, the API and rule filters.

`parse(text)` turns what a user typed into a small tree (Term, Phrase, Field, Not,
And, Or); each backend compiles the tree its own way (index.sqlite.querysql to FTS5
and SQL, index.elasticsearch.query to bool queries), so both find the same posts.
Pure: no I/O, no segmenter — how a leaf's text is cut into words is the backend's.

Syntax (docs/search.md):
  暴雨 内涝             bare words, ANDed
  暴雨 AND 内涝         explicit AND; OR; NOT (upper case only: and/or/not are words)
  -内涝  -"蓝色 预警"  -(a OR b)    a leading minus is NOT
  "九江 内涝"  “九江内涝”  a phrase (ASCII or Chinese quotes); an unclosed quote runs to the end
  ( … )  （ … ）       grouping; full-width parentheses work as ASCII ones
  platform:weibo  author:"九江 日报"  region：3604   field filters (full-width colon too)
Precedence NOT > AND > OR. A query of NOT terms only matches every post except those.
Operators inside quotes are text. A `name:` prefix that is not an ASCII identifier
(`10:30`, `标题：…`) is text; an identifier that is not a field is an error.
"""
from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass

# Field name → what it filters. Kinds: "keyword" (the store keyword field in `target`, exact
# value), "region" (province/city/district name, or a code when the value is all digits),
# "scheme" (Post.schemes), "title" (the value as text, in the title only).
@dataclass(frozen=True)
class FieldSpec:
    kind: str
    target: str = ""


FIELDS: dict[str, FieldSpec] = {
    "platform": FieldSpec("keyword", "platform"),
    "source": FieldSpec("keyword", "source"),
    "polarity": FieldSpec("keyword", "polarity"),
    "sentiment": FieldSpec("keyword", "sentiment"),
    "emotion": FieldSpec("keyword", "emotion"),
    "topic": FieldSpec("keyword", "topic"),
    "author": FieldSpec("keyword", "author"),
    "event": FieldSpec("keyword", "event_id"),
    "region": FieldSpec("region"),
    "scheme": FieldSpec("scheme"),
    "title": FieldSpec("title"),
}
# polarity:negative reads as polarity:负面 (the stored labels are Chinese).
_LABEL_ALIASES = {"negative": "负面", "neutral": "中性", "positive": "正面"}
_LABEL_FIELDS = ("polarity", "sentiment")

_OPEN_QUOTES = {'"': '"', "“": "”"}
_LPAREN, _RPAREN = "(（", ")）"
_BREAKS = set(_LPAREN + _RPAREN) | set(_OPEN_QUOTES)
_FIELD_PREFIX = re.compile(r"([A-Za-z_][A-Za-z0-9_]*)[:：]")
OPERATORS = ("AND", "OR", "NOT")


class QuerySyntaxError(ValueError):
    """The query cannot be read; the message says what and where (`position`, 1-based)."""

    def __init__(self, message: str, position: int):
        super().__init__(message)
        self.position = position


# --- the tree ------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Term:
    """A bare word as typed (the backend cuts it into words)."""
    text: str
    pos: int = 0


@dataclass(frozen=True)
class Phrase:
    text: str
    pos: int = 0


@dataclass(frozen=True)
class Field:
    name: str           # a key of FIELDS
    value: str
    pos: int = 0
    quoted: bool = False

    @property
    def spec(self) -> FieldSpec:
        return FIELDS[self.name]

    @property
    def is_text(self) -> bool:
        """title: searches text; every other field filters on a stored value."""
        return self.spec.kind == "title"


@dataclass(frozen=True)
class Not:
    child: "Node"
    pos: int = 0


@dataclass(frozen=True)
class And:
    children: tuple["Node", ...]


@dataclass(frozen=True)
class Or:
    children: tuple["Node", ...]


Node = Term | Phrase | Field | Not | And | Or
TextLeaf = Term | Phrase | Field


def show(node: Node) -> str:
    """A compact, unambiguous rendering, for tests and logs: AND(暴雨, NOT("九江 内涝"), platform:weibo)."""
    if isinstance(node, Term):
        return node.text
    if isinstance(node, Phrase):
        return f'"{node.text}"'
    if isinstance(node, Field):
        return f'{node.name}:"{node.value}"' if node.quoted else f"{node.name}:{node.value}"
    if isinstance(node, Not):
        return f"NOT({show(node.child)})"
    name = "AND" if isinstance(node, And) else "OR"
    return f"{name}({', '.join(show(c) for c in node.children)})"


# --- reading -------------------------------------------------------------------------------------
@dataclass(frozen=True)
class _Token:
    kind: str        # "word", "phrase", "field", "(", ")", "AND", "OR", "NOT", "-"
    pos: int         # 1-based
    text: str = ""
    name: str = ""   # field name
    quoted: bool = False


def _quoted(text: str, i: int) -> tuple[str, int]:
    """The text of a quote opening at i, and the index after it; an unclosed quote runs to the end."""
    close = text.find(_OPEN_QUOTES[text[i]], i + 1)
    if close < 0:
        return text[i + 1:], len(text)
    return text[i + 1:close], close + 1


def _tokens(text: str) -> Iterator[_Token]:
    i, n = 0, len(text)
    while i < n:
        ch = text[i]
        if ch.isspace():
            i += 1
        elif ch in _LPAREN:
            yield _Token("(", i + 1)
            i += 1
        elif ch in _RPAREN:
            yield _Token(")", i + 1)
            i += 1
        elif ch in _OPEN_QUOTES:
            phrase, i_next = _quoted(text, i)
            yield _Token("phrase", i + 1, phrase)
            i = i_next
        elif ch == "-" and i + 1 < n and not text[i + 1].isspace() and text[i + 1] not in _RPAREN:
            yield _Token("-", i + 1)
            i += 1
        else:
            start = i
            while i < n and not text[i].isspace() and text[i] not in _BREAKS:
                i += 1
            word = text[start:i]
            prefix = _FIELD_PREFIX.match(word)
            if word in OPERATORS:
                yield _Token(word, start + 1)
            elif prefix:
                name = prefix.group(1).lower()
                if name not in FIELDS:
                    raise QuerySyntaxError(
                        f"unknown field {prefix.group(1)!r} at {start + 1}; fields: {', '.join(FIELDS)} "
                        "(put text with a colon in quotes)", start + 1)
                value, quoted = word[prefix.end():], False
                if not value and i < n and text[i] in _OPEN_QUOTES:
                    value, i = _quoted(text, i)
                    quoted = True
                if not value.strip():
                    raise QuerySyntaxError(f"{name}: at {start + 1} needs a value, e.g. {name}:xxx or "
                                           f'{name}:"two words"', start + 1)
                if name in _LABEL_FIELDS:
                    value = _LABEL_ALIASES.get(value.strip().lower(), value)
                yield _Token("field", start + 1, value.strip(), name=name, quoted=quoted)
            else:
                yield _Token("word", start + 1, word)


class _Parser:
    """Recursive descent: or := and (OR and)* ; and := unary ((AND)? unary)* ; unary := (NOT|-) unary | primary."""

    def __init__(self, text: str):
        self.tokens = list(_tokens(text))
        self.i = 0

    def peek(self) -> _Token | None:
        return self.tokens[self.i] if self.i < len(self.tokens) else None

    def take(self) -> _Token:
        token = self.tokens[self.i]
        self.i += 1
        return token

    def parse(self) -> Node | None:
        if not self.tokens:
            return None
        node = self.or_expr()
        token = self.peek()
        if token is not None:     # only a stray ")" stops an or-expression early
            raise QuerySyntaxError(f") at {token.pos} has no matching (", token.pos)
        return node

    def or_expr(self) -> Node:
        parts = [self.and_expr()]
        while (token := self.peek()) is not None and token.kind == "OR":
            self.take()
            self.need_term(token, "after")
            parts.append(self.and_expr())
        return parts[0] if len(parts) == 1 else Or(_flat(Or, parts))

    def and_expr(self) -> Node:
        parts = [self.unary()]
        while (token := self.peek()) is not None and token.kind not in ("OR", ")"):
            if token.kind == "AND":
                self.take()
                self.need_term(token, "after")
            parts.append(self.unary())
        return parts[0] if len(parts) == 1 else And(_flat(And, parts))

    def unary(self) -> Node:
        token = self.peek()
        if token is None:   # pragma: no cover - callers check for a term first
            raise QuerySyntaxError("the query ends where a term was expected", 0)
        if token.kind in ("NOT", "-"):
            self.take()
            self.need_term(token, "after")
            return Not(self.unary(), token.pos)
        return self.primary()

    def primary(self) -> Node:
        token = self.take()
        if token.kind == "word":
            return Term(token.text, token.pos)
        if token.kind == "phrase":
            return Phrase(token.text, token.pos)
        if token.kind == "field":
            return Field(token.name, token.text, token.pos, token.quoted)
        if token.kind == "(":
            nxt = self.peek()
            if nxt is None:
                raise QuerySyntaxError(f"( at {token.pos} is never closed", token.pos)
            if nxt.kind == ")":
                raise QuerySyntaxError(f"() at {token.pos} holds no term", token.pos)
            node = self.or_expr()
            close = self.peek()
            if close is None or close.kind != ")":
                raise QuerySyntaxError(f"( at {token.pos} is never closed", token.pos)
            self.take()
            return node
        if token.kind == ")":
            raise QuerySyntaxError(f") at {token.pos} has no matching (", token.pos)
        name = "-" if token.kind == "-" else token.kind
        raise QuerySyntaxError(f"{name} at {token.pos} needs a term before it", token.pos)

    def need_term(self, operator: _Token, where: str) -> None:
        nxt = self.peek()
        if nxt is None or nxt.kind in ("OR", "AND", ")"):
            name = "-" if operator.kind == "-" else operator.kind
            raise QuerySyntaxError(f"{name} at {operator.pos} needs a term {where} it", operator.pos)


def _flat(kind: type, parts: list[Node]) -> tuple[Node, ...]:
    """`a (b c)` is AND(a, b, c): a group of the same operator adds no meaning."""
    return tuple(x for part in parts for x in (part.children if isinstance(part, kind) else (part,)))


def parse(text: str | None) -> Node | None:
    """The query tree of `text`; None for a blank query (no text filter). Raises QuerySyntaxError."""
    return _Parser(text or "").parse()


# --- what backends need from a tree ------------------------------------------------------------------
def leaf_text(leaf: TextLeaf) -> str:
    return leaf.value if isinstance(leaf, Field) else leaf.text


def is_text(node: Node) -> bool:
    """A leaf matched against post text (a word, a phrase, title:)."""
    return isinstance(node, (Term, Phrase)) or (isinstance(node, Field) and node.is_text)


def prune(node: Node | None, searchable: Callable[[str], bool]) -> Node | None:
    """The tree without text leaves that hold nothing searchable (punctuation, '。'); None when nothing is left.

    A backend matches nothing for a query whose text prunes away entirely, as it always did.
    """
    if node is None:
        return None
    if is_text(node):
        return node if searchable(leaf_text(node)) else None   # type: ignore[arg-type]
    if isinstance(node, Field):
        return node
    if isinstance(node, Not):
        child = prune(node.child, searchable)
        return Not(child, node.pos) if child is not None else None
    children = tuple(c for c in (prune(c, searchable) for c in node.children) if c is not None)
    if not children:
        return None
    if len(children) == 1:
        return children[0]
    return And(children) if isinstance(node, And) else Or(children)


def positive_text(node: Node | None, negated: bool = False) -> list[TextLeaf]:
    """The text leaves a matching post contains (under an even number of NOTs): what highlights mark."""
    if node is None:
        return []
    if is_text(node):
        return [] if negated else [node]   # type: ignore[list-item]
    if isinstance(node, Field):
        return []
    if isinstance(node, Not):
        return positive_text(node.child, not negated)
    return [leaf for c in node.children for leaf in positive_text(c, negated)]


def conjuncts(node: Node) -> tuple[Node, ...]:
    """The parts ANDed at the top of a tree (the tree itself when it is not an AND)."""
    return node.children if isinstance(node, And) else (node,)


__all__ = [
    "FIELDS", "And", "Field", "FieldSpec", "Node", "Not", "Or", "Phrase", "QuerySyntaxError", "Term", "TextLeaf",
    "conjuncts", "is_text", "leaf_text", "parse", "positive_text", "prune", "show",
]
