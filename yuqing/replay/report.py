"""The replay's figures as plain-text tables (Chinese and English headers)."""
from __future__ import annotations

import unicodedata
from collections.abc import Sequence
from datetime import datetime, tzinfo

from .harness import ReplayResult

FIGURES = (
    ("recall_500", "召回率（500转以上）", "recall of cascades reaching 500 reposts"),
    ("median_delay_after_100_min", "100转后发现延迟中位数（分钟）", "median delay after the 100th repost"),
    ("p90_delay_after_100_min", "100转后发现延迟 P90（分钟）", "p90 delay after the 100th repost"),
    ("median_delay_from_first_min", "首发后发现延迟中位数（分钟）", "median delay from the original"),
    ("p90_delay_from_first_min", "首发后发现延迟 P90（分钟）", "p90 delay from the original"),
    ("false_alerts_per_day", "每模拟日误报数", "false alerts per simulated day"),
    ("wall_s_per_sim_day", "每模拟日耗时（秒）", "wall seconds per simulated day"),
    ("posts_per_sim_day", "每模拟日帖子数", "posts per simulated day"),
    ("cascades", "注入事件数", "cascades injected"),
    ("reached_100", "达到100转", "reached 100 reposts"),
    ("reached_500", "达到500转", "reached 500 reposts"),
    ("detected", "已发现事件", "cascades detected"),
    ("alerts_raised", "预警总数", "alerts raised"),
    ("false_alerts", "误报数", "false alerts"),
    ("levels", "发现时最高等级", "highest level per detected cascade"),
)


def render(result: ReplayResult, tz: tzinfo, max_events: int = 50) -> str:
    run = result.run
    lines = [f"舆情哨兵 replay — split {run['split']}, {run['days']} simulated days from {run['start'][:10]}, "
             f"tick {run['interval_minutes']:g} min, rules: {', '.join(run['rules'])}", ""]
    rows = [(zh, en, _value(result.figures.get(key))) for key, zh, en in FIGURES]
    lines += table(("指标", "metric", "value"), rows)
    lines.append("")
    lines.append("每模拟日各步耗时（秒） seconds per simulated day: "
                 + ", ".join(f"{k} {v:g}" for k, v in result.timings.items()))
    lines.append(f"load {run['load_s']:g} s, models {run['models_s']:g} s, warm-up {run['warmup_s']:g} s "
                 f"({run['warmup_posts']} posts), total {run['total_s']:g} s")
    lines.append("")
    events = sorted(result.events, key=lambda e: -e.reach)[:max_events]
    header = ("事件 cascade", "转发 reach", "首发 posted", "100转 at", "500转 at", "发现 detected",
              "首发起 min", "100转后 min", "等级 level")
    rows = [(_clean(e.cascade_id)[:28], str(e.reach), _at(e.published_at, tz), _at(e.reached_100_at, tz),
             _at(e.reached_500_at, tz), _at(e.detected_at, tz), _value(e.delay_from_first_min),
             _value(e.delay_after_100_min), e.level or "-") for e in events]
    lines.append(f"事件（按转发量，前 {len(rows)} / {len(result.events)}） cascades by reach:")
    lines += table(header, rows)
    if result.false_alert_ids:
        lines += ["", f"误报 false alerts ({len(result.false_alert_ids)}):"]
        lines += [f"  {_clean(a)}" for a in result.false_alert_ids[:20]]
    return "\n".join(lines)


def table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    widths = [max(_width(str(r[i])) for r in (header, *rows)) for i in range(len(header))]
    def line(cells: Sequence[str]) -> str:
        return "  ".join(_pad(str(c), w) for c, w in zip(cells, widths)).rstrip()
    return [line(header), line(["-" * w for w in widths]), *(line(r) for r in rows)]


def _value(value) -> str:
    if value is None:
        return "-"
    if isinstance(value, dict):
        return ", ".join(f"{k} {v}" for k, v in value.items()) or "-"
    return f"{value:g}" if isinstance(value, float) else str(value)


def _at(epoch: float | None, tz: tzinfo) -> str:
    return "-" if epoch is None else datetime.fromtimestamp(epoch, tz).strftime("%m-%d %H:%M")


def _clean(text: str) -> str:
    """Printable characters only: a cascade id comes from an input file."""
    return "".join(ch if ch.isprintable() else "?" for ch in text)


def _width(text: str) -> int:
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def _pad(text: str, width: int) -> str:
    return text + " " * (width - _width(text))
