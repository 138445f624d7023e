"""Reports: the daily briefing (日报) as self-contained HTML. Later: DOCX/PDF renderings of the same context."""
from .briefing import BriefingBuilder, render_briefing

__all__ = ["BriefingBuilder", "render_briefing"]
