"""From findings to alerts with state: episodes, dedup, escalation, end after quiet.

An alert is one *episode* of one rule × group: its id is rule + group + the
episode's start, so re-evaluating the same situation updates the alert instead
of raising a new one. A higher level escalates it (history entry, re-notify);
an equal or lower level only refreshes its numbers; after the condition has
been quiet for the rule's quiet period the episode ends and a later spike is a
new alert. Which episodes are open is kept in the store (Store state), so a
new process continues exactly where the last one stopped.
"""
from __future__ import annotations

import dataclasses
import json
import logging
import re
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, tzinfo
from enum import Enum
from typing import Any

from index.schema import DEFAULT_TZ, Alert, AlertBasis, AlertExample, AlertLevel, AlertPeak, Post, Region
from index.store import PostQuery, Store

from .grading import higher_than
from .labels import event_subject, platform_label
from .privacy import excerpt, mask, safe_link
from .rules import Finding, Rule

logger = logging.getLogger(__name__)

NEGATIVE = "负面"


class ChangeKind(str, Enum):
    new = "new"
    escalated = "escalated"
    updated = "updated"
    ended = "ended"
    reopened = "reopened"     # the handling status went back from resolved / false positive
    overdue = "overdue"       # a response deadline passed (reported to the agency above)
    reported = "reported"     # a 红 alert reported to the owner's parent at once (直报)


@dataclass
class AlertChange:
    alert: Alert
    kind: str                          # a ChangeKind value
    previous_level: str | None = None  # set when escalated

    @property
    def notifies(self) -> bool:
        return self.kind in NOTIFYING_KINDS


# --- history ---------------------------------------------------------------
# Events written to Alert.history, oldest first (warning.lifecycle adds the handling events).
RAISED, ESCALATED, ENDED, NOTIFIED, NOTIFY_FAILED = "raised", "escalated", "ended", "notified", "notify_failed"
DEAD_LETTERED = "dead_lettered"   # a notifier's last attempt failed; the message waits in warning.deadletters
# history event → the change a notifier tells of; the most important owed change names the message
NOTIFYING_EVENTS = {RAISED: ChangeKind.new.value, ESCALATED: ChangeKind.escalated.value,
                    "reopened": ChangeKind.reopened.value, "overdue": ChangeKind.overdue.value,
                    "reported": ChangeKind.reported.value}
NOTIFYING_KINDS = frozenset(NOTIFYING_EVENTS.values())
_PRIORITY = (ChangeKind.escalated.value, ChangeKind.new.value, ChangeKind.reopened.value,
             ChangeKind.reported.value, ChangeKind.overdue.value)


def record(alert: Alert, event: str, at: datetime, **details: Any) -> dict[str, Any]:
    entry = {"at": at.isoformat(), "event": event, **details}
    alert.history.append(entry)
    return entry


def has_ended(alert: Alert) -> bool:
    """Whether the alert's episode has ended (a later raise on the same group is a new alert)."""
    return alert.ended_at is not None or any(entry.get("event") == ENDED for entry in alert.history)


def pending_notification(alert: Alert, notifier: str, max_attempts: int,
                         since: datetime | None = None) -> str | None:
    """The change kind `notifier` still owes for the alert, or None.

    Owed: every notifying change (raised, escalated, reopened, overdue, reported) recorded after
    this notifier's last successful notification; the message names the most important of them
    (escalated > new > reopened > reported > overdue). The history is append-only, so this holds
    across restarts: a change is told once, never again while nothing changes. Failed attempts
    are retried at later evaluations, up to max_attempts per change. `since`: changes recorded
    before it are not owed (a channel added after them).
    """
    owed: list[str] = []
    failures = 0
    for entry in alert.history:
        event = entry.get("event")
        if event in NOTIFYING_EVENTS:
            if since is not None and datetime.fromisoformat(entry["at"]) < since:
                continue
            owed.append(NOTIFYING_EVENTS[event])
            failures = 0
        elif entry.get("notifier") == notifier:
            if event == NOTIFIED:
                owed, failures = [], 0
            elif event == NOTIFY_FAILED:
                failures += 1
    if not owed or failures >= max_attempts:
        return None
    return next(kind for kind in _PRIORITY if kind in owed)


# --- what the posts behind a finding say ------------------------------------
@dataclass
class DrivingEvent:
    """The one event that holds a large share of a topic-, region- or scheme-wide finding's posts."""
    event_id: str
    title: str
    count: int
    share: float


