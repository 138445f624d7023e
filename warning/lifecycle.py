"""The closed loop (治理闭环): an alert's handling from raise to resolution, with deadlines and 直报.

    new ──ack──► acknowledged ──handle──► handling ──resolve──► resolved
     │                │                      │       └─false-positive─► false_positive
     └────────────────┴──── handle / resolve / false-positive ────────┘
    resolved | false_positive ──reopen──► acknowledged   (by a person, with a note)
    resolved | false_positive ──────────► new            (the episode escalated again; by the system)

Every change appends one entry to `Alert.history` (who, when, from → to, the note); entries are
never rewritten, so the history is the audit trail. Who may act (agencies.yaml, the directory):
a member of the owning agency or of an agency above it, the assignee, or an admin. Deadlines come
from agencies.yaml `deadlines:` by level; an overdue alert is reported to the next agency up, and
a 红 alert to the owner's parent at once. Callers serialise these changes with the warning
evaluation (the shell holds the same lock for both), so an action and an evaluation never
interleave on one alert.
"""
from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from index.schema import ACTIVE_STATUSES, Alert, AlertLevel, AlertStatus
from index.store import Store

from .alerts import record
from .config import AgenciesFile

logger = logging.getLogger(__name__)

SYSTEM = "system"

# history events written here (warning.alerts writes raised / escalated / ended / notified)
ACKNOWLEDGED, HANDLING, RESOLVED, FALSE_POSITIVE = "acknowledged", "handling", "resolved", "false_positive"
REOPENED, ASSIGNED, COMMENTED, SILENCED = "reopened", "assigned", "commented", "silenced"
OVERDUE, REPORTED = "overdue", "reported"

NEW, ACK, HANDLE, DONE, FALSE = (AlertStatus.new.value, AlertStatus.acknowledged.value, AlertStatus.handling.value,
                                 AlertStatus.resolved.value, AlertStatus.false_positive.value)


class LifecycleError(ValueError):
    """An action the lifecycle refuses; the message says why and what would be allowed."""


class PermissionDenied(LifecycleError):
    """The actor may not act on (or see) this alert."""


@dataclass(frozen=True)
class Action:
    name: str            # CLI spelling
    event: str           # history event
    from_statuses: tuple[str, ...]
    to_status: str | None
    needs_note: bool = False


ACTIONS: dict[str, Action] = {a.name: a for a in (
    Action("ack", ACKNOWLEDGED, (NEW,), ACK),
    Action("handle", HANDLING, (NEW, ACK), HANDLE),
    Action("resolve", RESOLVED, (NEW, ACK, HANDLE), DONE, needs_note=True),
    Action("false-positive", FALSE_POSITIVE, (NEW, ACK, HANDLE), FALSE, needs_note=True),
    Action("reopen", REOPENED, (DONE, FALSE), ACK, needs_note=True),
    Action("assign", ASSIGNED, ACTIVE_STATUSES, None),
    Action("comment", COMMENTED, (NEW, ACK, HANDLE, DONE, FALSE), None, needs_note=True),
    Action("silence", SILENCED, ACTIVE_STATUSES, None, needs_note=True),
)}

MAX_SILENCE = timedelta(hours=24)   # longer only by an admin: silence also holds back upward reporting
STATUS_WORDS = {NEW: "待签收", ACK: "已签收", HANDLE: "处置中", DONE: "已办结", FALSE: "误报"}


@dataclass(frozen=True)
class Person:
    """A workbench account as the directory sees it (the shell's accounts, `yuqing users`): admin,
    analyst (sees every alert, acts only where assigned) or agency (a member of `agency`)."""
    name: str
    role: str
    agency: str | None = None


class Directory:
    """agencies.yaml read as a directory: who is above whom, who belongs where, who may do what —
    together with the workbench's accounts (`people`), which count as admins, analysts or members."""

    def __init__(self, agencies: AgenciesFile, people: Iterable[Person] = ()):
        self.agencies = agencies
        self.people = {p.name: p for p in people}

    def known(self, user: str) -> bool:
        return user in self.agencies.users or user in self.people

    def is_admin(self, user: str) -> bool:
        person = self.people.get(user)
        return user in self.agencies.admins or (person is not None and person.role == "admin")

    def is_analyst(self, user: str) -> bool:
        person = self.people.get(user)
        return person is not None and person.role == "analyst"

    def agencies_of(self, user: str) -> list[str]:
        found = list(self.agencies.agencies_of(user))
        person = self.people.get(user)
        if person is not None and person.role == "agency" and person.agency and person.agency not in found:
            found.append(person.agency)
        return found

    def owners(self, alert: Alert) -> list[str]:
        """The owning agency and every agency above it (or the duty desk for an unrouted alert)."""
        agency = alert.agency or self.agencies.default_agency
        return [agency, *self.agencies.ancestors(agency)]

    def can_act(self, user: str, alert: Alert) -> bool:
        if self.is_admin(user) or (alert.assignee is not None and alert.assignee == user):
            return True
        return bool(set(self.agencies_of(user)) & set(self.owners(alert)))

    def can_see(self, user: str, alert: Alert) -> bool:
        return (self.is_analyst(user) or self.can_act(user, alert)
                or bool(set(self.agencies_of(user)) & set(alert.reported_to)))

    def visible(self, user: str, alerts: Iterable[Alert]) -> list[Alert]:
        return [a for a in alerts if self.can_see(user, a)]

    def check_user(self, user: str) -> None:
        if user == SYSTEM:
            raise PermissionDenied(f"{SYSTEM!r} is the name the warning evaluation acts under; act as a person")
        if not self.known(user):
            raise PermissionDenied(f"unknown user {user!r}: not an admin nor a member of any agency in the "
                                   "agencies file (agencies.yaml `members:` / `admins:`)")


