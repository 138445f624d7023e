"""Rule registry: rule types, their parameters, and validation of configs/rules.yaml.

Modelled on ElastAlert2: a rule type is a small class that reads the store and
returns Findings ("this group is at level 橙 now, here are the numbers"). It
knows nothing about alert state, routing or notification — the engine does.
Each type declares a pydantic params model, so a typo in rules.yaml fails at
start with a message naming the file, the rule, the field and the problem.

Add a built-in type by subclassing Rule (set `type_name` and `params_model`)
in warning/detectors/ and naming it in RULE_TYPES; a third-party type needs no
edit here: rules.yaml may give its class path (`type: mypackage.rules.MyRule`).
"""
from __future__ import annotations

import abc
import dataclasses
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from index.schema import AlertLevel
from index.store import PostIndex, PostQuery
from index.configbase import ConfigError
from index.plugins import ComponentError, Registry

from .config import RuleConfig, RulesFile
from .durations import Duration


logger = logging.getLogger(__name__)

GroupBy = Literal["topic", "region", "platform", "scheme", "none"]
# Store field behind each grouping (see index.store.KEYWORD_FIELDS; "schemes" is multi-valued:
# a post counts in every scheme it matches).
GROUP_FIELDS: dict[str, str | None] = {"topic": "topic", "region": "region_code", "platform": "platform",
                                       "scheme": "schemes", "none": None}
ALL_GROUPS = "all"   # group id of a rule that does not group


class RuleFilter(BaseModel):
    """Narrows a rule to part of the stream; empty fields do not filter.

    `schemes` keeps posts tagged with any of these monitoring schemes (topics.yaml `schemes:`);
    `text` is a store full-text query (words ANDed, "quoted phrase" allowed).
    """
    model_config = ConfigDict(extra="forbid")
    platforms: list[str] = Field(default_factory=list)
    topics: list[str] = Field(default_factory=list)
    region_codes: list[str] = Field(default_factory=list)
    schemes: list[str] = Field(default_factory=list, description="monitoring scheme names (any of them)")
    text: str | None = None

    def query(self, start: datetime, end: datetime) -> PostQuery:
        return PostQuery(text=self.text or None, start=start, end=end, platforms=tuple(self.platforms),
                         topics=tuple(self.topics), region_codes=tuple(self.region_codes),
                         schemes=tuple(self.schemes))


class RuleParams(BaseModel):
    """Parameters every rule type accepts; types extend this with their own."""
    model_config = ConfigDict(extra="forbid")
    filter: RuleFilter = Field(default_factory=RuleFilter)
    quiet_period: Duration | None = Field(
        default=None, description="an alert's episode ends after the condition is quiet this long; default: window")
    ignore_groups: list[str] = Field(
        default_factory=list, description="group values never judged, e.g. the off-topic class 其他")


def group_query(base: PostQuery, group_by: str, key: str | None) -> PostQuery:
    """The base query narrowed to one group's posts."""
    if group_by == "topic":
        return dataclasses.replace(base, topics=(key,))
    if group_by == "platform":
        return dataclasses.replace(base, platforms=(key,))
    if group_by == "region":
        return dataclasses.replace(base, region_codes=(key,))
    if group_by == "event":
        return dataclasses.replace(base, event_ids=(key,))
    if group_by == "source":
        return dataclasses.replace(base, sources=(key,))
    if group_by == "scheme":
        return dataclasses.replace(base, schemes=(key,))
    return base


@dataclass(frozen=True)
class Finding:
    """What a rule saw for one group at one time: a level, the numbers and the posts behind them."""
    rule: str
    rule_type: str
    group_by: str                  # topic / region / platform / none; event / source (the event and source rules)
    group_key: str | None          # e.g. "环境保护", "360402", "weibo", an event id; None when not grouped
    level: AlertLevel
    value: float                   # the graded quantity (ratio, share, ...)
    value_key: str                 # its name in metrics, e.g. "ratio"
    metrics: dict[str, float]
    window_start: datetime
    window_end: datetime
    query: PostQuery               # the posts behind the finding, for keywords and examples
    subject: str = ""              # human name of the group for titles, e.g. "环境保护类", "微博平台"
    headline: str = ""             # what happened, e.g. "信息量激增"
    summary: str = ""
    # The rule's threshold per level for `value`, for the alert's explanation; None: the rule's
    # `levels` parameter when it has one.
    thresholds: Mapping[AlertLevel, float] | None = None

    @property
    def group_id(self) -> str:
        return self.group_key or ALL_GROUPS

    @property
    def topic(self) -> str | None:
        return self.group_key if self.group_by == "topic" else None

    @property
    def region_code(self) -> str | None:
        return self.group_key if self.group_by == "region" else None


