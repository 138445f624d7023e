"""The warning package's configuration models: topics.yaml, agencies.yaml, rules.yaml, app.yaml `notifiers:`.

Each rule type and notifier type validates its own extra parameters (see
warning.rules and warning.notifiers); these models hold the common fields.
"""
from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, field_validator, model_validator

from index.configbase import StrictModel, check_unique
from nlp.schemes import SchemeDef, check_unique_names

from .durations import Duration


class TopicDef(StrictModel):
    label: str
    description: str = ""


class TopicsFile(StrictModel):
    topics: list[TopicDef]
    home_region: list[str] = Field(default_factory=list, description="region codes this office is responsible for")
    schemes: list[SchemeDef] = Field(default_factory=list,
                                     description="monitoring schemes (监测方案) every enriched post is tagged with")
    handling: dict[str, dict[str, str]] = Field(
        default_factory=dict, description="suggested handling for the 专报: topic label (or * for any) → level → text")

    @field_validator("handling")
    @classmethod
    def _handling_levels(cls, handling: dict[str, dict[str, str]]) -> dict[str, dict[str, str]]:
        for topic, levels in handling.items():
            unknown = sorted(set(levels) - {"蓝", "黄", "橙", "红"})
            if unknown:
                raise ValueError(f"handling.{topic}: unknown level(s) {unknown}; use 蓝/黄/橙/红")
        return handling

    @model_validator(mode="after")
    def _handling_topics(self) -> "TopicsFile":
        unknown = sorted(set(self.handling) - self.labels - {"*"})
        if unknown:
            raise ValueError(f"handling: unknown topic(s) {unknown}; use labels of `topics` or *")
        return self

    def suggestion(self, topic: str | None, level: str) -> str:
        """The configured handling for topic × level, else the * entry for the level, else ''."""
        for key in (topic, "*"):
            if key is not None and level in self.handling.get(key, {}):
                return self.handling[key][level]
        return ""

    @field_validator("schemes")
    @classmethod
    def _unique_schemes(cls, schemes: list[SchemeDef]) -> list[SchemeDef]:
        check_unique_names(schemes)
        return schemes

    @property
    def scheme_names(self) -> set[str]:
        return {s.name for s in self.schemes}

    @model_validator(mode="before")
    @classmethod
    def _not_yet(cls, data: Any) -> Any:
        # Accepting these and then ignoring them would promise what no code does.
        if isinstance(data, dict):
            for i, topic in enumerate(data.get("topics") or []):
                if isinstance(topic, dict) and "keywords" in topic:
                    raise ValueError(f"topics.{i}.keywords: topic keywords are not used by any component; "
                                     "the topic model assigns topics. Remove the key")
        return data

    @property
    def labels(self) -> set[str]:
        return {t.label for t in self.topics}


# --- agencies.yaml ---------------------------------------------------------
class Contact(StrictModel):
    email: list[str] = Field(default_factory=list)
    webhooks: list[str] = Field(default_factory=list, description="notifier names from app.yaml")


class Agency(StrictModel):
    id: str = Field(pattern=r"^[a-z0-9_\-]+$")
    name: str
    topics: list[str] = Field(default_factory=list, description="topic labels this agency owns")
    region_codes: list[str] = Field(default_factory=list, description="empty: the whole jurisdiction")
    parent: str | None = Field(default=None, description="the agency above it: overdue and 红 alerts are reported there")
    members: list[str] = Field(default_factory=list, description="user ids who act on this agency's alerts")
    route: bool = Field(default=True, description="false: only receives what is reported up to it (直报, overdue)")
    contact: Contact = Field(default_factory=Contact)


class LevelDeadline(StrictModel):
    """How soon the owning agency must acknowledge and resolve an alert of one level."""
    acknowledge: Duration
    resolve: Duration

    @model_validator(mode="after")
    def _order(self) -> "LevelDeadline":
        if self.resolve < self.acknowledge:
            raise ValueError("resolve must not come before acknowledge")
        return self


def _level_name(value: str) -> str:
    if value not in ("蓝", "黄", "橙", "红"):
        raise ValueError(f"unknown level {value!r}; use 蓝/黄/橙/红")
    return value


Level = Annotated[str, AfterValidator(_level_name)]


class QuietHours(StrictModel):
    """A daily window (office time zone) in which only alerts of min_level and above are delivered;
    the others wait until it ends, then go out."""
    start: str = Field(pattern=r"^([01]\d|2[0-3]):[0-5]\d$", description="HH:MM, e.g. 22:00")
    end: str = Field(pattern=r"^([01]\d|2[0-3]):[0-5]\d$", description="HH:MM, e.g. 07:00 (may be next day)")
    min_level: Level = Field(default="红", description="what still gets through inside the window")

    @model_validator(mode="after")
    def _not_empty(self) -> "QuietHours":
        if self.start == self.end:
            raise ValueError("start and end are the same time; leave quiet_hours out for none")
        return self


