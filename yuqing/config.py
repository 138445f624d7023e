"""Configuration: YAML files validated by pydantic, with errors that name file, field and problem.

`configs/app.yaml` is the entry point; it names the other files (sources, topics,
rules, agencies) relative to its own folder. Everything is validated at start so
a typo fails loudly before any crawl runs.
"""
from __future__ import annotations

import os
import re
from datetime import datetime
from pathlib import Path
from typing import Any, Literal, TypeVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

T = TypeVar("T", bound=BaseModel)


class ConfigError(Exception):
    """A configuration file is missing, unreadable or invalid. The message is for the user."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


# --- schedules -------------------------------------------------------------
class Schedule(_Strict):
    """Either an interval or a crontab expression (minute hour day month weekday)."""
    interval_minutes: float | None = Field(default=None, gt=0)
    cron: str | None = None
    jitter_seconds: int = Field(default=0, ge=0)

    @model_validator(mode="after")
    def _one_of(self) -> "Schedule":
        if (self.interval_minutes is None) == (self.cron is None):
            raise ValueError("give exactly one of interval_minutes or cron")
        if self.cron is not None:
            from apscheduler.triggers.cron import CronTrigger
            try:
                CronTrigger.from_crontab(self.cron)
            except ValueError as exc:
                raise ValueError(f"invalid cron expression {self.cron!r}: {exc}") from None
        return self


_ENV_REF = re.compile(r"\$\{(\w+)(?::-([^}]*))?\}")


def expand_env(value: str) -> str:
    """Replace ${VAR} and ${VAR:-default} from the environment; an unset VAR without default is an error."""
    def replace(match: re.Match[str]) -> str:
        name, default = match.group(1), match.group(2)
        if name in os.environ:
            return os.environ[name]
        if default is not None:
            return default
        raise ValueError(f"environment variable {name} used in {value!r} is not set")
    return _ENV_REF.sub(replace, value)


# --- sources.yaml ----------------------------------------------------------
class ListPageRules(_Strict):
    """How a generic list page leads to articles (CSS selectors)."""
    link_selector: str = "a::attr(href)"
    link_pattern: str | None = Field(default=None, description="regex an article URL must match")
    next_selector: str | None = None


class DetailRules(_Strict):
    """CSS selectors for detail pages of boards/forums; missing ones fall back to generic extraction."""
    title: str | None = None
    content: str | None = None
    published_at: str | None = None
    author: str | None = None
    extra: dict[str, str] = Field(default_factory=dict)


class Source(_Strict):
    name: str = Field(pattern=r"^[a-z0-9_\-]+$")
    type: Literal["news", "rss", "weibo_api", "gov_board", "forum"]
    platform: Literal["news", "gov_board", "rss", "weibo", "forum"] | None = None
    label: str = Field(default="", description="human name shown in reports, e.g. 市民网")
    start_urls: list[str] = Field(min_length=1)
    enabled: bool = True
    schedule: Schedule = Field(default_factory=lambda: Schedule(interval_minutes=30))
    encoding: str | None = Field(default=None, description="force a page encoding, e.g. gbk; default: detect")
    keywords: list[str] = Field(default_factory=list, description="search keywords for search APIs")
    max_pages: int = Field(default=5, ge=1, description="list/search pages to follow per crawl")
    list_page: ListPageRules = Field(default_factory=ListPageRules)
    detail: DetailRules = Field(default_factory=DetailRules)
    settings: dict[str, Any] = Field(default_factory=dict, description="extra Scrapy settings")

    @field_validator("start_urls")
    @classmethod
    def _urls(cls, urls: list[str]) -> list[str]:
        expanded = []
        for url in urls:
            url = expand_env(url)
            if not url.startswith(("http://", "https://")):
                raise ValueError(f"{url!r} is not an http(s) URL")
            expanded.append(url)
        return expanded

    @property
    def platform_name(self) -> str:
        default = {"news": "news", "rss": "rss", "weibo_api": "weibo", "gov_board": "gov_board", "forum": "forum"}
        return self.platform or default[self.type]


class SourcesFile(_Strict):
    sources: list[Source]

    @model_validator(mode="after")
    def _unique(self) -> "SourcesFile":
        names = [s.name for s in self.sources]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"source names must be unique; repeated: {', '.join(dupes)}")
        return self


# --- topics.yaml -----------------------------------------------------------
class TopicDef(_Strict):
    label: str
    description: str = ""
    keywords: list[str] = Field(default_factory=list, description="terms that mark the topic (boost/fallback)")


class Scheme(_Strict):
    """A monitoring scheme (监测方案): what the office watches for."""
    name: str
    include_any: list[str] = Field(default_factory=list)
    exclude_any: list[str] = Field(default_factory=list)
    region_codes: list[str] = Field(default_factory=list)
    sensitive_terms: list[str] = Field(default_factory=list)


class TopicsFile(_Strict):
    topics: list[TopicDef]
    schemes: list[Scheme] = Field(default_factory=list)
    home_region: list[str] = Field(default_factory=list, description="region codes this office is responsible for")


# --- agencies.yaml ---------------------------------------------------------
class Contact(_Strict):
    email: list[str] = Field(default_factory=list)
    webhooks: list[str] = Field(default_factory=list, description="notifier names from app.yaml")


class Agency(_Strict):
    id: str = Field(pattern=r"^[a-z0-9_\-]+$")
    name: str
    topics: list[str] = Field(default_factory=list, description="topic labels this agency owns")
    region_codes: list[str] = Field(default_factory=list, description="empty: the whole jurisdiction")
    contact: Contact = Field(default_factory=Contact)


class AgenciesFile(_Strict):
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


class RulesFile(_Strict):
    rules: list[RuleConfig]

    @model_validator(mode="after")
    def _unique(self) -> "RulesFile":
        names = [r.name for r in self.rules]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"rule names must be unique; repeated: {', '.join(dupes)}")
        return self


# --- app.yaml --------------------------------------------------------------
class SqliteSettings(_Strict):
    path: str = "var/yuqing.db"


class ElasticsearchSettings(_Strict):
    """Connection and index settings. Secrets never live in YAML: name the environment variables."""
    hosts: list[str] = Field(default_factory=lambda: ["http://127.0.0.1:9200"],
                             description="one or more node URLs; a comma-separated string and ${VAR} work too")
    index_prefix: str = Field(default="yuqing", pattern=r"^[a-z0-9][a-z0-9_\-]*$",
                              description="indices are PREFIX-posts-YYYY.MM (alias PREFIX-posts), PREFIX-alerts, …")
    api_key_env: str | None = Field(default=None, description="environment variable holding an API key")
    username: str | None = Field(default=None, description="basic-auth user (or username_env)")
    username_env: str | None = None
    password_env: str | None = None
    ca_certs: str | None = Field(default=None, description="PEM file of the CA that signed the cluster's certificate")
    verify_certs: bool = True
    request_timeout_s: float = Field(default=30.0, gt=0)
    max_retries: int = Field(default=5, ge=0, description="bulk retries (with backoff) on 429 and 5xx")
    number_of_shards: int = Field(default=1, ge=1)
    number_of_replicas: int = Field(default=1, ge=0)
    spool_dir: str = "var/spool"

    @field_validator("hosts", mode="before")
    @classmethod
    def _hosts(cls, value: Any) -> Any:
        if isinstance(value, str):
            value = [value]
        if not isinstance(value, list):
            return value
        hosts = list(dict.fromkeys(h.strip().rstrip("/") for item in value
                                   for h in expand_env(str(item)).split(",") if h.strip()))
        if not hosts:
            raise ValueError("give at least one Elasticsearch host")
        for host in hosts:
            if not host.startswith(("http://", "https://")):
                raise ValueError(f"{host!r} is not an http(s) URL")
        return hosts

    @model_validator(mode="after")
    def _one_auth(self) -> "ElasticsearchSettings":
        basic = self.username is not None or self.username_env is not None
        if self.api_key_env and basic:
            raise ValueError("give either api_key_env or basic auth (username/username_env + password_env), not both")
        if self.username is not None and self.username_env is not None:
            raise ValueError("give username or username_env, not both")
        if basic != (self.password_env is not None):
            raise ValueError("basic auth needs both a user (username or username_env) and password_env")
        return self


class StoreSettings(_Strict):
    backend: Literal["sqlite", "elasticsearch"] = "sqlite"
    sqlite: SqliteSettings = Field(default_factory=SqliteSettings)
    elasticsearch: ElasticsearchSettings = Field(default_factory=ElasticsearchSettings)


class NlpSettings(_Strict):
    models_dir: str = "models"
    shared_data: str = "../shared/data"
    user_dicts: list[str] = Field(default_factory=list)
    batch_size: int = Field(default=256, ge=1)


class ScheduleSettings(_Strict):
    enrich: Schedule = Field(default_factory=lambda: Schedule(interval_minutes=2))
    warning: Schedule = Field(default_factory=lambda: Schedule(interval_minutes=10))
    briefing: Schedule = Field(default_factory=lambda: Schedule(cron="30 7 * * *"))


class NotifierSettings(_Strict):
    name: str
    type: Literal["email", "dingtalk", "wecom", "feishu", "webhook", "file"]
    url: str | None = None
    secret_env: str | None = None
    smtp_host: str | None = None
    smtp_port: int = 25
    sender: str | None = None
    min_level: str = "蓝"
    path: str | None = None


class AppConfig(_Strict):
    timezone: str = "Asia/Shanghai"
    data_dir: str = "var"
    output_dir: str = "var/reports"
    inbox_dir: str = "var/inbox"
    office_name: str = Field(default="市委网信办", description="shown on reports")
    store: StoreSettings = Field(default_factory=StoreSettings)
    nlp: NlpSettings = Field(default_factory=NlpSettings)
    schedule: ScheduleSettings = Field(default_factory=ScheduleSettings)
    notifiers: list[NotifierSettings] = Field(default_factory=list)
    sources_file: str = "sources.yaml"
    topics_file: str = "topics.yaml"
    rules_file: str = "rules.yaml"
    agencies_file: str = "agencies.yaml"
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"

    @field_validator("timezone")
    @classmethod
    def _tz(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {value!r}") from None
        return value


# --- loading ---------------------------------------------------------------
def _format_errors(path: Path, err: ValidationError) -> str:
    lines = [f"{path}: invalid configuration"]
    for e in err.errors():
        where = ".".join(str(p) for p in e["loc"]) or "(top level)"
        msg = e["msg"].removeprefix("Value error, ")
        value = e.get("input")
        shown = "" if isinstance(value, (dict, list)) or value is None else f" (got {value!r})"
        lines.append(f"  {where}: {msg}{shown}")
    return "\n".join(lines)


def load_yaml(path: Path) -> Any:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"{path}: file not found") from None
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path}: not UTF-8 text ({exc})") from None
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise ConfigError(f"{path}:{where}: YAML syntax error: {problem}") from None


def load_model(path: Path, model: type[T]) -> T:
    data = load_yaml(path)
    if data is None:
        raise ConfigError(f"{path}: file is empty")
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping at the top level, got {type(data).__name__}")
    try:
        return model.model_validate(data)
    except ValidationError as err:
        raise ConfigError(_format_errors(path, err)) from None


class Settings:
    """All configuration, loaded and cross-checked. Paths are resolved against `base_dir`."""

    def __init__(self, app: AppConfig, sources: SourcesFile, topics: TopicsFile,
                 rules: RulesFile, agencies: AgenciesFile, config_path: Path, base_dir: Path):
        self.app = app
        self.sources = sources
        self.topics = topics
        self.rules = rules
        self.agencies = agencies
        self.config_path = config_path
        self.base_dir = base_dir

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.app.timezone)

    def path(self, value: str | os.PathLike[str]) -> Path:
        """Resolve a configured path: absolute as is, relative against the working base dir."""
        p = Path(os.path.expandvars(os.fspath(value))).expanduser()
        return p if p.is_absolute() else (self.base_dir / p)

    def source(self, name: str) -> Source:
        for s in self.sources.sources:
            if s.name == name:
                return s
        raise ConfigError(f"no source named {name!r} in {self.config_path.parent / self.app.sources_file}; "
                          f"known: {', '.join(s.name for s in self.sources.sources)}")

    def now(self) -> datetime:
        return datetime.now(self.tz)


def load_settings(config_path: str | os.PathLike[str], base_dir: str | os.PathLike[str] | None = None,
                  overrides: dict[str, Any] | None = None) -> Settings:
    """Load app.yaml and the files it names; validate everything and cross-check references.

    `base_dir` anchors relative data paths (default: the current directory).
    `overrides` replaces top-level app.yaml keys (used by the demo and tests).
    """
    path = Path(config_path)
    raw = load_yaml(path)
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: expected a mapping at the top level, got {type(raw).__name__}")
    raw.update(overrides or {})
    try:
        app = AppConfig.model_validate(raw)
    except ValidationError as err:
        raise ConfigError(_format_errors(path, err)) from None
    folder = path.parent
    sources = load_model(folder / app.sources_file, SourcesFile)
    topics = load_model(folder / app.topics_file, TopicsFile)
    rules = load_model(folder / app.rules_file, RulesFile)
    agencies = load_model(folder / app.agencies_file, AgenciesFile)

    known_topics = {t.label for t in topics.topics}
    agencies_path = folder / app.agencies_file
    for i, agency in enumerate(agencies.agencies):
        for topic in agency.topics:
            if topic not in known_topics:
                raise ConfigError(f"{agencies_path}: invalid configuration\n  agencies.{i}.topics: "
                                  f"unknown topic {topic!r}; topics.yaml defines {sorted(known_topics)}")
    notifier_names = {n.name for n in app.notifiers}
    for i, agency in enumerate(agencies.agencies):
        for hook in agency.contact.webhooks:
            if hook not in notifier_names:
                raise ConfigError(f"{agencies_path}: invalid configuration\n  agencies.{i}.contact.webhooks: "
                                  f"unknown notifier {hook!r}; app.yaml defines {sorted(notifier_names) or 'none'}")

    from warning.rules import validate_rules  # the rule registry owns each type's parameters
    validate_rules(rules, folder / app.rules_file)

    return Settings(app, sources, topics, rules, agencies, path.resolve(),
                    Path(base_dir).resolve() if base_dir else Path.cwd())
