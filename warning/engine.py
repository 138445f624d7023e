"""The warning engine: rules → findings → graded, routed alerts with state → notifiers."""
from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from datetime import datetime, timedelta, tzinfo

from index.schema import ACTIVE_STATUSES, DEFAULT_TZ, Alert, AlertLevel, LevelAdjustment, aware
from index.store import Store
from .config import AgenciesFile, RulesFile, TopicsFile

from .alerts import (DEAD_LETTERED, NOTIFIED, NOTIFY_FAILED, AlertBook, AlertChange, AlertFactory, ChangeKind, FindingDescriber,
                     pending_notification, record)
from .explain import explain
from .grading import LevelAdjuster, RegionGrader, higher
from .deadletters import DeadLetters
from .lifecycle import AlertDesk
from .notifiers.base import Notifier
from .routing import Router
from .rules import Finding, Rule, build_rules

logger = logging.getLogger(__name__)


class WarningEngine:
    """Evaluates every enabled rule at a given time and keeps alert state in the store.

    Stateless between calls apart from the store, so evaluating at successive
    (simulated) times, or from a fresh process, continues the same episodes.
    """

    LAST_RUN_KEY = "warning.last_evaluated_at"

    def __init__(self, store: Store, rules: RulesFile, agencies: AgenciesFile, topics: TopicsFile,
                 notifiers: Sequence[Notifier] = (), *, keyword_count: int = 10, post_count: int = 5,
                 max_notify_attempts: int = 5, tz: tzinfo = DEFAULT_TZ):
        names = [n.name for n in notifiers]
        if len(set(names)) != len(names):
            raise ValueError(f"notifier names must be unique, got {names}")
        self.store = store
        self.rules: list[Rule] = build_rules(rules)
        self.router = Router(agencies)
        self.grader = RegionGrader(topics.home_region)
        self.adjusters = {rule.name: LevelAdjuster(rules.grading_for(rule.name)) for rule in self.rules}
        self.describer = FindingDescriber(store, keyword_count=keyword_count, post_count=post_count, tz=tz)
        self.tz = tz                    # app.yaml `timezone`: naive times and alert ids read in it
        self.factory = AlertFactory(tz)
        self.book = AlertBook(store)
        self.desk = AlertDesk(store, agencies)   # deadlines, reopening, 直报 and overdue reporting
        self.dead_letters = DeadLetters(store)
        self._channel_since: dict[str, datetime] = {}   # notifier → owes changes from then on (_register_channels)
        self.notifiers = list(notifiers)
        for notifier in self.notifiers:
            notifier.bind(store)
        self.max_notify_attempts = max_notify_attempts

    def evaluate(self, now: datetime) -> list[AlertChange]:
        """Run all rules at `now`; returns the alerts raised, escalated, updated or ended."""
        now = aware(now, self.tz)
        changes: list[AlertChange] = []
        for rule in self.rules:
            try:
                drafts = self._drafts(rule, rule.evaluate(self.store, now), now)
                changes.extend(self.book.reconcile(rule, drafts, now, self.desk))
            except Exception:   # one broken rule or a store hiccup must not silence the others
                logger.exception("rule %s failed at %s; its alerts are left as they were", rule.name, now.isoformat())
        self._register_channels(now)
        seen = set()
        for change in changes:
            seen.add(change.alert.id)
            if change.kind == ChangeKind.ended.value:
                self._notify_ended(change)
            else:                                        # pending and retried notifications included
                self._notify(change.alert, now)
        try:
            # every alert still being handled: overdue reports, a person's reopening, earlier failures
            active = self.store.list_alerts(statuses=ACTIVE_STATUSES, limit=5000)
            overdue = {a.id for a in self.desk.sweep(now, alerts=active)}
            for alert in active:
                if alert.id in seen and alert.id not in overdue:
                    continue
                if alert.id in overdue:
                    changes.append(AlertChange(alert, ChangeKind.overdue.value))
                self._notify(alert, now)
        except Exception:
            logger.exception("deadline check failed at %s; it runs again at the next evaluation", now.isoformat())
        for notifier in self.notifiers:
            try:
                notifier.flush(now)
            except Exception:
                logger.exception("notifier %s could not send what it collected; it tries again next time", notifier.name)
        self.store.set_state(self.LAST_RUN_KEY, now.isoformat())
        logger.log(logging.INFO if changes else logging.DEBUG,
                   "warning evaluation at %s: %s", now.isoformat(), _tally(changes))
        return changes

    def _drafts(self, rule: Rule, findings: list[Finding], now: datetime) -> dict[str, Alert]:
        drafts = {}
        for finding in findings:
            context = self.describer.describe(finding)
            region_code = context.region.code if context.region else None
            raised, steps = self._raise(rule, finding, context.examples)
            level = self.grader.grade(raised, region_code)
            downgraded = level is not raised
            if downgraded:
                place = context.region.name if context.region else region_code
                steps.append(LevelAdjustment(kind="region", change=-1, level=level,
                                             reason=f"事发地（{place}）不在本辖区"))
            if level is None:
                logger.debug("finding %s/%s dropped: 蓝 outside the home region (%s)",
                             rule.name, finding.group_id, region_code)
                continue
            basis = explain(finding, rule.thresholds(finding), rule.description, steps, level)
            draft = self.factory.build(finding, context, level, now, downgraded=downgraded, basis=basis)
            drafts[finding.group_id] = self.router.route(draft)
        return drafts

    def _raise(self, rule: Rule, finding: Finding, examples) -> tuple[AlertLevel, list[LevelAdjustment]]:
        """The finding's level after the `grading:` raises it earns (at most max_raise, never above 红)."""
        adjuster = self.adjusters[rule.name]
        level = AlertLevel.parse(finding.level)
        steps: list[LevelAdjustment] = []
        raised = 0
        for found in adjuster.raises(self.store, finding, examples):
            up = higher(level)
            if raised >= adjuster.settings.max_raise:
                steps.append(LevelAdjustment(kind=found.kind, change=0, level=level,
                                             reason=f"{found.reason}（已达上调上限 {adjuster.settings.max_raise} 级）"))
            elif up is None:
                steps.append(LevelAdjustment(kind=found.kind, change=0, level=level,
                                             reason=f"{found.reason}（已是最高级）"))
            else:
                level, raised = up, raised + 1
                steps.append(LevelAdjustment(kind=found.kind, change=1, level=level, reason=found.reason))
        return level, steps

    CHANNELS_KEY = "notify.channels"
    CHANNEL_GRACE = timedelta(hours=1)

    def _register_channels(self, now: datetime) -> None:
        """When each channel first took part (store state). A channel added later owes only changes from
        an hour before that, not every month-old alert still open."""
        try:
            known = json.loads(self.store.get_state(self.CHANNELS_KEY) or "{}")
        except ValueError:
            known = {}
        added = {n.name: now.isoformat() for n in self.notifiers if n.name not in known}
        if added:
            self.store.set_state(self.CHANNELS_KEY, json.dumps(known | added, ensure_ascii=False, sort_keys=True))
        self._channel_since = {name: datetime.fromisoformat(at) - self.CHANNEL_GRACE
                               for name, at in (known | added).items()}

    def _notify(self, alert: Alert, now: datetime) -> None:
        """Send what each notifier still owes for this alert; record successes and failures in its history."""
        touched = False
        for notifier in self.notifiers:
            kind = pending_notification(alert, notifier.name, self.max_notify_attempts,
                                        since=self._channel_since.get(notifier.name))
            if kind is None or not notifier.accepts(alert) or not notifier.ready(alert, now):
                continue
            previous = _previous_level(alert) if kind == "escalated" else None
            try:
                notifier.send(alert, AlertChange(alert, kind, previous))
            except Exception as exc:
                logger.warning("notifier %s failed for alert %s: %s", notifier.name, alert.id, exc)
                record(alert, NOTIFY_FAILED, now, notifier=notifier.name, level=alert.level, change=kind,
                       error=str(exc)[:500])
                if pending_notification(alert, notifier.name, self.max_notify_attempts,
                                        since=self._channel_since.get(notifier.name)) is None:
                    # that was the last attempt: keep it for an operator (`yuqing notify dead-letters`)
                    letter = self.dead_letters.add(alert, notifier.name, kind, str(exc), self.max_notify_attempts, now)
                    record(alert, DEAD_LETTERED, now, notifier=notifier.name, change=kind, dead_letter=letter.id)
            else:
                record(alert, NOTIFIED, now, notifier=notifier.name, level=alert.level, change=kind)
                self.dead_letters.discard(alert.id, notifier.name)   # a later success supersedes a letter
            touched = True
        if touched:
            self.store.upsert_alert(alert)


    def _notify_ended(self, change: AlertChange) -> None:
        """Tell the channels that keep a record (the file notifier) that the episode ended; best effort,
        never retried: an ended episode is no news to send again."""
        for notifier in self.notifiers:
            if not notifier.accepts(change.alert):
                continue
            try:
                notifier.send_ended(change.alert, change)
            except Exception as exc:
                logger.warning("notifier %s could not record the end of alert %s: %s",
                               notifier.name, change.alert.id, exc)


def _previous_level(alert: Alert) -> str | None:
    for entry in reversed(alert.history):
        if entry.get("event") == "escalated":
            return entry.get("from")
    return None


def _tally(changes: list[AlertChange]) -> str:
    counts: dict[str, int] = {}
    for change in changes:
        counts[change.kind] = counts.get(change.kind, 0) + 1
    return ", ".join(f"{n} {kind}" for kind, n in sorted(counts.items())) or "no changes"