# --- deadlines ------------------------------------------------------------
def deadline_of(agencies: AgenciesFile, level: str | AlertLevel):
    return agencies.deadlines[AlertLevel.parse(level).value]


def start_clock(alert: Alert, agencies: AgenciesFile, at: datetime) -> None:
    """A raised alert: acknowledge and resolve by its level's deadlines."""
    d = deadline_of(agencies, alert.level)
    alert.ack_due, alert.resolve_due = at + d.acknowledge, at + d.resolve


def tighten_clock(alert: Alert, agencies: AgenciesFile, at: datetime) -> None:
    """An escalated alert: its new level's deadlines from now, where they come sooner than the old."""
    d = deadline_of(agencies, alert.level)
    if alert.status == NEW:
        alert.ack_due = min(filter(None, (alert.ack_due, at + d.acknowledge)))
    if alert.status in ACTIVE_STATUSES:
        alert.resolve_due = min(filter(None, (alert.resolve_due, at + d.resolve)))


def overdue_kinds(alert: Alert, now: datetime) -> list[str]:
    """The deadlines that have passed on an alert still being handled: 'acknowledge' (still new) and/or
    'resolve'."""
    if alert.status not in ACTIVE_STATUSES:
        return []
    kinds = []
    if alert.status == NEW and alert.ack_due is not None and now > alert.ack_due:
        kinds.append("acknowledge")
    if alert.resolve_due is not None and now > alert.resolve_due:
        kinds.append("resolve")
    return kinds


def is_overdue(alert: Alert, now: datetime) -> bool:
    return bool(overdue_kinds(alert, now))


