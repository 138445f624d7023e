"""The briefing's trend chart: hourly volume by polarity (舆情倾向) as inline SVG.

matplotlib's SVG backend with svg.fonttype='none' writes text as <text>, not
glyph outlines, so the reader's browser draws the Chinese labels with its own
fonts and no CJK font file has to ship with the project.
"""
from __future__ import annotations

import io
import re
import warnings
from collections.abc import Sequence
from datetime import timedelta, tzinfo

import matplotlib
from matplotlib.dates import AutoDateLocator, DateFormatter
from matplotlib.figure import Figure

from index.schema import DEFAULT_TZ
from index.store import TimeBucket

from ..labels import SENTIMENT_COLOURS, SENTIMENT_ORDER

_RC = {
    "svg.fonttype": "none",
    "svg.hashsalt": "yuqing-briefing",      # stable element ids: same data, same file
    "font.family": "sans-serif",
    "font.sans-serif": ["Noto Sans CJK SC", "Source Han Sans SC", "PingFang SC", "Microsoft YaHei", "DejaVu Sans"],
    "font.size": 9,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.edgecolor": "#b8bfc8",
    "axes.labelcolor": "#44505c",
    "xtick.color": "#44505c",
    "ytick.color": "#44505c",
}
_PROLOGUE = re.compile(r"^.*?(?=<svg)", re.S)


def trend_svg(buckets: Sequence[TimeBucket], interval: timedelta, tz: tzinfo = DEFAULT_TZ) -> str:
    """A stacked bar chart of posts per time bucket by polarity, as an <svg> element string (times in `tz`)."""
    with matplotlib.rc_context(_RC), warnings.catch_warnings():
        # Layout measures CJK text with a Latin font; the browser renders it properly.
        warnings.filterwarnings("ignore", message=r"Glyph .* missing from", category=UserWarning)
        figure = Figure(figsize=(9.0, 2.8), layout="constrained")
        axes = figure.add_subplot()
        times = [bucket.start.astimezone(tz).replace(tzinfo=None) for bucket in buckets]
        width = interval / timedelta(days=1) * 0.85
        bottom = [0] * len(buckets)
        keys = list(SENTIMENT_ORDER) + sorted({k for b in buckets for k in b.counts} - set(SENTIMENT_ORDER))
        for key in keys:
            values = [bucket.counts.get(key, 0) for bucket in buckets]
            if not any(values) and key not in SENTIMENT_ORDER:
                continue
            label = "未标注" if key in ("_all", "_missing", "") else key
            axes.bar(times, values, width=width, bottom=bottom, align="edge", label=label,
                     color=SENTIMENT_COLOURS.get(key, "#c9ced6"), linewidth=0)
            bottom = [b + v for b, v in zip(bottom, values, strict=True)]
        axes.set_ylabel("信息量（条）")
        axes.yaxis.get_major_locator().set_params(integer=True)
        axes.grid(axis="y", color="#e6e9ed", linewidth=0.6)
        axes.set_axisbelow(True)
        if times:
            axes.set_xlim(times[0], times[-1] + interval)
            locator = AutoDateLocator(minticks=4, maxticks=10)
            axes.xaxis.set_major_locator(locator)
            axes.xaxis.set_major_formatter(DateFormatter("%m-%d %H:%M" if interval < timedelta(days=1) else "%m-%d"))
        axes.legend(loc="lower right", bbox_to_anchor=(1.0, 1.0), ncols=len(SENTIMENT_ORDER), frameon=False,
                    fontsize=8)
        buffer = io.StringIO()
        figure.savefig(buffer, format="svg", metadata={"Date": None, "Creator": "Yuqing Sentinel"})
    return _PROLOGUE.sub("", buffer.getvalue(), count=1).strip()