@dataclass
class FindingContext:
    region: Region | None = None
    topic: str | None = None
    keywords: list[str] = field(default_factory=list)
    post_ids: list[str] = field(default_factory=list)
    examples: list[AlertExample] = field(default_factory=list)
    driver: DrivingEvent | None = None


EXAMPLE_CHARS = 80   # how much of a post's text an alert shows


def example_of(post: Post, tz: tzinfo = DEFAULT_TZ) -> AlertExample:
    """A post as an alert shows it: the first 80 characters of title + content, personal data masked."""
    return AlertExample(
        post_id=post.id, platform=str(post.platform), platform_label=platform_label(post.platform),
        published_at=post.published_at.astimezone(tz), url=safe_link(post.url),
        text=excerpt(post.text, EXAMPLE_CHARS), author=mask(post.author.name) or None,
        followers=post.author.followers, engagement=post.engagement.total, sentiment=post.sentiment_label, polarity=post.polarity_label,
    )


class FindingDescriber:
    """Asks the store (aggregations and top hits only) where, about what and which posts a finding is."""

    def __init__(self, store: Store, *, keyword_count: int = 10, post_count: int = 5,
                 majority: float = 0.5, driver_share: float = 0.3, tz: tzinfo = DEFAULT_TZ):
        self.store = store
        self.keyword_count = keyword_count
        self.post_count = post_count
        self.majority = majority
        self.driver_share = driver_share
        self.tz = tz

    def describe(self, finding: Finding) -> FindingContext:
        query = finding.query
        driver = self.driving_event(finding)
        posts = self.representative_posts(query, driver)
        return FindingContext(
            region=self.dominant_region(query, finding.region_code),
            topic=finding.topic or self.dominant_topic(query),
            keywords=self.keywords(query),
            post_ids=[post.id for post in posts],
            examples=[example_of(post, self.tz) for post in posts],
            driver=driver,
        )

    def driving_event(self, finding: Finding) -> DrivingEvent | None:
        """For a finding over a whole topic, region, platform or scheme: the event holding at least
        `driver_share` of its posts (a spike that is one incident reads as that incident)."""
        if finding.group_by not in ("topic", "region", "platform", "scheme", "none"):
            return None
        buckets = [b for b in self.store.terms(finding.query, "event_id", size=1) if b.key]
        if not buckets:
            return None
        total = int(finding.metrics.get("count") or 0) or self.store.count(finding.query)
        top = buckets[0]
        if not total or top.count < self.driver_share * total or top.count < 2:
            return None
        events = self.store.get_events([top.key])
        title = events[0].title if events else top.key
        return DrivingEvent(top.key, title, top.count, min(1.0, top.count / total))

    def dominant_topic(self, query: PostQuery) -> str | None:
        buckets = self.store.terms(query, "topic", size=1)
        return buckets[0].key if buckets else None

    def dominant_region(self, query: PostQuery, known_code: str | None = None) -> Region | None:
        """The most specific region (district, else city, else province) holding a majority of located posts."""
        code = known_code or self._dominant_code(query)
        if not code:
            return None
        hits = self.store.search(dataclasses.replace(query, region_codes=(code,)), size=1, sort="newest").hits
        if not hits or hits[0].post.region is None:
            return None
        return region_at(hits[0].post.region, code)

    def _dominant_code(self, query: PostQuery) -> str | None:
        buckets = [b for b in self.store.terms(query, "region_code", size=50) if b.key]
        located = sum(b.count for b in buckets)
        if not located:
            return None
        for length in (6, 4, 2):   # district, city, province code lengths
            per_prefix: Counter[str] = Counter()
            for bucket in buckets:
                if len(bucket.key) >= length:
                    per_prefix[bucket.key[:length]] += bucket.count
            if per_prefix:
                prefix, count = per_prefix.most_common(1)[0]
                # No majority anywhere: settle for the province with most posts.
                if count > self.majority * located or length == 2:
                    return prefix
        return None

    def keywords(self, query: PostQuery) -> list[str]:
        """Hot words of the finding's posts; words carrying personal data (a phone number) are left out."""
        words = [b.key for b in self.store.terms(query, "keywords", size=self.keyword_count) if _shareable(b.key)]
        if len(words) < self.keyword_count:
            # Fall back on segmented tokens; single characters and numbers say little.
            for bucket in self.store.terms(query, "tokens", size=self.keyword_count * 4):
                token = bucket.key.strip()
                if len(token) >= 2 and not token.isdigit() and token not in words and _shareable(token):
                    words.append(token)
                if len(words) >= self.keyword_count:
                    break
        return words[: self.keyword_count]

    def representative_posts(self, query: PostQuery, driver: DrivingEvent | None = None) -> list[Post]:
        """The most-engaged posts, negative ones first (those of the driving event before all), newest first."""
        picked: dict[str, Post] = {}
        if driver is not None:
            # at least half of the examples show the incident, the rest what else the group holds
            own = dataclasses.replace(query, event_ids=(driver.event_id,))
            for hit in self.store.search(own, size=max(1, (self.post_count + 1) // 2), sort="engagement").hits:
                picked.setdefault(hit.post.id, hit.post)
        for candidate in (dataclasses.replace(query, polarities=(NEGATIVE,)), query):
            if len(picked) >= self.post_count:
                break
            for hit in self.store.search(candidate, size=self.post_count, sort="engagement").hits:
                if len(picked) < self.post_count:
                    picked.setdefault(hit.post.id, hit.post)
        return sorted(picked.values(), key=lambda post: post.published_at, reverse=True)


def _shareable(word: str) -> bool:
    return mask(word) == word


def region_at(region: Region, code: str) -> Region:
    """A post's region cut to the level of `code` (2: province, 4: city, 6+: district)."""
    fields: dict[str, Any] = {"province": region.province, "province_code": region.province_code}
    if len(code) >= 4:
        fields |= {"city": region.city, "city_code": region.city_code}
    if len(code) >= 6:
        fields |= {"district": region.district, "district_code": region.district_code}
    return Region(**fields)


def place_name(region: Region | None) -> str:
    """The most specific name of a region, as it reads in a title: 濂溪区."""
    if region is None:
        return ""
    return region.district or region.city or region.province or ""


# --- building and keeping alerts --------------------------------------------
_UNSAFE_ID = re.compile(r"[^\w\-]+")


def alert_id(rule: str, group_id: str, episode_start: datetime, tz: tzinfo = DEFAULT_TZ) -> str:
    """Stable id of one episode: rule.group.start in the office's zone, e.g. volume_spike.环境保护.20240503T1400."""
    group = _UNSAFE_ID.sub("_", group_id).strip("_") or "all"
    return f"{rule}.{group}.{episode_start.astimezone(tz):%Y%m%dT%H%M}"


def stronger(peak: AlertPeak, than: AlertPeak | None) -> bool:
    """Whether `peak` is a stronger moment than `than`: a higher level, else a higher value."""
    if than is None:
        return True
    if AlertLevel.parse(peak.level) is not AlertLevel.parse(than.level):
        return higher_than(peak.level, than.level)
    return peak.value > than.value


class AlertFactory:
    """A draft Alert for a graded finding: id, title, summary, numbers, basis, region, topic, posts."""

    def __init__(self, tz: tzinfo = DEFAULT_TZ):
        self.tz = tz

    def build(self, finding: Finding, context: FindingContext, level: AlertLevel, now: datetime,
              *, downgraded: bool = False, basis: AlertBasis | None = None) -> Alert:
        place = place_name(context.region)
        title = f"{finding.subject}{finding.headline}" + (f"（{place}）" if place else "")
        summary = finding.summary
        if context.driver is not None:
            d = context.driver
            summary += f"来自{event_subject(d.title)}的信息{d.count}条，占{d.share:.0%}。"
        if downgraded:
            summary += "事发地不在本辖区，预警等级下调一级。"
        metrics = dict(finding.metrics)
        if context.driver is not None:
            metrics["driver_share"] = round(context.driver.share, 3)
        return Alert(
            id=alert_id(finding.rule, finding.group_id, now, self.tz),
            rule=finding.rule, rule_type=finding.rule_type, level=level,
            title=title, summary=summary, topic=context.topic, region=context.region,
            keywords=context.keywords, post_ids=context.post_ids, examples=context.examples,
            schemes=sorted(set(finding.query.schemes) | ({finding.group_key} if finding.group_by == "scheme"
                                                           and finding.group_key else set())),
            metrics=metrics, basis=basis,
            peak=AlertPeak(at=now, level=level, value_key=finding.value_key, value=round(finding.value, 3),
                           summary=summary, metrics=metrics, basis=basis),
            window_start=finding.window_start, window_end=finding.window_end,
            first_seen=now, last_seen=now,
        )


class AlertBook:
    """Open episodes per rule, and the alert state machine, persisted in the store."""

    STATE_PREFIX = "warning.episodes."

    def __init__(self, store: Store):
        self.store = store

    def open_episodes(self, rule: str) -> dict[str, str]:
        """group id -> alert id of the rule's open episodes."""
        raw = self.store.get_state(self.STATE_PREFIX + rule)
        if not raw:
            return {}
        try:
            episodes = json.loads(raw)
        except json.JSONDecodeError:
            logger.error("episode state of rule %s is not JSON (%r); starting it afresh", rule, raw[:80])
            return {}
        return {str(k): str(v) for k, v in episodes.items()} if isinstance(episodes, dict) else {}

    def _save_episodes(self, rule: str, episodes: dict[str, str]) -> None:
        self.store.set_state(self.STATE_PREFIX + rule, json.dumps(episodes, ensure_ascii=False, sort_keys=True))

    def reconcile(self, rule: Rule, drafts: dict[str, Alert], now: datetime, desk: Any = None) -> list[AlertChange]:
        """Apply one evaluation of `rule` (drafts per group id) and return what changed.

        Alerts are written before the episode index, so a crash in between
        leaves an alert the next run finds again by its id, never a lost one.
        `desk` (warning.lifecycle.AlertDesk) sets deadlines, reopens and reports
        raised and escalated alerts before they are written, in the same write.
        """
        episodes = self.open_episodes(rule.name)
        before = dict(episodes)
        changes: list[AlertChange] = []

        for group_id, draft in drafts.items():
            existing = self.store.get_alert(episodes[group_id]) if group_id in episodes else None
            if existing is None:
                existing = self.store.get_alert(draft.id)   # same run repeated after a crash
            if existing is None or has_ended(existing):
                record(draft, RAISED, now, level=draft.level, metrics=draft.metrics)
                if desk is not None:
                    desk.on_raised(draft, now)
                self.store.upsert_alert(draft)
                episodes[group_id] = draft.id
                changes.append(AlertChange(draft, ChangeKind.new.value))
                logger.info("alert raised: %s [%s] %s", draft.id, draft.level, draft.title)
            else:
                change = self._update(existing, draft, now)
                if desk is not None and change.kind == ChangeKind.escalated.value:
                    desk.on_escalated(existing, now)
                changes.append(change)
                self.store.upsert_alert(existing)
                episodes[group_id] = existing.id

        for group_id, alert_id_ in list(episodes.items()):
            if group_id in drafts:
                continue
            alert = self.store.get_alert(alert_id_)
            if alert is None:
                logger.warning("open episode %s of rule %s has no alert in the store; dropping it",
                               alert_id_, rule.name)
                del episodes[group_id]
            elif now - alert.last_seen >= rule.quiet_period:
                record(alert, ENDED, now, quiet_since=alert.last_seen.isoformat())
                alert.ended_at = now
                self.store.upsert_alert(alert)
                del episodes[group_id]
                changes.append(AlertChange(alert, ChangeKind.ended.value))
                logger.info("alert episode ended: %s (quiet since %s)", alert.id, alert.last_seen.isoformat())

        if episodes != before:
            self._save_episodes(rule.name, episodes)
        return changes

    @staticmethod
    def _update(alert: Alert, draft: Alert, now: datetime) -> AlertChange:
        alert.last_seen = now
        alert.window_start, alert.window_end = draft.window_start, draft.window_end
        # Summary, numbers and basis all describe this evaluation; the strongest one so far is
        # kept apart, whole, as the peak (which explains the level when the situation eased).
        alert.summary, alert.metrics, alert.basis = draft.summary, draft.metrics, draft.basis
        if draft.peak is not None and stronger(draft.peak, alert.peak):
            alert.peak = draft.peak
        alert.keywords = draft.keywords or alert.keywords
        alert.post_ids = draft.post_ids or alert.post_ids
        alert.examples = draft.examples or alert.examples
        alert.region = alert.region or draft.region
        alert.topic = alert.topic or draft.topic
        if not higher_than(draft.level, alert.level):
            return AlertChange(alert, ChangeKind.updated.value)
        previous = alert.level
        alert.level = draft.level
        alert.title = draft.title
        details: dict[str, Any] = {"from": previous, "level": draft.level, "metrics": draft.metrics}
        record(alert, ESCALATED, now, **details)   # a resolved alert reopens: warning.lifecycle
        logger.info("alert escalated: %s %s → %s", alert.id, previous, draft.level)
        return AlertChange(alert, ChangeKind.escalated.value, previous_level=previous)
