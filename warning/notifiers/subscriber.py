"""Subscribers: people or groups who get the alerts they chose, besides the owning agency.

Each subscriber (agencies.yaml `subscribers:`) picks topics, regions, schemes and a lowest level, and
receives by e-mail (through an app.yaml e-mail notifier) and/or through notifiers marked
`subscribers_only` (a leaders' DingTalk group, say). Quiet hours hold back what is below their level
until the window ends; a digest collects what arrived and sends one message per N minutes.

Each of a subscriber's destinations is a channel of its own to the engine (`subscriber.ID.email`,
`subscriber.ID.NOTIFIER`), so "notified once per change, also across restarts" holds for each as for
any notifier, and one failing destination never makes the others send twice: a held-back change
stays owed and goes out when the window opens; a change queued for a digest counts as delivered to the
queue, and the queue (store state) is sent, then emptied, when its time comes — inside quiet hours
only what the window lets through; after a failed digest the next try waits a digest period.
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
    """One destination of one subscriber: filters in `accepts`, quiet hours in `ready`, digest in `flush`.

    `target` is an EmailNotifier (sending to the subscriber's own addresses) or a subscribers_only
    notifier (its robot or webhook)."""

    def __init__(self, subscriber: Subscriber, target: Notifier, *, email: bool = False, tz: tzinfo = DEFAULT_TZ):
        super().__init__(f"subscriber.{subscriber.id}.{'email' if email else target.name}", subscriber.min_level, tz)
        self.subscriber = subscriber
        self.target = target
        self.by_email = email
        self.store: Store | None = None

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

    def _passes_quiet(self, level: str, now: datetime) -> bool:
        quiet = self.subscriber.quiet_hours
        if quiet is None or not in_window(quiet.start, quiet.end, now, self.tz):
            return True
        return AlertLevel.parse(level).rank >= AlertLevel.parse(quiet.min_level).rank

    def ready(self, alert: Alert, now: datetime) -> bool:
        """Inside quiet hours only alerts of the window's level go out now; the rest wait."""
        return self._passes_quiet(alert.level, now)

    # --- delivery --------------------------------------------------------------------------
    def send(self, alert: Alert, change: AlertChange) -> None:
        if self.subscriber.digest_minutes:
            self._queue(alert, change)
        elif self.by_email:
            self.target.send_to(self.subscriber.email, alert, change)
        else:
            self.target.send(alert, change)

    # --- digest ----------------------------------------------------------------------------
    @property
    def _key(self) -> str:
        return f"subscriptions.digest.{self.name.removeprefix('subscriber.')}"

    def _state(self) -> dict:
        raw = self.store.get_state(self._key) if self.store is not None else None
        try:
            state = json.loads(raw) if raw else {}
        except ValueError:
            state = {}
        return {"queue": state.get("queue", []), "last_sent": state.get("last_sent"),
                "retry_after": state.get("retry_after")}

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
        """Send the digest when it is due (N minutes after the last one, or after a failed try) with what
        quiet hours let through now; returns how many alerts it carried. On failure the items stay."""
        if not self.subscriber.digest_minutes or self.store is None:
            return 0
        state = self._state()
        period = timedelta(minutes=self.subscriber.digest_minutes)
        for stamp, wait in ((state["last_sent"], period), (state["retry_after"], timedelta(0))):
            if stamp and now - datetime.fromisoformat(stamp) < wait:
                return 0
        due = [q for q in state["queue"] if self._passes_quiet(q["level"], now)]
        if not due:
            return 0
        title = f"【舆情预警摘要】{len(due)}条（{now.astimezone(self.tz):%m-%d %H:%M}）"
        lines = [f"{i}. [{LEVEL_NAMES.get(q['level'], q['level'])}·{CHANGE_LABELS.get(q['change'], q['change'])}] "
                 f"{q['title']} → {q['agency']}（{q['alert_id']}）" for i, q in enumerate(due, 1)]
        try:
            if self.by_email:
                self.target.send_text_to(self.subscriber.email, title, "\n".join(lines))
            else:
                self.target.send_text(title, lines)
        except Exception as exc:  # noqa: BLE001 - the channel's own error; the items wait a period
            logger.warning("%s: digest of %d not sent (%s); next try in %d min", self.name, len(due), exc,
                           self.subscriber.digest_minutes)
            self._save({**state, "retry_after": (now + period).isoformat()})
            return 0
        sent = {(q["alert_id"], q["seq"]) for q in due}
        self._save({"queue": [q for q in state["queue"] if (q["alert_id"], q["seq"]) not in sent],
                    "last_sent": now.isoformat(), "retry_after": None})
        logger.info("%s: digest of %d alerts sent", self.name, len(due))
        return len(due)
