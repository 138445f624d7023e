"""The notifier interface: how an alert leaves the system. Detection knows nothing of it."""
from __future__ import annotations

import abc
import os
from collections.abc import Callable
from dataclasses import dataclass
from datetime import tzinfo
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from index.configbase import StrictModel
from index.schema import DEFAULT_TZ, Alert, AlertLevel

from ..alerts import AlertChange

if TYPE_CHECKING:  # pragma: no cover
    from ..config import AgenciesFile, NotifierSettings

PathResolver = Callable[[str], Path]


class NotificationError(RuntimeError):
    """A notification could not be delivered; the message says where and why."""


def from_env(variable: str, what: str) -> str:
    """A secret named in app.yaml, read from the environment; NotificationError when it is not set."""
    value = os.environ.get(variable)
    if not value:
        raise NotificationError(f"environment variable {variable} ({what}) is not set")
    return value


@dataclass(frozen=True)
class NotifierContext:
    """What a notifier may need from the rest of the configuration."""
    agencies: "AgenciesFile"
    default_dir: Path            # where file output goes when a notifier names no path
    resolve: PathResolver = Path  # configured relative path -> real path
    tz: tzinfo = DEFAULT_TZ       # app.yaml `timezone`: the zone times are shown in


class Notifier(abc.ABC):
    """Delivers new and escalated alerts. `send` raises on failure; the engine records it and retries later."""

    options_model: ClassVar[type[StrictModel]] = StrictModel   # the type's own options in app.yaml

    def __init__(self, name: str, min_level: AlertLevel | str = AlertLevel.blue, tz: tzinfo = DEFAULT_TZ):
        self.name = name
        self.min_level = AlertLevel.parse(min_level)
        self.tz = tz

    @classmethod
    def from_config(cls, settings: "NotifierSettings", options: Any, context: NotifierContext) -> "Notifier":
        """Build from validated settings; types with options override this."""
        return cls(name=settings.name, min_level=settings.min_level, tz=context.tz)

    # agencies.yaml `contact.webhooks`: a channel some agencies name as theirs carries only their alerts
    # (routed to them or reported to them); None: every alert
    agency_scope: frozenset[str] | None = None

    def accepts(self, alert: Alert) -> bool:
        if alert.level_enum.rank < self.min_level.rank:
            return False
        if self.agency_scope is not None:
            return alert.agency in self.agency_scope or bool(self.agency_scope & set(alert.reported_to))
        return True

    def ready(self, alert: Alert, now) -> bool:
        """Whether an accepted alert goes out now (False: it stays owed, e.g. a subscriber's quiet hours)."""
        return True

    def bind(self, store) -> None:
        """The engine hands over its store (channels that keep state, e.g. digests)."""

    def flush(self, now) -> int:
        """End of an evaluation: send what was collected (digests). Returns how many alerts went out."""
        return 0

    def send_text(self, title: str, lines: list[str]) -> None:
        """A short text message (a digest) — channels that can carry one override this."""
        raise NotificationError(f"{self.name}: this channel type cannot send a digest")

    @abc.abstractmethod
    def send(self, alert: Alert, change: AlertChange) -> None:
        """Deliver one alert; raise (NotificationError or any error) when it did not get through."""

    def send_ended(self, alert: Alert, change: AlertChange) -> None:
        """The alert's episode ended (已平息). Channels that keep a record override this; mail and chat
        stay quiet by default."""

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name!r} min_level={self.min_level.value}>"
