"""The notifier interface: how an alert leaves the system. Detection knows nothing of it."""
from __future__ import annotations

import abc

from index.schema import Alert, AlertLevel

from ..alerts import AlertChange


class NotificationError(RuntimeError):
    """A notification could not be delivered; the message says where and why."""


class Notifier(abc.ABC):
    """Delivers new and escalated alerts. `send` raises on failure; the engine records it and retries later."""

    def __init__(self, name: str, min_level: AlertLevel | str = AlertLevel.blue):
        self.name = name
        self.min_level = AlertLevel.parse(min_level)

    def accepts(self, alert: Alert) -> bool:
        return alert.level_enum.rank >= self.min_level.rank

    @abc.abstractmethod
    def send(self, alert: Alert, change: AlertChange) -> None:
        """Deliver one alert; raise (NotificationError or any error) when it did not get through."""

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name!r} min_level={self.min_level.value}>"
