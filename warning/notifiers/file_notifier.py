"""FileNotifier: alerts as a JSONL log plus one readable Markdown page per alert."""
from __future__ import annotations

import json
import logging
import os
import re
from datetime import tzinfo
from pathlib import Path

from pydantic import Field

from index.configbase import StrictModel
from index.schema import DEFAULT_TZ, Alert, AlertLevel, now

from ..alerts import AlertChange
from .base import NotificationError, Notifier, NotifierContext
from .text import alert_markdown

logger = logging.getLogger(__name__)

_UNSAFE_NAME = re.compile(r"[^\w\-.]+")


class FileOptions(StrictModel):
    path: str | None = Field(default=None, description="folder for alerts.jsonl and alerts/; default: output_dir")


class FileNotifier(Notifier):
    """Appends each notification to out_dir/alerts.jsonl and (re)writes out_dir/alerts/<id>.md."""

    options_model = FileOptions

    def __init__(self, out_dir: str | os.PathLike[str], name: str = "file",
                 min_level: AlertLevel | str = AlertLevel.blue, tz: tzinfo = DEFAULT_TZ):
        super().__init__(name, min_level, tz)
        self.out_dir = Path(out_dir)

    @classmethod
    def from_config(cls, settings, options: FileOptions, context: NotifierContext) -> "FileNotifier":
        out_dir = context.resolve(options.path) if options.path else context.default_dir
        return cls(out_dir, name=settings.name, min_level=settings.min_level, tz=context.tz)

    @property
    def log_path(self) -> Path:
        return self.out_dir / "alerts.jsonl"

    def page_path(self, alert: Alert) -> Path:
        return self.out_dir / "alerts" / f"{_UNSAFE_NAME.sub('_', alert.id)}.md"

    def send_ended(self, alert: Alert, change: AlertChange) -> None:
        """The log says the episode ended and the page shows it as 已平息."""
        self.send(alert, change)

    def send(self, alert: Alert, change: AlertChange) -> None:
        record = {"notified_at": now().isoformat(), "change": change.kind,
                  "previous_level": change.previous_level, "alert": alert.model_dump(mode="json")}
        try:
            (self.out_dir / "alerts").mkdir(parents=True, exist_ok=True)
            with self.log_path.open("a", encoding="utf-8") as fh:
                fh.write(json.dumps(record, ensure_ascii=False) + "\n")
            page = self.page_path(alert)
            tmp = page.with_name(f".{page.name}.tmp")
            tmp.write_text(alert_markdown(alert, change, self.tz), encoding="utf-8")
            os.replace(tmp, page)
        except OSError as exc:
            raise NotificationError(f"{self.name}: cannot write alert {alert.id} under {self.out_dir}: {exc}") from exc
        logger.info("alert %s written to %s", alert.id, self.out_dir)
