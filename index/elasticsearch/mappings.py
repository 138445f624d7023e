"""Index names and the composable index templates of the Elasticsearch backend.

The mappings live as JSON under index/elasticsearch/templates/ so Kibana users can read them;
this module names the indices for a prefix and wraps the mappings into
templates. Posts go to monthly indices PREFIX-posts-YYYY.MM (the month of
published_at in Asia/Shanghai) behind the alias PREFIX-posts; alerts, events
and state have one index each. Every index, including one created by a bulk
write, gets its mapping from a template, so a document can never create a field.
"""
from __future__ import annotations

import copy
import functools
import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from ..schema import DEFAULT_TZ, aware

TEMPLATES_DIR = Path(__file__).parent / "templates"
KINDS = ("posts", "alerts", "events", "state")
TEMPLATE_PRIORITY = 200


@functools.cache
def _load(kind: str) -> dict[str, Any]:
    if kind not in KINDS:
        raise ValueError(f"unknown index kind {kind!r}; one of {', '.join(KINDS)}")
    data = json.loads((TEMPLATES_DIR / f"{kind}.json").read_text(encoding="utf-8"))
    data.pop("_comment", None)
    return data


def mapping(kind: str) -> dict[str, Any]:
    """The mappings of one index kind (a fresh copy)."""
    return copy.deepcopy(_load(kind)["mappings"])


def index_settings(kind: str, *, shards: int = 1, replicas: int = 1) -> dict[str, Any]:
    settings = copy.deepcopy(_load(kind).get("settings", {}))
    settings.update({"index.number_of_shards": shards, "index.number_of_replicas": replicas})
    return settings


def schema_version(kind: str) -> int:
    return int(_load(kind)["mappings"]["_meta"]["schema_version"])


@dataclass(frozen=True)
class IndexNames:
    """Every index, alias and template name that belongs to one prefix."""
    prefix: str = "yuqing"

    @property
    def posts_alias(self) -> str:
        return f"{self.prefix}-posts"

    @property
    def posts_pattern(self) -> str:
        return f"{self.prefix}-posts-*"

    def posts_index(self, published_at: datetime) -> str:
        local = aware(published_at).astimezone(DEFAULT_TZ)
        return f"{self.prefix}-posts-{local:%Y.%m}"

    @property
    def alerts(self) -> str:
        return f"{self.prefix}-alerts"

    @property
    def events(self) -> str:
        return f"{self.prefix}-events"

    @property
    def state(self) -> str:
        return f"{self.prefix}-state"

    def template(self, kind: str) -> str:
        return f"{self.prefix}-{kind}"

    def all_patterns(self) -> list[str]:
        """Patterns covering every index of this prefix (for clean-up)."""
        return [self.posts_pattern, self.alerts, self.events, self.state]


def index_templates(names: IndexNames, *, shards: int = 1, replicas: int = 1) -> dict[str, dict[str, Any]]:
    """Template name → body for PUT _index_template/<name>."""
    templates: dict[str, dict[str, Any]] = {}
    for kind in KINDS:
        template: dict[str, Any] = {"settings": index_settings(kind, shards=shards, replicas=replicas),
                                    "mappings": mapping(kind)}
        if kind == "posts":
            patterns = [names.posts_pattern]
            template["aliases"] = {names.posts_alias: {}}
        else:
            patterns = [getattr(names, kind)]
        templates[names.template(kind)] = {
            "index_patterns": patterns,
            "priority": TEMPLATE_PRIORITY,
            "template": template,
            "version": schema_version(kind),
            "_meta": {"managed_by": "yuqing-sentinel", "kind": kind},
        }
    return templates


def field_types(properties: Mapping[str, Any], prefix: str = "") -> Iterator[tuple[str, str]]:
    """(dotted path, type) for every field of a mapping's properties, multi-fields included.

    An object with `enabled: false` is listed with type "object" and not descended into.
    """
    for name, spec in properties.items():
        path = f"{prefix}{name}"
        if "properties" in spec:
            yield path, "object"
            yield from field_types(spec["properties"], f"{path}.")
            continue
        yield path, spec.get("type", "object")
        for sub, sub_spec in spec.get("fields", {}).items():
            yield f"{path}.{sub}", sub_spec.get("type", "object")
