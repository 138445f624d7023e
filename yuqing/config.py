"""The shell's configuration: app.yaml, composed of each package's own models, loaded and cross-checked.

`configs/app.yaml` is the entry point; it names the other files (sources, topics,
rules, agencies) relative to its own folder. Each package owns the models of
its part (crawler.config, index.config, nlp.config, warning.config); this
module composes them, resolves paths, and checks what only the whole can:
rule topics exist in topics.yaml, agencies and notifier names resolve, every
type names a component that exists. Everything is validated at start so a typo
fails loudly, naming file, field and problem, before any crawl runs.
"""
from __future__ import annotations

import os
from datetime import datetime
from pathlib import Path
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, ValidationError, field_validator

from crawler.config import CrawlContext, DetailRules, ListPageRules, Schedule, Source, SourcesFile
from index.config import ElasticsearchSettings, SqliteSettings, StoreSettings
from index.configbase import ConfigError, StrictModel, expand_env, format_errors, load_model, load_yaml
from nlp.config import PACKAGED_MODELS_DIR, NlpSettings
from warning.config import (
    Agency, AgenciesFile, Contact, DailyReportSettings, NotifierSettings, RuleConfig, RulesFile, TopicDef, TopicsFile,
)

__all__ = [
    "Agency", "AgenciesFile", "AppConfig", "ConfigError", "Contact", "CrawlContext", "DetailRules",
    "ElasticsearchSettings", "ListPageRules", "NlpSettings", "NotifierSettings", "RuleConfig", "RulesFile",
    "Schedule", "ScheduleSettings", "Settings", "Source", "SourcesFile", "SqliteSettings", "StoreSettings",
    "TopicDef", "TopicsFile", "WebSettings", "default_configs_dir", "expand_env", "load_model", "load_settings", "load_yaml",
]


class ScheduleSettings(StrictModel):
    enrich: Schedule = Field(default_factory=lambda: Schedule(interval_minutes=2))
    warning: Schedule = Field(default_factory=lambda: Schedule(interval_minutes=10))
    briefing: Schedule = Field(default_factory=lambda: Schedule(cron="30 7 * * *"))


class WebSettings(StrictModel):
    """The workbench and open API (yuqing.web): `yuqing serve`, and inside `yuqing run` when enabled."""
    enabled: bool = Field(default=False, description="serve the workbench inside `yuqing run`")
    host: str = "127.0.0.1"
    port: int = Field(default=8600, ge=1, le=65535)
    accounts_db: str = Field(default="accounts.db", description="accounts, sessions and API tokens; "
                                                                "relative to data_dir")
    session_hours: float = Field(default=12, gt=0, le=24 * 30)
    secure_cookies: Literal["auto", "always", "never"] = Field(
        default="auto", description="auto: Secure cookies when the request came over HTTPS (behind a proxy, "
                                    "uvicorn's --proxy-headers from forwarded_allow_ips)")
    max_failures: int = Field(default=5, ge=1, le=100, description="wrong passwords in a row that lock an account")
    lockout_minutes: float = Field(default=15, gt=0)
    poll_seconds: int = Field(default=15, ge=2, le=600, description="how often the alert inbox asks for new alerts")
    forwarded_allow_ips: str = Field(default="127.0.0.1", description="proxies whose X-Forwarded-* headers "
                                                                      "are trusted")


class AppConfig(StrictModel):
    timezone: str = "Asia/Shanghai"
    data_dir: str = "var"
    output_dir: str = "var/reports"
    inbox_dir: str = "var/inbox"
    office_name: str = Field(default="市委网信办", description="shown on reports")
    store: StoreSettings = Field(default_factory=StoreSettings)
    nlp: NlpSettings = Field(default_factory=NlpSettings)
    schedule: ScheduleSettings = Field(default_factory=ScheduleSettings)
    notifiers: list[NotifierSettings] = Field(default_factory=list)
    web: WebSettings = Field(default_factory=WebSettings)
    daily_report: DailyReportSettings = Field(default_factory=DailyReportSettings)
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


# --- the shipped defaults ---------------------------------------------------
def default_configs_dir() -> Path:
    """The default configuration set: yuqing/configs in an installed wheel (pyproject.toml maps the
    repository's configs/ there), else the checkout's top-level configs/."""
    here = Path(__file__).resolve().parent
    packaged = here / "configs"
    return packaged if (packaged / "app.yaml").is_file() else here.parent / "configs"


