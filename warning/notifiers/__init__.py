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

from ..config import AgenciesFile, NotifierSettings, Subscriber
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


def daily_report_email(agencies: AgenciesFile, built: Iterable[Notifier]) -> list[tuple[Subscriber, EmailNotifier]]:
    """Each subscriber with daily_report: true and the email notifier its 日报 goes through."""
    emails = {n.name: n for n in built if isinstance(n, EmailNotifier)}
    out = []
    for sub in agencies.subscribers:
        if not sub.daily_report:
            continue
        via = emails.get(sub.email_via) if sub.email_via else next(iter(emails.values()), None)
        if via is not None:
            out.append((sub, via))
    return out


def subscriber_problems(agencies: AgenciesFile, settings: Iterable[NotifierSettings]) -> list[str]:
    """What is wrong with agencies.yaml `subscribers:` and `contact.webhooks` against app.yaml's notifiers,
    one 'field: problem' line each."""
    settings = list(settings)
    by_name = {n.name: n for n in settings}
    emails = [n.name for n in settings if n.type == "email" and n.enabled]
    problems = []
    for i, sub in enumerate(agencies.subscribers):
        for name in sub.notifiers:
            if name not in by_name:
                problems.append(f"subscribers.{i}.notifiers: unknown notifier {name!r}; app.yaml defines "
                                f"{sorted(by_name) or 'none'}")
            elif not by_name[name].subscribers_only:
                problems.append(f"subscribers.{i}.notifiers: {name!r} sends every alert already; mark it "
                                "subscribers_only: true in app.yaml so it carries only what subscribers chose")
        if sub.email:
            if sub.email_via is not None and sub.email_via not in emails:
                problems.append(f"subscribers.{i}.email_via: {sub.email_via!r} is not an enabled email notifier "
                                f"(app.yaml has {emails or 'none'})")
            elif sub.email_via is None and len(emails) != 1:
                problems.append(f"subscribers.{i}.email: name the email notifier to send through (email_via); "
                                f"app.yaml has {len(emails)} enabled: {emails or 'none'}")
    for i, agency in enumerate(agencies.agencies):
        for name in agency.contact.webhooks:
            if name in by_name and by_name[name].type in ("file", "email"):
                problems.append(f"agencies.{i}.contact.webhooks: {name!r} is a {by_name[name].type} notifier, "
                                "not a robot or webhook")
    return problems


def build_notifiers(settings: Iterable[NotifierSettings], *, agencies: AgenciesFile, default_dir: Path,
                    resolve: PathResolver = Path, path: Path | str = "app.yaml",
                    tz: tzinfo = DEFAULT_TZ, named: dict[str, Notifier] | None = None) -> list[Notifier]:
    """Notifiers for app.yaml's enabled `notifiers:`, plus one channel per agencies.yaml subscriber;
    any problem is a ConfigError, nothing is skipped. `named`, when given, receives every enabled
    notifier by name (subscribers_only ones too).

    `default_dir` holds file notifier output when a file notifier names no path;
    `resolve` turns configured relative paths into real ones (Settings.path). A notifier some
    agencies list in `contact.webhooks` carries only their alerts; one marked `subscribers_only`
    only what the subscribers naming it chose.
    """
    settings = list(settings)
    validate_notifiers(settings, path)
    problems = subscriber_problems(agencies, settings)
    if problems:
        raise ConfigError("agencies file: invalid configuration\n  " + "\n  ".join(problems))
    context = NotifierContext(agencies=agencies, default_dir=Path(default_dir), resolve=resolve, tz=tz)
    built: dict[str, Notifier] = {} if named is None else named
    general: list[Notifier] = []
    for index, item in enumerate(settings):
        if not item.enabled:
            continue
        cls, options, _ = _problems(item, "")
        try:
            notifier = cls.from_config(item, options, context)
        except (ValueError, NotificationError) as exc:
            raise ConfigError(f"{path}: notifiers.{index} ({item.name}): {exc}") from None
        scope = frozenset(a.id for a in agencies.agencies if item.name in a.contact.webhooks)
        if scope:
            notifier.agency_scope = scope
        built[item.name] = notifier
        if not item.subscribers_only:
            general.append(notifier)
    from .subscriber import SubscriberChannel
    emails = [n for n in built.values() if isinstance(n, EmailNotifier)]
    for sub in agencies.subscribers:
        if not sub.alerts:      # the 日报 only (yuqing's daily report job mails it)
            continue
        if sub.email:
            email = built.get(sub.email_via) if sub.email_via else (emails[0] if emails else None)
            if email is not None:
                general.append(SubscriberChannel(sub, email, email=True, tz=tz))
        general += [SubscriberChannel(sub, built[n], tz=tz) for n in sub.notifiers if n in built]
    return general


__all__ = ["EmailNotifier", "FileNotifier", "NOTIFIER_TYPES", "NotificationError", "Notifier", "NotifierContext",
           "build_notifiers", "daily_report_email", "validate_notifiers"]
