"""PostQuery → Elasticsearch query DSL.

Search text (index.querylang: words, "phrases", AND/OR/NOT, groups, field:value)
follows the SQLite backend's rules so both backends find the same posts: each
bare word is cut by the index-side jieba; a word matches as itself or as all its
dictionary sub-words in `content_seg` (word-level, so '市民' does not match inside
'城市民生'); a "quoted phrase" matches consecutive characters of title or content
(standard analyzer, CJK unigrams), title: ones of the title. The tree becomes bool
queries: AND → must (scored text) / filter (fields, unscored) with its NOTs in
must_not, OR → should with minimum_should_match 1. User text is only ever used as
term/phrase values, never parsed by Elasticsearch as query syntax.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timezone
from enum import Enum
from typing import Any

from .. import querylang
from ..querylang import And, Field, Not, Or, Phrase, Term
from ..schema import aware
from ..segment import Segmenter
from ..store import KEYWORD_FIELDS, PostQuery

# Store keyword field → document field.
FIELD_PATHS: dict[str, str] = {
    "platform": "platform", "source": "source", "sentiment": "sentiment.label", "polarity": "polarity.label",
    "emotion": "emotion.label",
    "topic": "topic", "province": "region.province", "city": "region.city", "district": "region.district",
    "region_code": "region.code", "event_id": "event_id", "dup_group": "dup_group", "author": "author.name",
    "root_id": "root_id",
}
assert set(FIELD_PATHS) == set(KEYWORD_FIELDS), "every keyword field needs a document field"
TERM_FIELDS = ("tokens", "keywords", "schemes")
REGION_CODE_FIELDS = ("region.province_code", "region.city_code", "region.district_code")
TITLE_BOOST = 2.0
MATCH_NONE: dict[str, Any] = {"match_none": {}}


def es_time(dt: datetime) -> str:
    """An instant as UTC ISO-8601 with microseconds (published_at is date_nanos, so exact)."""
    return aware(dt).astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _value(x: Any) -> Any:
    return x.value if isinstance(x, Enum) else x


def field_path(name: str, *, allow_terms: bool = False) -> str:
    if name in FIELD_PATHS:
        return FIELD_PATHS[name]
    if allow_terms and name in TERM_FIELDS:
        return name
    extra = " (terms also accepts tokens, keywords, schemes)" if allow_terms else ""
    raise ValueError(f"unknown field {name!r}; use one of {', '.join(KEYWORD_FIELDS)}{extra}")


@dataclass
class TextMatch:
    """Search text as query clauses. `clauses` None: nothing searchable, match nothing."""
    clauses: list[dict[str, Any]] | None                            # must (scored) or filter: all of them
    boosts: list[dict[str, Any]] = field(default_factory=list)     # scoring only
    highlight: list[str] = field(default_factory=list)             # strings to mark in title/content
    filters: list[dict[str, Any]] = field(default_factory=list)    # field filters ANDed at the top: never scored
    must_not: list[dict[str, Any]] = field(default_factory=list)   # NOT parts ANDed at the top


class TextQueryBuilder:
    def __init__(self, segmenter: Segmenter):
        self.segmenter = segmenter

    def build(self, text: str, *, scored: bool = False) -> TextMatch:
        """The query's parts ANDed at the top, split by role; raises querylang.QuerySyntaxError."""
        node = querylang.prune(querylang.parse(text), self.searchable)
        if node is None:
            return TextMatch(None)
        clauses: list[dict[str, Any]] = []
        filters: list[dict[str, Any]] = []
        must_not: list[dict[str, Any]] = []
        for part in querylang.conjuncts(node):
            if isinstance(part, Not):
                must_not.append(self.clause(part.child, scored))
            elif isinstance(part, Field) and not part.is_text:
                filters.append(self.clause(part, scored))
            elif isinstance(part, Term):
                clauses.extend(self._chunk(part.text))    # each word a clause of its own, as always
            else:
                clauses.append(self.clause(part, scored))
        boosts: list[dict[str, Any]] = []
        marks: list[str] = []
        for leaf in querylang.positive_text(node):
            words = self.segmenter.words(querylang.leaf_text(leaf))
            if isinstance(leaf, Term):
                for word in words:
                    boosts.append({"match_phrase": {"title": {"query": word, "boost": TITLE_BOOST}}})
                    marks.append(word)
                    marks.extend(self.segmenter.pieces(word))
            else:
                marks.append(" ".join(words))
        return TextMatch(clauses, list({repr(b): b for b in boosts}.values()), list(dict.fromkeys(marks)),
                         filters, must_not)

    def searchable(self, text: str) -> bool:
        return bool(self.segmenter.words(text))

    def clause(self, node: querylang.Node, scored: bool = False) -> dict[str, Any]:
        """One query tree as one clause (pruned first: every text leaf holds a searchable word)."""
        if isinstance(node, Term):
            words = self._chunk(node.text)
            return words[0] if len(words) == 1 else {"bool": {"must" if scored else "filter": words}}
        if isinstance(node, Phrase):
            return self._phrase(" ".join(self.segmenter.words(node.text)))
        if isinstance(node, Field):
            return self._field(node)
        if isinstance(node, Not):
            return {"bool": {"must_not": [self.clause(node.child, scored)]}}
        if isinstance(node, Or):
            return {"bool": {"should": [self.clause(c, scored) for c in node.children], "minimum_should_match": 1}}
        assert isinstance(node, And)
        body: dict[str, list[dict[str, Any]]] = {}
        for child in node.children:
            if isinstance(child, Not):
                role, child = "must_not", child.child
            elif scored and not (isinstance(child, Field) and not child.is_text):
                role = "must"
            else:
                role = "filter"
            body.setdefault(role, []).append(self.clause(child, scored))
        return {"bool": body}

    def _chunk(self, chunk: str) -> list[dict[str, Any]]:
        return [self._word(w) for w in self.segmenter.words(chunk)]

    def _field(self, node: Field) -> dict[str, Any]:
        spec, value = node.spec, node.value
        if spec.kind == "keyword":
            return {"term": {FIELD_PATHS[spec.target]: value}}
        if spec.kind == "region":
            paths = (REGION_CODE_FIELDS if value.isascii() and value.isdigit()
                     else ("region.province", "region.city", "region.district"))
            return {"bool": {"should": [{"term": {p: value}} for p in paths], "minimum_should_match": 1}}
        if spec.kind == "scheme":
            return {"term": {"schemes": value}}
        # title: the value's words, consecutive, in the title (as a phrase is in title or content)
        return {"match_phrase": {"title": {"query": " ".join(self.segmenter.words(node.value))}}}

    def any_term(self, terms: tuple[str, ...]) -> dict[str, Any]:
        """At least one of the terms: one word as a bare word of the search text, more as a quoted phrase."""
        should: list[dict[str, Any]] = []
        for term in dict.fromkeys(terms):
            words = self.segmenter.words(term)
            if len(words) == 1:
                should.append(self._word(words[0]))
            elif words:
                should.append(self._phrase(" ".join(words)))
        return {"bool": {"should": should, "minimum_should_match": 1}} if should else MATCH_NONE

    @staticmethod
    def _phrase(spaced: str) -> dict[str, Any]:
        """Consecutive characters of title or content (title boosted when scored)."""
        return {"bool": {"should": [
            {"match_phrase": {"title": {"query": spaced, "boost": TITLE_BOOST}}},
            {"match_phrase": {"content": {"query": spaced}}},
        ], "minimum_should_match": 1}}

    def _word(self, word: str) -> dict[str, Any]:
        term = {"term": {"content_seg": word.lower()}}
        pieces = self.segmenter.pieces(word)
        if not pieces:
            return term
        return {"bool": {"should": [
            term, {"bool": {"filter": [{"term": {"content_seg": p.lower()}} for p in pieces]}},
        ], "minimum_should_match": 1}}

    @staticmethod
    def highlight_query(field_name: str, marks: list[str]) -> dict[str, Any]:
        return {"bool": {"should": [{"match_phrase": {field_name: m}} for m in marks], "minimum_should_match": 1}}


