"""Plain-text and Markdown renderings of an alert, shared by file and email notifiers."""
from __future__ import annotations

from datetime import datetime, tzinfo

from index.schema import DEFAULT_TZ, Alert

from ..alerts import AlertChange
from ..labels import CHANGE_LABELS, LEVEL_NAMES, STATUS_LABELS, metric_label, metric_value


def _time(value: datetime, tz: tzinfo) -> str:
    return value.astimezone(tz).strftime("%Y-%m-%d %H:%M")


def subject_line(alert: Alert, change: AlertChange) -> str:
    return f"【{LEVEL_NAMES.get(alert.level, alert.level)}·{CHANGE_LABELS.get(change.kind, change.kind)}】{alert.title}"


def metric_lines(alert: Alert) -> list[str]:
    lines = []
    for key, value in alert.metrics.items():
        lines.append(f"{metric_label(key)}：{metric_value(key, value)}")
    return lines


def alert_markdown(alert: Alert, change: AlertChange | None = None, tz: tzinfo = DEFAULT_TZ) -> str:
    """A readable one-page record of the alert, rewritten on every notification; times in `tz`."""
    lines = [f"# {alert.title}", ""]
    if change is not None:
        lines += [f"> {CHANGE_LABELS.get(change.kind, change.kind)}"
                  + (f"：{change.previous_level} → {alert.level}" if change.previous_level else ""), ""]
    lines += [
        f"- 预警等级：{LEVEL_NAMES.get(alert.level, alert.level)}",
        f"- 处置状态：{STATUS_LABELS.get(alert.status, alert.status)}",
        f"- 责任单位：{alert.agency_name or alert.agency or '未分派'}",
        f"- 话题：{alert.topic or '—'}",
        f"- 地区：{alert.region.name if alert.region else '—'}",
        f"- 统计时段：{_time(alert.window_start, tz)} 至 {_time(alert.window_end, tz)}",
        f"- 首次发现：{_time(alert.first_seen, tz)}；最近触发：{_time(alert.last_seen, tz)}",
        f"- 规则：{alert.rule}（{alert.rule_type}）",
        f"- 预警编号：{alert.id}",
        "",
        "## 摘要", "", alert.summary or "—", "",
        "## 指标", "", *[f"- {line}" for line in metric_lines(alert)], "",
        "## 关键词", "", "、".join(alert.keywords) or "—", "",
        "## 代表性信息", "", *[f"- {pid}" for pid in alert.post_ids], "",
        "## 处置记录", "",
    ]
    for entry in alert.history:
        details = ", ".join(f"{k}={v}" for k, v in entry.items() if k not in ("at", "event", "metrics"))
        lines.append(f"- {entry.get('at', '')} {entry.get('event', '')} {details}".rstrip())
    return "\n".join(lines) + "\n"


def alert_text(alert: Alert, change: AlertChange, tz: tzinfo = DEFAULT_TZ) -> str:
    """Plain-text body for mail and chat notifiers."""
    return alert_markdown(alert, change, tz).replace("# ", "").replace("> ", "")
