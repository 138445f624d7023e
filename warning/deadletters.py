"""Dead letters: notifications a channel did not take after its last attempt, kept for an operator.

`yuqing notify dead-letters` lists them; `yuqing notify resend ID` sends one again through the same
channel (as configured now) and, once it gets through, records the notification on the alert and
removes the letter. The list lives in the store's key/value state, so both backends keep it and a
restart loses none.
"""
from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import asdict, dataclass
from datetime import datetime

from index.schema import Alert
from index.store import Store

from .alerts import NOTIFIED, AlertChange, record
from .notifiers.base import Notifier

logger = logging.getLogger(__name__)


@dataclass
class DeadLetter:
    id: str
    alert_id: str
    notifier: str
    change: str           # new / escalated / reopened / overdue / reported
    level: str
    error: str
    attempts: int
    at: str               # when it was given up (ISO)
    title: str = ""


class DeadLetters:
    KEY = "notify.dead_letters"

    def __init__(self, store: Store):
        self.store = store

    def list(self) -> list[DeadLetter]:
        raw = self.store.get_state(self.KEY)
        if not raw:
            return []
        try:
            return [DeadLetter(**item) for item in json.loads(raw)]
        except (ValueError, TypeError) as exc:
            logger.error("dead-letter list in the store is unreadable (%s); showing none", exc)
            return []

    def _save(self, letters: list[DeadLetter]) -> None:
        self.store.set_state(self.KEY, json.dumps([asdict(x) for x in letters], ensure_ascii=False))

    def add(self, alert: Alert, notifier: str, change: str, error: str, attempts: int, at: datetime) -> DeadLetter:
        digest = hashlib.blake2b(f"{alert.id}|{notifier}|{len(alert.history)}".encode(), digest_size=4).hexdigest()
        letter = DeadLetter(id=f"dl-{digest}", alert_id=alert.id, notifier=notifier, change=change, level=alert.level,
                            error=error[:500], attempts=attempts, at=at.isoformat(), title=alert.title)
        letters = [x for x in self.list() if not (x.alert_id == alert.id and x.notifier == notifier)]
        self._save(letters + [letter])
        logger.error("notification dead-lettered: %s via %s (%s): %s", alert.id, notifier, change, error[:200],
                     extra={"dead_letter": letter.id})
        return letter

    def get(self, letter_id: str) -> DeadLetter | None:
        return next((x for x in self.list() if x.id == letter_id), None)

    def discard(self, alert_id: str, notifier: str) -> None:
        """A later notification of this alert through this channel got through: its letter is moot."""
        letters = self.list()
        kept = [x for x in letters if not (x.alert_id == alert_id and x.notifier == notifier)]
        if len(kept) != len(letters):
            self._save(kept)

    def remove(self, letter_id: str) -> None:
        self._save([x for x in self.list() if x.id != letter_id])

    def resend(self, letter_id: str, notifiers: list[Notifier], now: datetime) -> Alert:
        """Send a dead letter again; raises KeyError (unknown letter, alert or channel) or the channel's
        error (the letter stays, with the new error)."""
        letter = self.get(letter_id)
        if letter is None:
            raise KeyError(f"no dead letter {letter_id!r}; `yuqing notify dead-letters` lists them")
        notifier = next((n for n in notifiers if n.name == letter.notifier), None)
        if notifier is None:
            raise KeyError(f"dead letter {letter_id}: channel {letter.notifier!r} is not configured (any more)")
        alert = self.store.get_alert(letter.alert_id)
        if alert is None:
            raise KeyError(f"dead letter {letter_id}: alert {letter.alert_id} is not in the store")
        try:
            notifier.send(alert, AlertChange(alert, letter.change))
        except Exception as exc:
            letter.error, letter.attempts, letter.at = str(exc)[:500], letter.attempts + 1, now.isoformat()
            self._save([letter if x.id == letter.id else x for x in self.list()])
            raise
        record(alert, NOTIFIED, now, notifier=notifier.name, level=alert.level, change=letter.change,
               resent=letter.id)
        self.store.upsert_alert(alert)
        self.remove(letter.id)
        logger.info("dead letter %s resent via %s", letter.id, notifier.name)
        return alert
