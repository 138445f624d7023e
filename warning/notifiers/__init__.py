"""Notifiers (alerters): separate from detection, chosen in app.yaml `notifiers:`.

Add a type by writing a Notifier subclass and a factory in NOTIFIER_TYPES.
"""
from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from pathlib import Path

from yuqing.config import AgenciesFile, ConfigError, NotifierSettings

from .base import NotificationError, Notifier
from .email_notifier import EmailNotifier
from .file_notifier import FileNotifier

logger = logging.getLogger(__name__)

PathResolver = Callable[[str], Path]
NotifierFactory = Callable[[NotifierSettings, AgenciesFile, Path, PathResolver], Notifier]


def _file(settings: NotifierSettings, agencies: AgenciesFile, default_dir: Path, resolve: PathResolver) -> Notifier:
    out_dir = resolve(settings.path) if settings.path else default_dir
    return FileNotifier(out_dir, name=settings.name, min_level=settings.min_level)


def _email(settings: NotifierSettings, agencies: AgenciesFile, default_dir: Path, resolve: PathResolver) -> Notifier:
    missing = [f for f in ("smtp_host", "sender") if not getattr(settings, f)]
    if missing:
        raise ConfigError(f"notifier {settings.name!r} (email) needs {' and '.join(missing)}")
    return EmailNotifier(smtp_host=settings.smtp_host, smtp_port=settings.smtp_port, sender=settings.sender,
                         agencies=agencies, name=settings.name, min_level=settings.min_level)


NOTIFIER_TYPES: dict[str, NotifierFactory] = {"file": _file, "email": _email}


def build_notifiers(settings: Iterable[NotifierSettings], *, agencies: AgenciesFile, default_dir: Path,
                    resolve: PathResolver = Path) -> list[Notifier]:
    """Notifiers for app.yaml's `notifiers:`; types not implemented yet are skipped with an error log.

    `default_dir` holds file notifier output when a file notifier names no path;
    `resolve` turns configured relative paths into real ones (Settings.path).
    """
    notifiers = []
    for item in settings:
        factory = NOTIFIER_TYPES.get(item.type)
        if factory is None:
            logger.error("notifier %r: type %r is not implemented yet; alerts will not be sent through it "
                         "(available: %s)", item.name, item.type, ", ".join(sorted(NOTIFIER_TYPES)))
            continue
        try:
            notifiers.append(factory(item, agencies, Path(default_dir), resolve))
        except ValueError as exc:   # e.g. an unknown min_level
            raise ConfigError(f"notifier {item.name!r}: {exc}") from None
    return notifiers


__all__ = ["EmailNotifier", "FileNotifier", "NOTIFIER_TYPES", "NotificationError", "Notifier", "build_notifiers"]
