"""The demo's self-check: when the incident began, when the system warned, against the demo's targets.

The corpus marks incident posts (`"incident": true` in yuqing/demo/corpus/posts.jsonl).
That answer key is read here, after the run, for the summary and the self-check
only; detection never sees it. An alert counts as the incident's when one of its
representative posts is an incident post.

Targets (issue 8), all in simulated time:
  * first alert (any level) on the incident's first day, within 3 h of its third post;
  * 红 by the end of the incident's peak hour (the busiest hour of its busiest day);
  * no alert at all on the quiet days (the days before the incident's first post);
  * the 07:30 briefing of the peak day lists an incident alert open by then.
"""
from __future__ import annotations

import html
from collections import Counter
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, tzinfo
from pathlib import Path
from urllib.parse import urlsplit

from index.schema import Alert, AlertLevel
from index.store import PostQuery, Store

FIRST_ALERT_WITHIN = timedelta(hours=3)
BRIEFING_TIME = (7, 30)


@dataclass
class Target:
    name: str
    met: bool
    detail: str


@dataclass
class Timeline:
    first_post: datetime | None = None
    third_post: datetime | None = None
    peak_hour: datetime | None = None             # start of the busiest incident hour
    first_alert: datetime | None = None
    first_alert_level: str | None = None
    levels: dict[str, datetime] = field(default_factory=dict)   # level → when the incident first reached it
    incident_alerts: list[str] = field(default_factory=list)
    quiet_days: list[date] = field(default_factory=list)
    quiet_day_alerts: list[dict] = field(default_factory=list)
    briefing: Path | None = None                  # the peak day's 07:30 briefing
    briefing_lists_alert: bool = False
    targets: list[Target] = field(default_factory=list)

    @property
    def delay(self) -> timedelta | None:
        """First alert after the third incident post."""
        if self.first_alert is None or self.third_post is None:
            return None
        return self.first_alert - self.third_post

    def as_dict(self) -> dict:
        iso = lambda t: t.isoformat() if t else None   # noqa: E731
        return {"first_post": iso(self.first_post), "third_post": iso(self.third_post),
                "peak_hour": iso(self.peak_hour), "first_alert": iso(self.first_alert),
                "first_alert_level": self.first_alert_level,
                "delay_minutes": round(self.delay.total_seconds() / 60, 1) if self.delay is not None else None,
                "levels": {k: iso(v) for k, v in self.levels.items()}, "incident_alerts": self.incident_alerts,
                "quiet_days": [d.isoformat() for d in self.quiet_days], "quiet_day_alerts": self.quiet_day_alerts,
                "briefing": str(self.briefing) if self.briefing else None,
                "briefing_lists_alert": self.briefing_lists_alert,
                "targets": [{"name": t.name, "met": t.met, "detail": t.detail} for t in self.targets]}

    def render(self) -> list[str]:
        fmt = lambda t: f"{t:%m-%d %H:%M}" if t else "—"   # noqa: E731
        lines = ["  incident timeline (simulated time):",
                 f"    首条事件帖 {fmt(self.first_post)}   第三条 {fmt(self.third_post)}   "
                 f"高峰时段 {fmt(self.peak_hour)}",
                 f"    首次预警 {fmt(self.first_alert)}"
                 + (f" [{self.first_alert_level}]，第三条事件帖后 {_minutes(self.delay)}" if self.first_alert else
                    "：无")]
        reached = "，".join(f"{lvl} {fmt(t)}" for lvl, t in self.levels.items()) or "无"
        lines.append(f"    达到的级别 {reached}")
        quiet = "、".join(f"{d:%m-%d}" for d in self.quiet_days)
        lines.append(f"    平静日（{quiet}）预警 {len(self.quiet_day_alerts)} 条"
                     + "".join(f"\n      [{a['level']}] {a['title']} ({a['first_seen'][:16]})"
                               for a in self.quiet_day_alerts))
        lines.append("  targets:")
        for t in self.targets:
            lines.append(f"    [{'达成' if t.met else '未达成'}] {t.name}：{t.detail}")
        return lines