# --- loading ---------------------------------------------------------------
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
        self._boundaries = None

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.app.timezone)

    def path(self, value: str | os.PathLike[str]) -> Path:
        """Resolve a configured path: absolute as is, relative against the working base dir."""
        p = Path(os.path.expandvars(os.fspath(value))).expanduser()
        return p if p.is_absolute() else (self.base_dir / p)

    def file(self, which: Literal["sources", "topics", "rules", "agencies"]) -> Path:
        """Where one of the other configuration files lives (for messages)."""
        return self.config_path.parent / getattr(self.app, f"{which}_file")

    def source(self, name: str) -> Source:
        return self.crawl_context().source(name)

    def crawl_context(self) -> CrawlContext:
        """What the crawler needs: the sources and the resolved working folders."""
        return CrawlContext(sources=self.sources, inbox_dir=self.path(self.app.inbox_dir),
                            data_dir=self.path(self.app.data_dir), timezone=self.app.timezone,
                            log_level=self.app.log_level, sources_path=self.file("sources"))

    def boundaries_path(self) -> Path:
        """The 日报 map's district boundaries: daily_report.map.boundaries against the config folder,
        else the shipped schematic."""
        configured = self.app.daily_report.map.boundaries
        if not configured:
            from warning.reports.districts import SHIPPED_BOUNDARIES
            return SHIPPED_BOUNDARIES
        p = Path(os.path.expandvars(configured)).expanduser()
        return p if p.is_absolute() else self.config_path.parent / p

    def boundaries(self):
        """The districts of the 日报 map (read and checked once, when the settings load), or None when off."""
        if not self.app.daily_report.map.enabled:
            return None
        if self._boundaries is None:
            from warning.reports.districts import load_boundaries
            self._boundaries = load_boundaries(self.boundaries_path())
        return self._boundaries

    @property
    def models_dir(self) -> Path:
        """nlp.models_dir resolved, or the default models shipped in the nlp package when unset."""
        configured = self.app.nlp.models_dir
        return self.path(configured) if configured else PACKAGED_MODELS_DIR

    @property
    def user_dicts(self) -> list[Path]:
        return [self.path(p) for p in self.app.nlp.user_dicts]

    def segmenter(self):
        """The application's one segmenter (nlp dictionaries + configured user dictionaries), shared
        by the enricher and the store so indexed text and enriched tokens are cut alike."""
        from nlp.segment import default_segmenter
        return default_segmenter(self.user_dicts)

    def create_store(self):
        """The configured Store, not yet opened."""
        from index.backends import create_store
        return create_store(self.app.store, base_dir=self.base_dir, user_dicts=self.user_dicts,
                            timezone=self.app.timezone, segmenter=self.segmenter())

    def now(self) -> datetime:
        from index import clock   # simulated during `yuqing demo`
        return clock.now(self.tz)


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
        raise ConfigError(format_errors(path, err)) from None
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

    from warning.notifiers import subscriber_problems, validate_notifiers
    problems = subscriber_problems(agencies, app.notifiers)
    if problems:
        raise ConfigError(f"{agencies_path}: invalid configuration\n  " + "\n  ".join(problems))
    for i, sub in enumerate(agencies.subscribers):
        for topic in sub.topics:
            if topic not in known_topics:
                raise ConfigError(f"{agencies_path}: invalid configuration\n  subscribers.{i}.topics: "
                                  f"unknown topic {topic!r}; topics.yaml defines {sorted(known_topics)}")
        for scheme in sub.schemes:
            if scheme not in topics.scheme_names:
                raise ConfigError(f"{agencies_path}: invalid configuration\n  subscribers.{i}.schemes: "
                                  f"unknown scheme {scheme!r}; topics.yaml defines {sorted(topics.scheme_names)}")
    from warning.rules import validate_rules  # the rule registry owns each type's parameters
    validate_rules(rules, folder / app.rules_file, known_topics=known_topics, known_schemes=topics.scheme_names)
    validate_notifiers(app.notifiers, path)
    settings = Settings(app, sources, topics, rules, agencies, path.resolve(),
                        Path(base_dir).resolve() if base_dir else Path.cwd())
    if app.daily_report.map.enabled:
        from warning.reports.districts import BoundaryError
        try:
            settings.boundaries()
        except BoundaryError as exc:
            raise ConfigError(f"{path}: invalid configuration\n  daily_report.map.boundaries: {exc}") from None
    return settings
