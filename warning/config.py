"""The warning package's configuration models: topics.yaml, agencies.yaml, rules.yaml, app.yaml `notifiers:`.

Each rule type and notifier type validates its own extra parameters (see
warning.rules and warning.notifiers); these models hold the common fields.
"""
from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

from index.configbase import StrictModel, check_unique


class TopicDef(StrictModel):
    label: str
    description: str = ""


class TopicsFile(StrictModel):
    topics: list[TopicDef]
    home_region: list[str] = Field(default_factory=list, description="region codes this office is responsible for")

    @model_validator(mode="before")
    @classmethod
    def _not_yet(cls, data: Any) -> Any:
        # Accepting these and then ignoring them would promise what no code does.
        if isinstance(data, dict):
            if "schemes" in data:
                raise ValueError("schemes: monitoring schemes (监测方案) are not implemented yet; "
                                 "remove the key (rules narrow posts with `filter:` meanwhile)")
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
    contact: Contact = Field(default_factory=Contact)


class AgenciesFile(StrictModel):
    default_agency: str = Field(description="agency id that gets alerts no other agency owns")
    agencies: list[Agency]

    @model_validator(mode="after")
    def _default_exists(self) -> "AgenciesFile":
        ids = {a.id for a in self.agencies}
        if self.default_agency not in ids:
            raise ValueError(f"default_agency {self.default_agency!r} is not one of the agencies: {sorted(ids)}")
        return self


# --- rules.yaml ------------------------------------------------------------
class RuleConfig(BaseModel):
    """Common rule fields; each rule type validates its own extra parameters."""
    model_config = ConfigDict(extra="allow")
    name: str = Field(pattern=r"^[a-z0-9_\-]+$")
    type: str
    enabled: bool = True
    description: str = ""


class RulesFile(StrictModel):
    rules: list[RuleConfig]

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
