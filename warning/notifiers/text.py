"""Plain-text and Markdown renderings of an alert, shared by file and email notifiers.

Both say the same things: the episode's state (进行中 / 已平息), why the alert has its level,
the latest evaluation's summary and numbers (one moment, labelled with its time), the peak
apart and labelled as such, and the example posts with their masked text, platform, time
and link. Post text is hostile: in Markdown it is HTML-escaped and cannot open a link.
"""
from __future__ import annotations

import html
from collections.abc import Callable
from datetime import datetime, tzinfo

from index.schema import DEFAULT_TZ, Alert, AlertExample

from ..alerts import AlertChange
from ..explain import episode_state, level_reason, peak_is_past
from ..grading import count_text
from ..labels import CHANGE_LABELS, LEVEL_NAMES, STATUS_LABELS, metric_label, metric_value

Escape = Callable[[str], str]


def _time(value: datetime, tz: tzinfo) -> str:
    return value.astimezone(tz).strftime("%Y-%m-%d %H:%M")


def markdown_escape(text: str) -> str:
    """Text safe inside Markdown: no raw HTML, no link or emphasis syntax."""
    escaped = html.escape(text, quote=False)
    for ch in "\\`*_[]()#|!":
        escaped = escaped.replace(ch, "\\" + ch)
    return escaped


def _plain(text: str) -> str:
    return text


def subject_line(alert: Alert, change: AlertChange) -> str:
    return f"【{LEVEL_NAMES.get(alert.level, alert.level)}·{CHANGE_LABELS.get(change.kind, change.kind)}】{alert.title}"


def metric_lines(alert: Alert, metrics: dict[str, float] | None = None) -> list[str]:
    """The numbers of one moment (the latest evaluation unless given); peak_* keys of older alerts left out."""
    shown = alert.metrics if metrics is None else metrics
    return [f"{metric_label(key)}：{metric_value(key, value)}" for key, value in shown.items()
            if not key.startswith("peak_")]


def example_lines(example: AlertExample, tz: tzinfo, esc: Escape = _plain) -> list[str]:
    """One representative post: where, when, who, then its (masked) text and link."""
    facts = [example.platform_label or example.platform, example.published_at.astimezone(tz).strftime("%m-%d %H:%M")]
    if example.author:
        facts.append(esc(example.author) + (f"（粉丝{count_text(example.followers)}）" if example.followers else ""))
    if example.engagement:
        facts.append(f"互动{count_text(example.engagement)}")
    if example.polarity or example.sentiment:
        facts.append(example.polarity or example.sentiment)
    lines = [f"- 【{' · '.join(facts)}】{esc(example.text)}"]
    if example.url:
        lines.append(f"  链接：<{example.url}>" if esc is not _plain else f"  链接：{example.url}")
    return lines


def deadline_lines(alert: Alert, tz: tzinfo) -> list[str]:
    """The response deadlines still running (agencies.yaml `deadlines:`)."""
    lines = []
    if alert.ack_due is not None:
        lines.append(f"- 签收时限：{_time(alert.ack_due, tz)} 前")
    if alert.resolve_due is not None:
        lines.append(f"- 办结时限：{_time(alert.resolve_due, tz)} 前")
    return lines