def _minutes(delta: timedelta | None) -> str:
    if delta is None:
        return "—"
    minutes = int(delta.total_seconds() // 60)
    sign = "-" if minutes < 0 else ""
    return f"{sign}{abs(minutes) // 60} 小时 {abs(minutes) % 60} 分"


def incident_post_ids(records: list[dict], store: Store) -> set[str]:
    """Stored ids of the incident's posts: Weibo by native id, pages by URL path."""
    paths = {r["path"] for r in records if r["incident"] and r["channel"] != "weibo" and r.get("path")}
    ids = {f"weibo:{r['id']}" for r in records if r["incident"] and r["channel"] == "weibo"}
    for post in store.iter_posts(PostQuery()):
        if post.url and post.platform != "weibo" and urlsplit(post.url).path in paths:
            ids.add(post.id)
    return ids


def build_timeline(records: list[dict], store: Store, alerts: list[Alert], changes: list[dict],
                   briefings: list[tuple[datetime, Path]], tz: tzinfo) -> Timeline:
    """`changes`: what each warning run changed, as {"at", "kind", "alert", "level"} in time order."""
    t = Timeline()
    incident = sorted(datetime.fromisoformat(r["published_at"]).astimezone(tz) for r in records if r["incident"])
    if incident:
        t.first_post = incident[0]
        t.third_post = incident[2] if len(incident) >= 3 else incident[-1]
        peak_day = Counter(p.date() for p in incident).most_common(1)[0][0]
        hours = Counter(p.replace(minute=0, second=0, microsecond=0) for p in incident if p.date() == peak_day)
        t.peak_hour = min(hours, key=lambda h: (-hours[h], h))
    days = sorted({datetime.fromisoformat(r["published_at"]).astimezone(tz).date() for r in records})
    t.quiet_days = [d for d in days if t.first_post is None or d < t.first_post.date()]

    ids = incident_post_ids(records, store)
    mine = [a for a in alerts if ids & set(a.post_ids)]
    t.incident_alerts = [a.id for a in mine]
    if mine:
        first = min(mine, key=lambda a: a.first_seen)
        t.first_alert = first.first_seen.astimezone(tz)
    mine_ids = set(t.incident_alerts)
    for change in changes:
        if change["alert"] not in mine_ids or change["kind"] not in ("new", "escalated"):
            continue
        if t.first_alert_level is None:
            t.first_alert_level = change["level"]
        rank = AlertLevel.parse(change["level"]).rank
        for level in list(AlertLevel)[: rank + 1]:   # reaching 橙 means 黄 and 蓝 were reached too
            t.levels.setdefault(level.value, change["at"])
    t.levels = dict(sorted(t.levels.items(), key=lambda kv: AlertLevel.parse(kv[0]).rank))
    t.quiet_day_alerts = [{"level": a.level, "title": a.title, "first_seen": a.first_seen.isoformat()}
                          for a in alerts if a.first_seen.astimezone(tz).date() in t.quiet_days]
    if t.peak_hour is not None:
        brief_at = t.peak_hour.replace(hour=BRIEFING_TIME[0], minute=BRIEFING_TIME[1])
        t.briefing = next((p for at, p in briefings if at == brief_at), None)
        if t.briefing is not None and t.briefing.exists():
            text = t.briefing.read_text(encoding="utf-8")
            open_then = [a for a in mine if a.first_seen <= brief_at]
            t.briefing_lists_alert = any(html.escape(a.title, quote=False) in text or a.title in text
                                         for a in open_then)
    t.targets = targets(t)
    return t


def targets(t: Timeline) -> list[Target]:
    fmt = lambda x: f"{x:%m-%d %H:%M}" if x else "—"   # noqa: E731
    out = []
    if t.first_post is not None:
        day = t.first_post.date()
        deadline = t.third_post + FIRST_ALERT_WITHIN
        met = t.first_alert is not None and t.first_alert.date() == day and t.first_alert <= deadline
        out.append(Target(f"首次预警在 {day:%m-%d}、第三条事件帖后 3 小时内（{fmt(deadline)} 前）", met,
                          f"首次预警 {fmt(t.first_alert)}，距第三条事件帖 {_minutes(t.delay)}"))
    if t.peak_hour is not None:
        peak_end = t.peak_hour + timedelta(hours=1)
        red = t.levels.get(AlertLevel.red.value)
        out.append(Target(f"高峰时段结束（{fmt(peak_end)}）前升至红色", red is not None and red <= peak_end,
                          f"红色 {fmt(red)}" if red else f"最高级别 {next(reversed(t.levels), '无')}"))
        out.append(Target(f"{t.peak_hour:%m-%d} 07:30 日报列出未结预警", t.briefing_lists_alert,
                          str(t.briefing.name) if t.briefing else "该时刻没有日报"))
    out.append(Target("平静日无预警", not t.quiet_day_alerts, f"{len(t.quiet_day_alerts)} 条"))
    return out
