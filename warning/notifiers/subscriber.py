"""Subscribers: people or groups who get the alerts they chose, besides the owning agency.

Each subscriber (agencies.yaml `subscribers:`) picks topics, regions, schemes and a lowest level, and
receives by e-mail (through an app.yaml e-mail notifier) and/or through notifiers marked
`subscribers_only` (a leaders' DingTalk group, say). Quiet hours hold back what is below their level
until the window ends; a digest collects what arrived and sends one message per N minutes.

A subscriber is a channel of its own to the engine (name `subscriber.ID`), so "notified once per
change, also across restarts" holds for it as for any notifier: a held-back change stays owed and
goes out when the window opens; a change queued for a digest counts as delivered to the queue, and the
queue (store state) is sent, then emptied, when its time comes.
"""
from __future__ import annotations

import json
import logging
from datetime import datetime, time as dtime, timedelta, tzinfo

from index.schema import DEFAULT_TZ, Alert, AlertLevel
from index.store import Store

from ..alerts import AlertChange
from ..config import Subscriber
from ..labels import CHANGE_LABELS, LEVEL_NAMES
from .base import Notifier

logger = logging.getLogger(__name__)


def _clock(value: str) -> dtime:
    hours, minutes = value.split(":")
    return dtime(int(hours), int(minutes))


def in_window(start: str, end: str, at: datetime, tz: tzinfo) -> bool:
    """Whether local time `at` falls in [start, end) — a window may run past midnight (22:00–07:00)."""
    t = at.astimezone(tz).time()
    a, b = _clock(start), _clock(end)
    return a <= t < b if a < b else (t >= a or t < b)


class SubscriberChannel(Notifier):
    """One subscriber as a notifier: its filters in `accepts`, quiet hours in `ready`, digest in `flush`."""

    def __init__(self, subscriber: Subscriber, channels: list[Notifier], *, email=None, tz: tzinfo = DEFAULT_TZ,
                 now=None):
        super().__init__(f"subscriber.{subscriber.id}", subscriber.min_level, tz)
        self.subscriber = subscriber
        self.channels = channels          # subscribers_only notifiers
        self.email = email                # an EmailNotifier used with the subscriber's own addresses
        self.store: Store | None = None
        self._now = now

    def bind(self, store: Store) -> None:
        self.store = store

    # --- what it takes -------------------------------------------------------------------
    def accepts(self, alert: Alert) -> bool:
        s = self.subscriber
        if not super().accepts(alert):
            return False
        if s.topics and alert.topic not in s.topics:
            return False
        code = alert.region.code if alert.region else None
        if s.region_codes and not (code and code.startswith(tuple(s.region_codes))):
            return False
        if s.schemes and not set(s.schemes) & set(alert.schemes):
            return False
        return True

    def ready(self, alert: Alert, now: datetime) -> bool:
        """Inside quiet hours only alerts of the window's level go out now; the rest wait."""
        quiet = self.subscriber.quiet_hours
        if quiet is None or not in_window(quiet.start, quiet.end, now, self.tz):
            return True
        return alert.level_enum.rank >= AlertLevel.parse(quiet.min_level).rank

    # --- delivery --------------------------------------------------------------------------
    def send(self, alert: Alert, change: AlertChange) -> None:
        if self.subscriber.digest_minutes:
            self._queue(alert, change)
            return
        errors = self._each(lambda mail: mail.send_to(self.subscriber.email, alert, change),
                            lambda channel: channel.send(alert, change))
        if errors:
            raise RuntimeError(f"{self.name}: " + "; ".join(errors))

    def _each(self, by_mail, by_channel) -> list[str]:
        """Deliver through every channel of the subscriber; the failures, one line each (all are tried)."""
        errors = []
        targets = ([("email", self.email, by_mail)] if self.email is not None and self.subscriber.email else [])
        for name, target, deliver in targets + [(c.name, c, by_channel) for c in self.channels]:
            try:
                deliver(target)
            except Exception as exc:  # noqa: BLE001 - the failures are reported together
                errors.append(f"{name}: {exc}")
        return errors

    # --- digest ----------------------------------------------------------------------------
    @property
    def _key(self) -> str:
        return f"subscriptions.digest.{self.subscriber.id}"

    def _state(self) -> dict:
        raw = self.store.get_state(self._key) if self.store is not None else None
        try:
            state = json.loads(raw) if raw else {}
        except ValueError:
            state = {}
        return {"queue": state.get("queue", []), "last_sent": state.get("last_sent")}

    def _save(self, state: dict) -> None:
        self.store.set_state(self._key, json.dumps(state, ensure_ascii=False))

    def _queue(self, alert: Alert, change: AlertChange) -> None:
        if self.store is None:
            raise RuntimeError(f"{self.name}: a digest needs the store (engine binds it)")
        state = self._state()
        item = {"alert_id": alert.id, "change": change.kind, "level": alert.level, "title": alert.title,
                "agency": alert.agency_name or alert.agency or "", "at": alert.last_seen.isoformat(),
                "seq": len(alert.history)}
        if not any(q["alert_id"] == item["alert_id"] and q["seq"] == item["seq"] for q in state["queue"]):
            state["queue"].append(item)
        self._save(state)

    def flush(self, now: datetime) -> int:
        """Send the digest when it is due (N minutes after the last one) and not empty; returns how many
        alerts it carried. On failure the queue stays for the next evaluation."""
        if not self.subscriber.digest_minutes or self.store is None:
            return 0
        state = self._state()
        if not state["queue"]:
            return 0
        last = datetime.fromisoformat(state["last_sent"]) if state["last_sent"] else None
        if last is not None and now - last < timedelta(minutes=self.subscriber.digest_minutes):
            return 0
        queue = state["queue"]
        title = f"【舆情预警摘要】{len(queue)}条（{now.astimezone(self.tz):%m-%d %H:%M}）"
        lines = [f"{i}. [{LEVEL_NAMES.get(q['level'], q['level'])}·{CHANGE_LABELS.get(q['change'], q['change'])}] "
                 f"{q['title']} → {q['agency']}（{q['alert_id']}）" for i, q in enumerate(queue, 1)]
        errors = self._each(lambda mail: mail.send_text_to(self.subscriber.email, title, "\n".join(lines)),
                            lambda channel: channel.send_text(title, lines))
        if errors:
            logger.warning("%s: digest of %d not sent (%s); kept for the next evaluation", self.name, len(queue),
                           "; ".join(errors))
            return 0
        self._save({"queue": [], "last_sent": now.isoformat()})
        logger.info("%s: digest of %d alerts sent", self.name, len(queue))
        return len(queue)