def alert_lines(alert: Alert, change: AlertChange | None, tz: tzinfo, esc: Escape) -> list[str]:
    lines = [f"# {esc(alert.title)}", ""]
    if change is not None:
        lines += [f"> {CHANGE_LABELS.get(change.kind, change.kind)}"
                  + (f"：{change.previous_level} → {alert.level}" if change.previous_level else ""), ""]
    lines += [
        f"- 预警等级：{LEVEL_NAMES.get(alert.level, alert.level)}",
        f"- 预警状态：{episode_state(alert, tz)}",
        f"- 处置状态：{STATUS_LABELS.get(alert.status, alert.status)}",
        f"- 责任单位：{alert.agency_name or alert.agency or '未分派'}"
        + (f"（已报送：{'、'.join(alert.reported_to)}）" if alert.reported_to else ""),
        *([f"- 承办人：{esc(alert.assignee)}"] if alert.assignee else []),
        *deadline_lines(alert, tz),
        f"- 话题：{esc(alert.topic or '—')}",
        f"- 地区：{alert.region.name if alert.region else '—'}",
        f"- 统计时段：{_time(alert.window_start, tz)} 至 {_time(alert.window_end, tz)}",
        f"- 首次发现：{_time(alert.first_seen, tz)}；最近触发：{_time(alert.last_seen, tz)}",
        f"- 规则：{alert.rule}（{alert.rule_type}）",
        f"- 预警编号：{alert.id}",
        "",
        "## 等级依据", "", esc(level_reason(alert) or "—"), "",
        f"## 最新研判（{_time(alert.last_seen, tz)}）", "", esc(alert.summary or "—"), "",
        *[f"- {line}" for line in metric_lines(alert)],
    ]
    if alert.basis is not None and peak_is_past(alert):
        lines += [f"- 依据：{esc(alert.basis.text)}"]
    lines.append("")
    if alert.peak is not None and peak_is_past(alert):
        peak = alert.peak
        lines += [f"## 峰值（{_time(peak.at, tz)}，{LEVEL_NAMES.get(peak.level, peak.level)}）", "",
                  esc(peak.summary or "—"), "", *[f"- {line}" for line in metric_lines(alert, peak.metrics)], ""]
    lines += ["## 关键词", "", esc("、".join(alert.keywords)) or "—", "", "## 代表性信息", ""]
    if alert.examples:
        for example in alert.examples:
            lines += example_lines(example, tz, esc)
    else:
        lines += [f"- {esc(pid)}" for pid in alert.post_ids]
    lines += ["", "## 处置记录", ""]
    for entry in alert.history:
        details = ", ".join(f"{k}={v}" for k, v in entry.items() if k not in ("at", "event", "metrics"))
        lines.append(esc(f"- {entry.get('at', '')} {entry.get('event', '')} {details}".rstrip()))
    return lines


def alert_markdown(alert: Alert, change: AlertChange | None = None, tz: tzinfo = DEFAULT_TZ) -> str:
    """A readable one-page record of the alert, rewritten on every notification; times in `tz`."""
    return "\n".join(alert_lines(alert, change, tz, markdown_escape)) + "\n"


def alert_text(alert: Alert, change: AlertChange, tz: tzinfo = DEFAULT_TZ) -> str:
    """Plain-text body for mail and chat notifiers (no escaping: it is never rendered as markup)."""
    lines = alert_lines(alert, change, tz, _plain)
    return "\n".join(line.removeprefix("# ").removeprefix("## ").removeprefix("> ") for line in lines) + "\n"


def alert_html(alert: Alert, change: AlertChange | None, tz: tzinfo = DEFAULT_TZ) -> str:
    """The same record as HTML for mail clients; every text is escaped (post text is hostile) and
    links are only the posts' checked http(s) URLs."""
    out = ['<!doctype html><html lang="zh-CN"><head><meta charset="utf-8"></head>'
           '<body style="font-family: sans-serif; line-height: 1.6">']
    in_list = False
    for line in alert_lines(alert, change, tz, _plain):
        if line.startswith(("- ", "  链接：")) and not in_list:
            out.append("<ul>")
            in_list = True
        elif not line.startswith(("- ", "  链接：")) and in_list:
            out.append("</ul>")
            in_list = False
        if line.startswith("# "):
            out.append(f"<h2>{html.escape(line[2:])}</h2>")
        elif line.startswith("## "):
            out.append(f"<h3>{html.escape(line[3:])}</h3>")
        elif line.startswith("> "):
            out.append(f"<p><b>{html.escape(line[2:])}</b></p>")
        elif line.startswith("  链接："):
            url = line.removeprefix("  链接：").strip()
            out.append(f'<li style="list-style: none"><a href="{html.escape(url)}">{html.escape(url)}</a></li>')
        elif line.startswith("- "):
            out.append(f"<li>{html.escape(line[2:])}</li>")
        elif line.strip():
            out.append(f"<p>{html.escape(line)}</p>")
    if in_list:
        out.append("</ul>")
    out.append("</body></html>")
    return "\n".join(out) + "\n"