class PostQueryBuilder:
    """Filters and text of a PostQuery as one bool query."""

    def __init__(self, segmenter: Segmenter):
        self.text = TextQueryBuilder(segmenter)

    def filters(self, query: PostQuery) -> list[dict[str, Any]]:
        clauses: list[dict[str, Any]] = []
        if query.start is not None or query.end is not None:
            bounds: dict[str, str] = {}
            if query.start is not None:
                bounds["gte"] = es_time(query.start)
            if query.end is not None:
                bounds["lt"] = es_time(query.end)
            clauses.append({"range": {"published_at": bounds}})
        for name, values in (("platform", query.platforms), ("source", query.sources),
                             ("sentiment.label", query.sentiments), ("polarity.label", query.polarities),
                             ("topic", query.topics),
                             ("event_id", query.event_ids), ("id", query.ids),
                             ("root_id", query.root_ids), ("schemes", query.schemes)):
            if values:
                clauses.append({"terms": {name: [_value(v) for v in values]}})
        if query.region_codes:
            codes = list(query.region_codes)
            clauses.append({"bool": {"should": [{"terms": {f: codes}} for f in REGION_CODE_FIELDS],
                                     "minimum_should_match": 1}})
        if query.any_terms:
            clauses.append(self.text.any_term(query.any_terms))
        if query.min_followers is not None:
            clauses.append({"range": {"author.followers": {"gte": int(query.min_followers)}}})
        if query.verified is not None:
            clauses.append({"term": {"author.verified": bool(query.verified)}})
        if query.enriched is not None:
            exists = {"exists": {"field": "enriched_at"}}
            clauses.append(exists if query.enriched else {"bool": {"must_not": [exists]}})
        return clauses

    def build(self, query: PostQuery, *, scored: bool = False) -> tuple[dict[str, Any], TextMatch | None]:
        """The bool query, and the text match when the query has text.

        Unscored queries (counts, aggregations) put the text clauses in filter context.
        """
        filters = self.filters(query)
        text = (query.text or "").strip()
        if not text:
            return ({"bool": {"filter": filters}} if filters else {"match_all": {}}), None
        match = self.text.build(text, scored=scored)
        if match.clauses is None:
            return MATCH_NONE, match
        body: dict[str, Any] = {}
        if scored:
            body = {"must": match.clauses, "should": match.boosts, "filter": [*filters, *match.filters]}
            if match.boosts and not match.clauses:
                body["minimum_should_match"] = 0     # boosts only score; without a must they would be required
        else:
            body = {"filter": [*filters, *match.filters, *match.clauses]}
        if match.must_not:
            body["must_not"] = match.must_not
        # No positive text (fields, NOTs): nothing to rank or highlight, as a query without text.
        return {"bool": {k: v for k, v in body.items() if v != []}}, (match if match.highlight else None)