class Subscriber(StrictModel):
    """A person or group who receives the alerts they chose, besides the owning agency."""
    id: str = Field(pattern=r"^[a-z0-9_\-]+$")
    name: str
    topics: list[str] = Field(default_factory=list, description="empty: every topic")
    region_codes: list[str] = Field(default_factory=list, description="prefixes; empty: every region")
    schemes: list[str] = Field(default_factory=list, description="monitoring schemes; empty: any")
    min_level: Level = Field(default="蓝")
    email: list[str] = Field(default_factory=list, description="addresses, sent through email_via")
    email_via: str | None = Field(default=None, description="the app.yaml email notifier to send through "
                                                            "(default: the only one)")
    notifiers: list[str] = Field(default_factory=list,
                                 description="app.yaml notifiers marked subscribers_only (their robot / webhook)")
    quiet_hours: QuietHours | None = None
    digest_minutes: int | None = Field(default=None, ge=1, le=1440,
                                       description="one message per N minutes collecting what arrived")
    alerts: bool = Field(default=True, description="false: this subscriber gets no alerts (e.g. the daily report only)")
    daily_report: bool = Field(default=False, description="e-mail the 日报 to this subscriber's addresses at its "
                                                          "scheduled time (app.yaml daily_report.attach)")

    @model_validator(mode="after")
    def _somewhere(self) -> "Subscriber":
        if not self.email and not self.notifiers:
            raise ValueError("give email addresses and/or notifiers: a subscriber must receive somewhere")
        if self.daily_report and not self.email:
            raise ValueError("daily_report: true needs email addresses (the 日报 goes out as an e-mail attachment)")
        if not self.alerts and not self.daily_report:
            raise ValueError("alerts: false and no daily_report: this subscriber would receive nothing")
        return self


ReportFormat = Literal["html", "docx", "pdf"]


class DistrictMapSettings(StrictModel):
    """The 日报's map of the jurisdiction's districts (warning.reports.districts)."""
    enabled: bool = True
    boundaries: str | None = Field(default=None, description="GeoJSON FeatureCollection of the districts (properties "
                                   "code and name), relative to the config folder; default: the shipped schematic of "
                                   "九江市 (one hexagon per district, not surveyed boundaries)")
    shade: Literal["volume", "negative_share"] = Field(default="volume", description="what colours each district")


class DailyReportSettings(StrictModel):
    """The 日报 (schedule.briefing runs it; `yuqing report daily` on demand)."""
    formats: list[ReportFormat] = Field(default_factory=lambda: ["html", "docx"], min_length=1,
                                        description="written each issue; pdf needs the pdf extra (WeasyPrint)")
    attach: list[ReportFormat] = Field(default_factory=lambda: ["docx"],
                                       description="attached to the e-mail to subscribers with daily_report: true; "
                                                   "a subset of formats")
    hours: int = Field(default=24, ge=1, le=24 * 7, description="the period before the briefing time")
    max_events: int = Field(default=5, ge=1, le=30, description="重点舆情: how many events get a full entry")
    map: DistrictMapSettings = Field(default_factory=DistrictMapSettings)

    @model_validator(mode="after")
    def _attach_subset(self) -> "DailyReportSettings":
        check_unique(self.formats, "format")
        missing = sorted(set(self.attach) - set(self.formats))
        if missing:
            raise ValueError(f"attach: {missing} not among formats {self.formats}; the attachment is a written file")
        return self


def _default_deadlines() -> dict[str, LevelDeadline]:
    return {"红": LevelDeadline(acknowledge="30m", resolve="5h"), "橙": LevelDeadline(acknowledge="2h", resolve="24h"),
            "黄": LevelDeadline(acknowledge="8h", resolve="48h"), "蓝": LevelDeadline(acknowledge="24h", resolve="48h")}


class AgenciesFile(StrictModel):
    """The directory: who owns which alerts (topic × region), who is above whom, who acts for each."""
    default_agency: str = Field(description="the duty desk: gets alerts no other agency owns (unknown topic or region)")
    agencies: list[Agency]
    admins: list[str] = Field(default_factory=list, description="user ids who may act on every alert")
    deadlines: dict[str, LevelDeadline] = Field(default_factory=_default_deadlines,
                                                description="per level (蓝/黄/橙/红): acknowledge and resolve within")
    report_red_to_parent: bool = Field(default=True, description="红 alerts go to the owner's parent at once (直报)")
    subscribers: list[Subscriber] = Field(default_factory=list,
                                          description="people or groups with their own topics, regions, levels, "
                                                      "channels, quiet hours and digests")

    @model_validator(mode="after")
    def _default_exists(self) -> "AgenciesFile":
        ids = [a.id for a in self.agencies]
        check_unique(ids, "agency")
        if self.default_agency not in ids:
            raise ValueError(f"default_agency {self.default_agency!r} is not one of the agencies: {sorted(ids)}")
        by_id = {a.id: a for a in self.agencies}
        if not by_id[self.default_agency].route:
            raise ValueError(f"default_agency {self.default_agency!r} has route: false; the duty desk must take alerts")
        by_id = {a.id: a for a in self.agencies}
        for i, agency in enumerate(self.agencies):
            if agency.parent is None:
                continue
            if agency.parent not in by_id:
                raise ValueError(f"agencies.{i}.parent: {agency.parent!r} is not one of the agencies: {sorted(ids)}")
            chain, at = [agency.id], agency.parent
            while at is not None:
                if at in chain:
                    raise ValueError(f"agencies.{i}.parent: {agency.id!r} is its own ancestor "
                                     f"({' → '.join([*chain, at])})")
                chain.append(at)
                at = by_id[at].parent
        check_unique([x.id for x in self.subscribers], "subscriber")
        levels = {"蓝", "黄", "橙", "红"}
        unknown = sorted(set(self.deadlines) - levels)
        if unknown:
            raise ValueError(f"deadlines: unknown level(s) {unknown}; use 蓝/黄/橙/红")
        missing = sorted(levels - set(self.deadlines))
        if missing:
            raise ValueError(f"deadlines: give every level; missing {missing}")
        return self

    def agency(self, agency_id: str | None) -> Agency | None:
        return next((a for a in self.agencies if a.id == agency_id), None)

    def ancestors(self, agency_id: str | None) -> list[str]:
        """The agencies above `agency_id`, nearest first."""
        out: list[str] = []
        agency = self.agency(agency_id)
        while agency is not None and agency.parent is not None:
            out.append(agency.parent)
            agency = self.agency(agency.parent)
        return out

    def agencies_of(self, user: str) -> list[str]:
        """The agencies `user` is a member of."""
        return [a.id for a in self.agencies if user in a.members]

    @property
    def users(self) -> set[str]:
        return {m for a in self.agencies for m in a.members} | set(self.admins)


