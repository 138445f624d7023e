"""Monitoring schemes (监测方案): named word-group queries that tag every enriched post.

A scheme is what an office watches, written the way 舆情 products write it: word groups for
主体 (who or what: 化工厂, 自来水公司), 地域 (where: 十里河, 濂溪区, or region codes), 事件 (what
happened: 死鱼, 异味, 爆炸) and 排除 (noise: 演练, 招聘). A post matches when

* every non-empty positive group has at least one of its words in the post (any-of within a group,
  all-of across groups), and
* none of the exclusion words appears.

A word may join terms with "+" ("化工厂+爆炸": both in the post, anywhere). The 地域 group
also matches through `region_codes`: the post's enriched region (province, city or district code)
starts with one of them. Matching is on characters, not on segmentation (the way duty officers
expect "十里河" to match "十里河畔"), after NFKC, lower case, and removing whitespace, links and
markup, so "PX项目", "ＰＸ 项目" and "px项目" are one word.

Each enriched post carries the names of the schemes it matches (`Post.schemes`); both stores index
them, rules filter or group on them (`filter: {schemes: [...]}`, `group_by: scheme`), and the
search filters by them. `SchemeMatcher` is pure and fast: a few substring tests per word.
"""
from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from pydantic import AliasChoices, BaseModel, ConfigDict, Field, field_validator, model_validator

from index.schema import Post

from .cleaning import clean_text
from .textnorm import normalize_text

_TAG = re.compile(r"<[^>\n]{0,200}>")
_NAME = re.compile(r"^[\w\-·（）()]+$")


def normalize(text: str) -> str:
    """The form both scheme words and post text are compared in: nlp.textnorm's, without spaces."""
    return normalize_text(text).replace(" ", "")


def _words(values: Sequence[str], field: str) -> list[str]:
    out: list[str] = []
    for i, raw in enumerate(values):
        if not isinstance(raw, str):
            raise ValueError(f"{field}.{i}: a word must be text (got {raw!r})")
        parts = [normalize(p) for p in raw.split("+")]
        if not all(parts):
            raise ValueError(f"{field}.{i}: empty word {raw!r}" if not raw.strip()
                             else f"{field}.{i}: {raw!r} has an empty side of '+'")
        word = "+".join(parts)
        if word in out:
            raise ValueError(f"{field}.{i}: {raw!r} is listed twice")
        out.append(word)
    return out


class SchemeDef(BaseModel):
    """One monitoring scheme in topics.yaml `schemes:`. Group keys may be written in Chinese."""
    model_config = ConfigDict(extra="forbid", populate_by_name=True)
    name: str = Field(min_length=1, max_length=40, description="shown in alerts and filters; unique")
    description: str = ""
    subject: list[str] = Field(default_factory=list, validation_alias=AliasChoices("subject", "主体"),
                               description="主体: any of these words")
    region: list[str] = Field(default_factory=list, validation_alias=AliasChoices("region", "地域"),
                              description="地域: any of these words, or a region code below")
    region_codes: list[str] = Field(default_factory=list, validation_alias=AliasChoices("region_codes", "地域代码"),
                                    description="地域 by code: the post's region starts with one of them")
    event: list[str] = Field(default_factory=list, validation_alias=AliasChoices("event", "事件"),
                             description="事件: any of these words")
    exclude: list[str] = Field(default_factory=list, validation_alias=AliasChoices("exclude", "排除"),
                               description="排除: a post with any of these words never matches")
    enabled: bool = True

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        value = value.strip()
        if not _NAME.match(value):
            raise ValueError(f"scheme name {value!r}: use letters, digits, Chinese characters, '-' or '_' "
                             "(it is stored as a tag and used in filters)")
        return value

    @field_validator("subject", "region", "event", "exclude")
    @classmethod
    def _normalized(cls, values: list[str], info) -> list[str]:
        return _words(values, info.field_name)

    @field_validator("region_codes")
    @classmethod
    def _codes(cls, values: list[str]) -> list[str]:
        for i, code in enumerate(values):
            if not re.fullmatch(r"\d{2,12}", str(code)):
                raise ValueError(f"region_codes.{i}: {code!r} is not a region code (2–12 digits, e.g. 3604)")
        return [str(c) for c in values]

    @model_validator(mode="after")
    def _meaningful(self) -> "SchemeDef":
        if not (self.subject or self.region or self.region_codes or self.event):
            raise ValueError("a scheme needs at least one word in subject (主体), region (地域) or event (事件); "
                             "exclude alone would match every post")
        positives = {w for group in (self.subject, self.region, self.event) for w in group}
        clash = sorted(positives & set(self.exclude))
        if clash:
            raise ValueError(f"exclude repeats {clash} from a positive group: no post could match through them")
        return self


@dataclass(frozen=True)
class _Compiled:
    name: str
    groups: tuple[tuple[tuple[str, ...], ...], ...]       # each group: alternatives, each a tuple of terms
    region_group: tuple[tuple[str, ...], ...]
    region_codes: tuple[str, ...]
    exclude: tuple[tuple[str, ...], ...]


def _alternatives(words: Iterable[str]) -> tuple[tuple[str, ...], ...]:
    return tuple(tuple(w.split("+")) for w in words)


def _any(alternatives: tuple[tuple[str, ...], ...], text: str) -> bool:
    return any(all(term in text for term in terms) for terms in alternatives)


class SchemeMatcher:
    """Which schemes a post matches. Disabled schemes are left out."""

    def __init__(self, schemes: Sequence[SchemeDef]):
        self.schemes = [s for s in schemes if s.enabled]
        self._compiled = [
            _Compiled(s.name, tuple(_alternatives(g) for g in (s.subject, s.event) if g),
                      _alternatives(s.region), tuple(s.region_codes), _alternatives(s.exclude))
            for s in self.schemes]

    def __bool__(self) -> bool:
        return bool(self._compiled)

    @property
    def names(self) -> list[str]:
        return [c.name for c in self._compiled]

    @staticmethod
    def prepare(text: str) -> str:
        return normalize(_TAG.sub(" ", clean_text(text)))

    def match_text(self, text: str, region_codes: Sequence[str] = ()) -> list[str]:
        """Names of the schemes `text` matches (in config order); region_codes: the post's codes."""
        prepared = self.prepare(text)
        out = []
        for c in self._compiled:
            if c.exclude and _any(c.exclude, prepared):
                continue
            if not all(_any(group, prepared) for group in c.groups):
                continue
            if c.region_group or c.region_codes:
                by_word = bool(c.region_group) and _any(c.region_group, prepared)
                by_code = any(code.startswith(prefix) for code in region_codes if code for prefix in c.region_codes)
                if not (by_word or by_code):
                    continue
            out.append(c.name)
        return out

    def match(self, post: Post) -> list[str]:
        return self.match_text(post.text, post.region.codes if post.region else ())


def check_unique_names(schemes: Sequence[SchemeDef]) -> None:
    first: dict[str, int] = {}
    for i, scheme in enumerate(schemes):
        if scheme.name in first:
            raise ValueError(f"scheme name {scheme.name!r} is used twice (schemes.{first[scheme.name]} "
                             f"and schemes.{i}); names must be unique")
        first[scheme.name] = i