# --- the desk -------------------------------------------------------------
class AlertDesk:
    """Lifecycle actions on stored alerts, deadline checks and upward reporting."""

    def __init__(self, store: Store, agencies: AgenciesFile, people: Iterable[Person] = ()):
        self.store = store
        self.agencies = agencies
        self.directory = Directory(agencies, people)

    def get(self, alert_id: str, user: str | None = None) -> Alert:
        alert = self.store.get_alert(alert_id)
        if alert is None:
            raise LifecycleError(f"no alert {alert_id!r}")
        if user is not None:
            self.directory.check_user(user)
            if not self.directory.can_see(user, alert):
                raise PermissionDenied(f"{user} may not see alert {alert_id}: it belongs to {alert.agency}")
        return alert

    def act(self, alert_id: str, action: str, user: str, now: datetime, *, note: str | None = None,
            assignee: str | None = None, until: datetime | None = None) -> Alert:
        """Apply one action; raises LifecycleError (PermissionDenied) when it is not allowed."""
        spec = ACTIONS.get(action)
        if spec is None:
            raise LifecycleError(f"unknown action {action!r}; use one of {', '.join(ACTIONS)}")
        self.directory.check_user(user)
        alert = self.store.get_alert(alert_id)
        if alert is None:
            raise LifecycleError(f"no alert {alert_id!r}")
        if not self.directory.can_act(user, alert):
            raise PermissionDenied(f"{user} may not act on alert {alert_id}: it belongs to {alert.agency}; only its "
                                   "members, the agencies above it, its assignee or an admin may")
        note = (note or "").strip() or None
        if spec.needs_note and note is None:
            raise LifecycleError(f"{action} needs a note (--note) saying what was done or why")
        if alert.status not in spec.from_statuses:
            raise LifecycleError(f"cannot {action} alert {alert_id}: it is {alert.status} "
                                 f"({STATUS_WORDS.get(alert.status, alert.status)}); {action} applies to "
                                 f"{' / '.join(spec.from_statuses)}")
        details: dict[str, Any] = {"by": user}
        if action == "assign":
            if not assignee:
                raise LifecycleError("assign needs the user to assign to (--to)")
            self.directory.check_user(assignee)
            if not self.directory.can_act(assignee, alert.model_copy(update={"assignee": None})):
                raise LifecycleError(f"{assignee} is not a member of {alert.agency} or an agency above it")
            details |= {"assignee": assignee, "previous": alert.assignee}
            alert.assignee = assignee
        if action == "silence":
            if until is None or until <= now:
                raise LifecycleError("silence needs a time in the future (--until or --for)")
            if until - now > MAX_SILENCE and not self.directory.is_admin(user):
                raise LifecycleError(f"silence at most {MAX_SILENCE.total_seconds() / 3600:g} h: an owner must not "
                                     "keep an alert from being reported upward for long (admins may)")
            details["until"] = until.isoformat()
            alert.silenced_until = until
        if spec.to_status is not None:
            details |= {"from": alert.status, "to": spec.to_status}
            alert.status = spec.to_status
            self._clock_after(alert, spec, now)
        if note is not None:
            details["note"] = note
        record(alert, spec.event, now, **details)
        self.store.upsert_alert(alert)
        logger.info("alert %s: %s by %s", alert.id, action, user, extra={"alert": alert.id, "action": action,
                                                                          "by": user, "status": alert.status})
        return alert

    def _clock_after(self, alert: Alert, spec: Action, now: datetime) -> None:
        if spec.to_status in (ACK, HANDLE):
            alert.ack_due = None
        if spec.to_status in (DONE, FALSE):
            alert.ack_due = alert.resolve_due = None
            alert.silenced_until = None
        if spec.name == "reopen":
            alert.resolve_due = now + deadline_of(self.agencies, alert.level).resolve

    # --- what the warning evaluation calls ------------------------------------------------
    def on_raised(self, alert: Alert, now: datetime) -> None:
        start_clock(alert, self.agencies, now)
        self._report_red(alert, now)

    def on_escalated(self, alert: Alert, now: datetime) -> None:
        if alert.status in (DONE, FALSE):
            previous = alert.status
            alert.status = NEW
            alert.silenced_until = None
            start_clock(alert, self.agencies, now)
            record(alert, REOPENED, now, by=SYSTEM, **{"from": previous, "to": NEW},
                   note=f"事态升级为{alert.level}色预警，自动重新打开")
        else:
            if alert.silenced_until is not None:      # worse news ends a silence
                alert.silenced_until = None
            tighten_clock(alert, self.agencies, now)
        self._report_red(alert, now)

    def _report_red(self, alert: Alert, now: datetime) -> None:
        if not self.agencies.report_red_to_parent or AlertLevel.parse(alert.level) is not AlertLevel.red:
            return
        parents = self.agencies.ancestors(alert.agency or self.agencies.default_agency)
        if parents and parents[0] not in alert.reported_to:
            alert.reported_to.append(parents[0])
            record(alert, REPORTED, now, by=SYSTEM, to=parents[0], reason="red", level=alert.level)
            logger.info("red alert %s reported to %s", alert.id, parents[0])

    def sweep(self, now: datetime, limit: int = 5000, alerts: list[Alert] | None = None) -> list[Alert]:
        """Mark alerts past a deadline overdue (once per deadline) and report each to the next agency
        up; silenced alerts wait until their silence ends. `alerts`: the active alerts when the caller
        has read them already (they are updated in place). Returns the alerts changed (stored)."""
        changed = []
        if alerts is None:
            alerts = self.store.list_alerts(statuses=ACTIVE_STATUSES, limit=limit)
        for alert in alerts:
            if alert.silenced_until is not None and now < alert.silenced_until:
                continue
            marked = False
            for kind in overdue_kinds(alert, now):     # a never-acknowledged alert misses both in turn
                due = alert.ack_due if kind == "acknowledge" else alert.resolve_due
                if any(e.get("event") == OVERDUE and e.get("deadline") == kind and e.get("due") == due.isoformat()
                       for e in alert.history):
                    continue
                chain = self.agencies.ancestors(alert.agency or self.agencies.default_agency)
                up = next((a for a in chain if a not in alert.reported_to), None)
                if up is not None:
                    alert.reported_to.append(up)
                record(alert, OVERDUE, now, by=SYSTEM, deadline=kind, due=due.isoformat(), to=up, level=alert.level)
                logger.warning("alert %s overdue (%s by %s); reported to %s", alert.id, kind, due.isoformat(),
                               up or "nobody above")
                marked = True
            if marked:
                self.store.upsert_alert(alert)
                changed.append(alert)
        return changed


def first_action_at(alert: Alert, events: tuple[str, ...]) -> datetime | None:
    for entry in alert.history:
        if entry.get("event") in events and entry.get("by") != SYSTEM:
            return datetime.fromisoformat(entry["at"])
    return None


def response_times(alert: Alert) -> tuple[timedelta | None, timedelta | None]:
    """Time from raise to the owner's first acknowledgement (any first action) and to resolution."""
    acked = first_action_at(alert, (ACKNOWLEDGED, HANDLING, RESOLVED, FALSE_POSITIVE))
    resolved = None
    for entry in reversed(alert.history):
        if entry.get("event") in (RESOLVED, FALSE_POSITIVE):
            resolved = datetime.fromisoformat(entry["at"])
            break
    return ((acked - alert.first_seen) if acked else None, (resolved - alert.first_seen) if resolved else None)