# --- rules.yaml: grading adjustments ----------------------------------------
class ReachRaise(StrictModel):
    """Raise one level when a representative post comes from a big account or is widely engaged with."""
    min_followers: int | None = Field(default=None, ge=1, description="an example post's author has this many followers")
    min_engagement: int | None = Field(default=None, ge=1,
                                       description="an example post has this many reposts + comments + likes")

    @model_validator(mode="after")
    def _something(self) -> "ReachRaise":
        if self.min_followers is None and self.min_engagement is None:
            raise ValueError("give min_followers and/or min_engagement (or leave reach out to switch it off)")
        return self


class SpreadRaise(StrictModel):
    """Raise one level when the finding's posts span several platforms."""
    min_platforms: int = Field(ge=2, description="distinct platforms, each with at least min_posts_per_platform posts")
    min_posts_per_platform: int = Field(default=1, ge=1)


class NegativityRaise(StrictModel):
    """Raise one level when most of the finding's (enriched) posts are 负面.

    Never applies to a finding graded on the negative share itself (value negative_share)."""
    min_share: float = Field(gt=0, le=1, description="share of 负面 among the finding's enriched posts")
    min_negative: int = Field(default=1, ge=1, description="fewest 负面 posts")


class GradingSettings(StrictModel):
    """Level adjustments after a rule's thresholds: each condition met raises one level, at most
    max_raise in all; then alerts outside topics.yaml home_region drop one level. A section left
    out (or null) is off; a rule's own `grading:` replaces the sections it names."""
    reach: ReachRaise | None = None
    spread: SpreadRaise | None = None
    negativity: NegativityRaise | None = None
    max_raise: int = Field(default=1, ge=0, le=3, description="most levels the raises add together")

    def merged(self, override: "GradingSettings | None") -> "GradingSettings":
        """These settings with the sections a rule's own `grading:` names replaced."""
        if override is None:
            return self
        return self.model_copy(update={name: getattr(override, name) for name in override.model_fields_set})

    @property
    def any(self) -> bool:
        return self.max_raise > 0 and any((self.reach, self.spread, self.negativity))


# --- rules.yaml ------------------------------------------------------------
class RuleConfig(BaseModel):
    """Common rule fields; each rule type validates its own extra parameters."""
    model_config = ConfigDict(extra="allow")
    name: str = Field(pattern=r"^[a-z0-9_\-]+$")
    type: str
    enabled: bool = True
    description: str = ""
    grading: GradingSettings | None = Field(default=None, description="this rule's level adjustments")


class RulesFile(StrictModel):
    grading: GradingSettings = Field(default_factory=GradingSettings,
                                     description="level adjustments for every rule (off by default)")
    rules: list[RuleConfig]

    def grading_for(self, rule: str) -> GradingSettings:
        config = next((r for r in self.rules if r.name == rule), None)
        return self.grading.merged(config.grading if config else None)

    @model_validator(mode="after")
    def _unique(self) -> "RulesFile":
        check_unique([r.name for r in self.rules], "rule")
        return self


# --- app.yaml notifiers ----------------------------------------------------
class NotifierSettings(BaseModel):
    """Common notifier fields; each notifier type validates its own options (warning.notifiers)."""
    model_config = ConfigDict(extra="allow")
    name: str = Field(pattern=r"^[a-z0-9_\-]+$")
    type: str = Field(description="file, email, or the class path of a Notifier subclass")
    min_level: str = Field(default="蓝", description="the lowest level this channel sends")
    enabled: bool = True
    subscribers_only: bool = Field(default=False, description="send only what the subscribers naming it chose "
                                                              "(agencies.yaml subscribers.notifiers)")