class Rule(abc.ABC):
    """A detection rule: reads store aggregations at `now` and reports findings per group."""

    type_name: ClassVar[str]
    params_model: ClassVar[type[RuleParams]] = RuleParams

    def __init__(self, name: str, params: RuleParams, description: str = ""):
        self.name = name
        self.params = params
        self.description = description

    @classmethod
    def from_config(cls, config: RuleConfig) -> "Rule":
        params = cls.params_model.model_validate(config.model_extra or {})
        return cls(config.name, params, config.description)

    @property
    def window(self) -> timedelta:
        """How far back the rule looks; types with a window override this."""
        return getattr(self.params, "window", timedelta(hours=1))

    @property
    def quiet_period(self) -> timedelta:
        return self.params.quiet_period or self.window

    def thresholds(self, finding: Finding) -> Mapping[AlertLevel, float]:
        """The thresholds a finding was graded against: its own, else the rule's `levels`."""
        if finding.thresholds is not None:
            return finding.thresholds
        levels = getattr(self.params, "levels", None)
        return levels if isinstance(levels, Mapping) else {}

    @abc.abstractmethod
    def evaluate(self, store: PostIndex, now: datetime) -> list[Finding]:
        """Findings at `now` (an aware datetime); empty when nothing reaches the lowest level."""

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name!r}>"


RULE_TYPES: Registry = Registry("rule type", Rule, {
    "volume_spike": "warning.detectors.volume_spike:VolumeSpikeRule",
    "negative_share": "warning.detectors.negative_share:NegativeShareRule",
    "event_burst": "warning.detectors.event_burst:EventBurstRule",
    "cross_platform": "warning.detectors.cross_platform:CrossPlatformRule",
    "source_silent": "warning.detectors.source_silent:SourceSilentRule",
    "sensitive_terms": "warning.detectors.sensitive_terms:SensitiveTermsRule",
    "influencer": "warning.detectors.influencer:InfluencerRule",
})


def build_rules(rules_file: RulesFile, *, include_disabled: bool = False) -> list[Rule]:
    """Rule objects for the enabled rules of a validated rules file."""
    rules = []
    for config in rules_file.rules:
        if config.enabled or include_disabled:
            rules.append(RULE_TYPES.get(config.type).from_config(config))
    return rules


# --- validation ------------------------------------------------------------
_PYDANTIC_MESSAGES = {
    "missing": "required parameter is missing",
}


def _describe_error(error: Mapping[str, Any], rule_type: type[Rule]) -> tuple[str, str]:
    loc = ".".join(str(p) for p in error["loc"])
    if error["type"] == "extra_forbidden":
        if error["loc"][0] == "filter":
            return loc, f"unknown filter field; a filter takes: {', '.join(RuleFilter.model_fields)}"
        known = ", ".join(rule_type.params_model.model_fields)
        return loc, f"unknown parameter; {rule_type.type_name} takes: {known}"
    message = _PYDANTIC_MESSAGES.get(error["type"], error["msg"].removeprefix("Value error, "))
    value = error.get("input")
    if error["type"] != "missing" and not isinstance(value, (dict, list)) and value is not None \
            and repr(value) not in message:
        message += f" (got {value!r})"
    return loc, message


def validate_rules(rules_file: RulesFile, path: Path, known_topics: set[str] | None = None,
                   known_schemes: set[str] | None = None) -> None:
    """Check every rule's type and parameters; raise ConfigError naming file, rule, field and problem.

    With `known_topics` (topics.yaml's labels), topics a rule filters on or ignores must exist there;
    with `known_schemes` (topics.yaml's scheme names), so must the schemes it filters or groups on.
    """
    problems: list[str] = []
    known = ", ".join(RULE_TYPES.names())
    for index, config in enumerate(rules_file.rules):
        where = f"{path}: rules.{index} ({config.name})"
        if config.type not in RULE_TYPES.builtins and "." not in config.type:
            problems.append(f"{where}.type: unknown rule type {config.type!r}; known types: {known} "
                            "(or a class path such as 'mypackage.rules.MyRule')")
            continue
        try:
            rule_type = RULE_TYPES.get(config.type)
        except ComponentError as exc:
            problems.append(f"{where}.type: {exc}")
            continue
        try:
            params = rule_type.params_model.model_validate(config.model_extra or {})
        except ValidationError as err:
            for error in err.errors():
                loc, message = _describe_error(error, rule_type)
                problems.append(f"{where}.{loc}: {message}" if loc else f"{where}: {message}")
            continue
        if known_topics is not None:
            for topic in params.filter.topics:
                if topic not in known_topics:
                    problems.append(f"{where}.filter.topics: unknown topic {topic!r}; "
                                    f"topics.yaml defines {sorted(known_topics)}")
            if getattr(params, "group_by", None) == "topic":
                for topic in params.ignore_groups:
                    if topic not in known_topics:
                        problems.append(f"{where}.ignore_groups: unknown topic {topic!r}; "
                                        f"topics.yaml defines {sorted(known_topics)}")
        if known_schemes is not None:
            for scheme in params.filter.schemes:
                if scheme not in known_schemes:
                    problems.append(f"{where}.filter.schemes: unknown scheme {scheme!r}; topics.yaml schemes: "
                                    f"{sorted(known_schemes) or 'none defined'}")
            if getattr(params, "group_by", None) == "scheme" and not known_schemes:
                problems.append(f"{where}.group_by: 'scheme' needs monitoring schemes in topics.yaml `schemes:`")
    if problems:
        raise ConfigError("\n".join(problems))
