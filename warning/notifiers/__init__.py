"""Notifiers (alerters): separate from detection, chosen in app.yaml `notifiers:`.

A notifier type is a Notifier subclass with an `options_model` (its own
parameters, validated at start) and a `from_config(settings, options, context)`
constructor. Built-ins are named in NOTIFIER_TYPES; a third-party type is given
by class path (`type: mypackage.alerts.MyNotifier`). Types announced for a later
release are refused at start with a clear message, never accepted and dropped.
"""
from __future__ import annotations

from collections.abc import Iterable
from datetime import tzinfo
from pathlib import Path

from pydantic import ValidationError

from index.configbase import ConfigError
from index.plugins import ComponentError, Registry
from index.schema import DEFAULT_TZ

from ..config import AgenciesFile, NotifierSettings
from .base import NotificationError, Notifier, NotifierContext, PathResolver
from .email_notifier import EmailNotifier
from .file_notifier import FileNotifier

NOTIFIER_TYPES: Registry = Registry("notifier type", Notifier, {
    "file": "warning.notifiers.file_notifier:FileNotifier",
    "email": "warning.notifiers.email_notifier:EmailNotifier",
    "dingtalk": "warning.notifiers.webhooks:DingTalkNotifier",
    "wecom": "warning.notifiers.webhooks:WeComNotifier",
    "feishu": "warning.notifiers.webhooks:FeishuNotifier",
    "webhook": "warning.notifiers.webhooks:WebhookNotifier",
})
# Channel types announced for a later release: a config naming them is refused, never accepted and dropped.
NOT_YET_IMPLEMENTED: dict[str, str] = {}


def _problems(item: NotifierSettings, where: str) -> tuple[type[Notifier] | None, object, list[str]]:
    if item.type in NOT_YET_IMPLEMENTED:
        return None, None, [f"{where}.type: the {NOT_YET_IMPLEMENTED[item.type]} notifier is not implemented yet; "
                            f"use one of {', '.join(NOTIFIER_TYPES.names())} (alerts are also written to "
                            "output_dir when no notifier is configured)"]
    try:
        cls = NOTIFIER_TYPES.get(item.type)
    except ComponentError as exc:
        return None, None, [f"{where}.type: {exc}"]
    problems = []
    options = None
    try:
        options = cls.options_model.model_validate(item.model_extra or {})
    except ValidationError as err:
        for error in err.errors():
            loc = ".".join(str(p) for p in error["loc"])
            if error["type"] == "extra_forbidden":
                message = f"unknown option; {item.type} takes: {', '.join(cls.options_model.model_fields) or 'none'}"
            elif error["type"] == "missing":
                message = "required option is missing"
            else:
                message = error["msg"].removeprefix("Value error, ")
            problems.append(f"{where}.{loc}: {message}" if loc else f"{where}: {message}")
    try:
        from index.schema import AlertLevel
        AlertLevel.parse(item.min_level)
    except ValueError as exc:
        problems.append(f"{where}.min_level: {exc}")
    return cls, options, problems


def validate_notifiers(settings: Iterable[NotifierSettings], path: Path | str = "app.yaml") -> None:
    """Check every notifier's type, options and level; ConfigError names file, notifier, field and problem."""
    problems: list[str] = []
    names: list[str] = []
    for index, item in enumerate(settings):
        where = f"{path}: notifiers.{index} ({item.name})"
        if item.name in names:
            problems.append(f"{where}.name: notifier names must be unique; {item.name!r} is repeated")
        names.append(item.name)
        problems += _problems(item, where)[2]
    if problems:
        raise ConfigError("\n".join(problems))


def build_notifiers(settings: Iterable[NotifierSettings], *, agencies: AgenciesFile, default_dir: Path,
                    resolve: PathResolver = Path, path: Path | str = "app.yaml",
                    tz: tzinfo = DEFAULT_TZ) -> list[Notifier]:
    """Notifiers for app.yaml's enabled `notifiers:`; any problem is a ConfigError, nothing is skipped.

    `default_dir` holds file notifier output when a file notifier names no path;
    `resolve` turns configured relative paths into real ones (Settings.path).
    """
    settings = list(settings)
    validate_notifiers(settings, path)
    context = NotifierContext(agencies=agencies, default_dir=Path(default_dir), resolve=resolve, tz=tz)
    notifiers = []
    for index, item in enumerate(settings):
        if not item.enabled:
            continue
        cls, options, _ = _problems(item, "")
        try:
            notifiers.append(cls.from_config(item, options, context))
        except (ValueError, NotificationError) as exc:
            raise ConfigError(f"{path}: notifiers.{index} ({item.name}): {exc}") from None
    return notifiers


__all__ = ["EmailNotifier", "FileNotifier", "NOTIFIER_TYPES", "NotificationError", "Notifier", "NotifierContext",
           "build_notifiers", "validate_notifiers"]
