"""Reports: the 日报 (daily briefing) in HTML, DOCX and PDF (daily), the event 专报 (event_report),
agency response metrics (response). Names load on first use, so that reading a config (which
checks the map's boundary file, districts) does not import matplotlib and Jinja."""
from __future__ import annotations

import importlib

_NAMES = {"BriefingBuilder": "briefing", "render_briefing": "daily", "DailyReportBuilder": "daily",
          "PdfUnavailable": "daily", "pdf_problem": "daily", "write_daily_report": "daily"}

__all__ = sorted(_NAMES)


def __getattr__(name: str):
    if name in _NAMES:
        return getattr(importlib.import_module(f".{_NAMES[name]}", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
