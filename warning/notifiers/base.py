"""The notifier interface: how an alert leaves the system. Detection knows nothing of it."""
from __future__ import annotations

import abc
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

    def accepts(self, alert: Alert) -> bool:
        return alert.level_enum.rank >= self.min_level.rank

    @abc.abstractmethod
    def send(self, alert: Alert, change: AlertChange) -> None:
        """Deliver one alert; raise (NotificationError or any error) when it did not get through."""

    def send_ended(self, alert: Alert, change: AlertChange) -> None:
        """The alert's episode ended (已平息). Channels that keep a record override this; mail and chat
        stay quiet by default."""

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name!r} min_level={self.min_level.value}>"
