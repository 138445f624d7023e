"""The 日报 (daily public-opinion briefing) in HTML, DOCX (公文 layout) and PDF.

One issue covers the `hours` before the briefing time: header (期号, unit, date), 今日概况 against the
previous period, 重点舆情 (each important event with its 首发, reach, main views, level, handling
status and suggested handling), hot topics and new events, 风险提示 by level, platform and region
distribution with a district map, and open and overdue alerts by agency. The numbers come from the
briefing's BriefingBuilder, each important event from the 专报's EventReportBuilder, so the three
documents never disagree. Every text that could carry personal data is masked before it is cut.
"""
from __future__ import annotations

import base64
import dataclasses
import logging
import os
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime, tzinfo
from pathlib import Path
from typing import Any

from index.schema import DEFAULT_TZ, aware
from index.store import PostQuery, Store

from ..config import AgenciesFile, DailyReportSettings, TopicsFile
from ..labels import LEVEL_COLOURS, LEVEL_NAMES, platform_label
from ..privacy import mask
from .briefing import NEGATIVE, BriefingBuilder, _environment, _share
from .districts import SHIPPED_BOUNDARIES, District, district_map_png, load_boundaries
from .event_report import EventReportBuilder, ReportError, chart_font, scope
from .gongwen import GREY, RED, GongwenDocument, css_font_stacks

logger = logging.getLogger(__name__)

MIME = {"html": "text/html", "pdf": "application/pdf",
        "docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document"}
LEVEL_ORDER = ("红", "橙", "黄", "蓝")
# What each level asks of the owning agency when topics.yaml `handling:` says nothing more specific.
LEVEL_ADVICE = {"红": "立即核实处置，第一时间向上级报告并发布权威信息。",
                "橙": "责任单位尽快核实，及时回应关切，防止扩散升级。",
                "黄": "责任单位关注进展，做好回应准备。",
                "蓝": "持续监测，注意苗头性倾向。"}


class PdfUnavailable(RuntimeError):
    """WeasyPrint (the pdf extra) or its system libraries are missing."""


def pdf_problem() -> str | None:
    """Why a PDF cannot be written here, or None when it can."""
    try:
        import weasyprint  # noqa: F401
    except ImportError:
        return "the pdf format needs WeasyPrint: pip install 'yuqing-sentinel[pdf]'"
    except OSError as exc:       # its Pango / HarfBuzz libraries (apt install libpango-1.0-0 libpangoft2-1.0-0)
        return f"WeasyPrint cannot load its system libraries (install Pango): {exc}"
    return None


def issue_number(day: datetime) -> tuple[int, str]:
    """期号: the day of the year of the briefing date, so every issue has one number however often
    it is written again (2026年第326期)."""
    n = day.timetuple().tm_yday
    return n, f"{day:%Y}年第{n}期"


@dataclasses.dataclass
class DailyReport:
    context: dict[str, Any]

    @property
    def stamp(self) -> str:
        return f"{self.context['report_date']:%Y%m%d-%H%M}"


class DailyReportBuilder:
    def __init__(self, store: Store, agencies: AgenciesFile, topics: TopicsFile, settings: DailyReportSettings,
                 *, boundaries: Sequence[District] | None = None, masker: Callable[[str | None], str] = mask,
                 source_labels: Mapping[str, str] | None = None, tz: tzinfo = DEFAULT_TZ):
        self.store, self.agencies, self.topics, self.settings = store, agencies, topics, settings
        self.mask, self.tz = masker, tz
        self.boundaries = list(boundaries) if boundaries is not None else None
        self.briefing = BriefingBuilder(store, agencies, topics, masker, source_labels=source_labels, tz=tz)
        self.events = EventReportBuilder(store, agencies, topics, tz=tz, masker=masker)

    def build(self, start: datetime, end: datetime, office_name: str) -> DailyReport:
        context = self.briefing.context(start, end, office_name)
        period = PostQuery(start=start, end=end)
        number, label = issue_number(context["report_date"])
        font = chart_font()
        context.update(
            issue={"number": number, "label": label},
            key_events=self._key_events(context["alerts"], period, end),
            new_events=self._new_events(start, end),
            risks=self._risks(context["alerts"]),
            district_map=self._map(period, font),
            level_names=LEVEL_NAMES, fonts=css_font_stacks(),
        )
        return DailyReport(context)

    # --- 重点舆情 ----------------------------------------------------------------------
    def _key_events(self, alerts: list[dict[str, Any]], period: PostQuery, end: datetime) -> list[dict[str, Any]]:
        """The period's alerts, most serious first (one entry per event however many alerts it
        raised), then its largest events no alert covers."""
        covered: set[str] = set()
        entries: list[dict[str, Any]] = []
        for alert in alerts:
            if len(entries) >= self.settings.max_events:
                break
            try:
                scoped = scope(self.store, alert["id"])
            except ReportError:
                continue
            event = scoped[1]
            key = event.id if event else alert["id"]
            if key in covered:
                continue
            covered.add(key)
            entry = self._entry(alert["id"], alert, event, end, scoped)
            if entry is not None:
                entries.append(entry)
        if len(entries) < self.settings.max_events:
            for bucket in self.store.terms(period, "event_id", size=self.settings.max_events * 3):
                if len(entries) >= self.settings.max_events:
                    break
                if bucket.key in covered or bucket.count < 2:
                    continue
                covered.add(bucket.key)
                events = self.store.get_events([bucket.key])
                entry = self._entry(bucket.key, None, events[0] if events else None, end)
                if entry is not None:
                    entries.append(entry)
        return entries

    def _entry(self, subject: str, alert: dict[str, Any] | None, event, end: datetime,
               scoped=None) -> dict[str, Any] | None:
        try:
            report = self.events.build(subject, end, charts=False, scoped=scoped)
        except ReportError as exc:
            logger.info("日报: no entry for %s: %s", subject, exc)
            return None
        level = report.level
        if alert is not None:
            agency, status = alert["agency"], alert["status"] + ("，已平息" if alert["ended"] else "")
        else:
            code = event.region.code if event is not None and event.region else None
            agency, status = self.briefing.router.agency_for(event.topic if event else None, code).name, "未触发预警"
        first_refs = report.first_report.posts if report.first_report else []
        return {
            "title": self.mask(event.title) if event else report.title.removeprefix("关于“").removesuffix("”的舆情专报"),
            "level": level, "level_name": LEVEL_NAMES[level] if level else "未预警",
            "colour": LEVEL_COLOURS[level] if level else "#8c96a3",
            "first": report.first_report.text if report.first_report else "",
            "first_url": next((p["url"] for p in first_refs if p.get("url")), None),
            "reach": f"共{report.post_count}条，涉及" + "、".join(f"{k}{v}条" for k, v, _ in report.platforms[:4])
                     + (f"等{len(report.platforms)}个平台" if len(report.platforms) > 4 else ""),
            "risk": report.risk,
            "views": [c.text for c in report.views[:3]],
            "agency": agency, "status": status,
            "suggestion": report.suggestion or LEVEL_ADVICE[level or "蓝"],
        }

    def _new_events(self, start: datetime, end: datetime, size: int = 10) -> list[dict[str, Any]]:
        events = [e for e in self.store.list_events(active_since=start, limit=500) if start <= e.first_seen < end]
        events.sort(key=lambda e: (-e.post_count, e.first_seen))
        return [{"title": self.mask(e.title), "first_seen": e.first_seen, "posts": e.post_count,
                 "negative": e.negative_count, "negative_share": _share(e.negative_count, e.post_count),
                 "platforms": "、".join(platform_label(p) for p, _ in sorted(e.platforms.items(), key=lambda kv: -kv[1])[:3]),
                 "topic": e.topic or "", "region": e.region.name if e.region else ""} for e in events[:size]]

    # --- 风险提示 ------------------------------------------------------------------------
    def _risks(self, alerts: list[dict[str, Any]]) -> list[dict[str, Any]]:
        rows = []
        for level in LEVEL_ORDER:
            mine = [a for a in alerts if a["level"] == level and not a["ended"]]
            if not mine:
                continue
            topic = mine[0]["topic"]
            advice = self.topics.suggestion(topic, level) or LEVEL_ADVICE[level]
            rows.append({"level": level, "level_name": LEVEL_NAMES[level], "colour": LEVEL_COLOURS[level],
                         "count": len(mine), "titles": [a["title"] for a in mine[:5]],
                         "agencies": sorted({a["agency"] for a in mine}), "advice": advice})
        return rows

    # --- the district map --------------------------------------------------------------
    def _map(self, period: PostQuery, font: str | None) -> dict[str, Any] | None:
        if not self.settings.map.enabled or not self.boundaries:
            return None
        codes = {d.code for d in self.boundaries}
        counts = {b.key: b.count for b in self.store.terms(period, "region_code", size=2000) if b.key in codes}
        negative = {b.key: b.count for b in self.store.terms(dataclasses.replace(period, polarities=(NEGATIVE,)),
                                                            "region_code", size=2000) if b.key in codes}
        share = self.settings.map.shade == "negative_share"
        values = ({c: (negative.get(c, 0) / counts[c]) for c in counts} if share else dict(counts))
        png = district_map_png(self.boundaries, values, font=font, percent=share,
                               title="辖区各区县负面信息占比" if share else "辖区各区县信息量",
                               legend="负面占比" if share else "信息量（条）")
        rows = sorted(({"name": d.name, "count": counts.get(d.code, 0), "negative": negative.get(d.code, 0)}
                       for d in self.boundaries), key=lambda r: -r["count"])
        return {"png": png, "b64": base64.b64encode(png).decode(), "rows": rows,
                "shade": self.settings.map.shade, "located": sum(counts.values())}


# --- rendering -------------------------------------------------------------------------
def render_html(report: DailyReport) -> str:
    """One self-contained page (charts inline); its @media print rules lay out the PDF."""
    return _environment(report.context["report_date"].tzinfo).get_template("briefing.html.j2").render(**report.context)


def render_pdf(report: DailyReport) -> bytes:
    problem = pdf_problem()
    if problem:
        raise PdfUnavailable(problem)
    import weasyprint
    return weasyprint.HTML(string=render_html(report), base_url=None).write_pdf()


def render_docx(report: DailyReport) -> bytes:
    c = report.context
    o = c["overview"]
    doc = GongwenDocument()
    doc.paragraph("舆情日报", "title", 26, "center", indent=False, colour=RED)
    doc.paragraph(c["issue"]["label"], "body", 16, "center", indent=False)
    doc.paragraph(f"{c['office_name']}　　{c['report_date']:%Y年%m月%d日}", "body", 16, "center", indent=False)
    doc.paragraph(f"统计时段：{c['start'].astimezone(c['report_date'].tzinfo):%Y-%m-%d %H:%M} 至 "
                  f"{c['end'].astimezone(c['report_date'].tzinfo):%Y-%m-%d %H:%M}", "body", 12, "center",
                  indent=False, colour=GREY)

    doc.heading("一、今日概况")
    shares = "，".join(f"{s['label']}{s['count']}条（{_pct(s['share'])}）" for s in o["sentiments"])
    doc.paragraph(f"本时段共监测到相关信息{o['total']}条，{o['change']['text']}；其中负面{o['negative']}条，"
                  f"占{_pct(o['negative_share'])}，{o['negative_change']['text']}。舆情倾向：{shares}。")
    levels = "，".join(f"{lv}色{n}条" for lv in LEVEL_ORDER
                       if (n := sum(1 for a in c["alerts"] if a["level"] == lv)))
    doc.paragraph(f"本时段预警{len(c['alerts'])}条" + (f"（{levels}）" if levels else "") + "。")

    doc.heading("二、重点舆情")
    if not c["key_events"]:
        doc.paragraph("本时段无重点舆情。")
    for i, e in enumerate(c["key_events"], 1):
        doc.subheading(f"（{_cn(i)}）{e['title']}【{e['level_name']}】")
        doc.paragraph(e["first"])
        doc.paragraph(f"传播情况：{e['reach']}。{e['risk']}")
        for j, view in enumerate(e["views"], 1):
            doc.paragraph(f"主要观点{j}：{view}")
        doc.paragraph(f"责任单位：{e['agency']}；处置状态：{e['status']}。")
        doc.paragraph(f"处置建议：{e['suggestion']}")

    doc.heading("三、热点话题与新增事件")
    doc.table(["话题", "信息量", "负面", "负面占比", "责任单位"],
              [[t["label"], t["count"], t["negative"], _pct(t["negative_share"]), t["agency"]] for t in c["topics"][:10]]
              or [["本时段无话题数据", "", "", "", ""]])
    if c["new_events"]:
        doc.paragraph("新增事件：", indent=False)
        doc.table(["首发时间", "事件", "信息量", "负面占比", "平台"],
                  [[f"{e['first_seen'].astimezone(c['report_date'].tzinfo):%m-%d %H:%M}", e["title"], e["posts"],
                    _pct(e["negative_share"]), e["platforms"]] for e in c["new_events"]])
    if c["hot_words"]:
        doc.paragraph("热词：" + "、".join(w["word"] for w in c["hot_words"][:20]) + "。")

    doc.heading("四、风险提示")
    if not c["risks"]:
        doc.paragraph("本时段无进行中的预警。")
    for r in c["risks"]:
        doc.paragraph(f"{r['level_name']}{r['count']}条：" + "；".join(r["titles"])
                      + f"（责任单位：{'、'.join(r['agencies'])}）。{r['advice']}")

    doc.heading("五、平台与地区分布")
    doc.paragraph("平台分布：" + ("；".join(f"{p['label']}{p['count']}条（{_pct(p['share'])}）" for p in o["platforms"])
                                   or "本时段无信息") + "。")
    if c["district_map"]:
        doc.picture(c["district_map"]["png"], width_mm=150)
    if c["regions"]:
        doc.paragraph("地区分布：" + "；".join(f"{r['label']}{r['count']}条（负面{_pct(r['negative_share'])}）"
                                              for r in c["regions"][:10]) + "。")

    doc.heading("六、预警处置情况")
    if c["handling"]:
        doc.table(["责任单位", "待签收", "已签收", "处置中", "逾期", "逾期预警"],
                  [[r["agency"], r["new"], r["acknowledged"], r["handling"], r["overdue"], "；".join(r["overdue_titles"])]
                   for r in c["handling"]])
    else:
        doc.paragraph("没有未办结的预警。")
    doc.paragraph(f"（本日报由舆情哨兵生成于{c['generated_at']:%Y-%m-%d %H:%M}，个人信息已脱敏，仅供内部研判参考。）",
                  "body", 12, indent=False, colour=GREY)
    return doc.to_bytes()


def _pct(value: float | None) -> str:
    return "—" if value is None else f"{value:.1%}"


def _cn(n: int) -> str:
    return "一二三四五六七八九十"[n - 1] if 1 <= n <= 10 else str(n)


RENDERERS: dict[str, Callable[[DailyReport], bytes]] = {
    "html": lambda r: render_html(r).encode("utf-8"), "docx": render_docx, "pdf": render_pdf}


def write_daily_report(store: Store, *, start: datetime, end: datetime, out_dir: Path, office_name: str,
                       agencies: AgenciesFile, topics: TopicsFile, settings: DailyReportSettings,
                       formats: Sequence[str] | None = None, boundaries: Sequence[District] | None = None,
                       source_labels: Mapping[str, str] | None = None, tz: tzinfo = DEFAULT_TZ) -> list[Path]:
    """Write the issue for [start, end) as out_dir/briefing-YYYYMMDD-HHMM.<format> for each format
    (default: settings.formats); returns the paths. Each file is written whole, then renamed in."""
    formats = list(formats or settings.formats)
    unknown = sorted(set(formats) - set(RENDERERS))
    if unknown:
        raise ValueError(f"unknown report format(s) {unknown}; use {', '.join(RENDERERS)}")
    if "pdf" in formats and (problem := pdf_problem()):
        raise PdfUnavailable(problem)
    start, end = aware(start, tz), aware(end, tz)
    if end <= start:
        raise ValueError(f"report period must end after it starts: {start.isoformat()} .. {end.isoformat()}")
    if boundaries is None and settings.map.enabled:
        boundaries = load_boundaries(SHIPPED_BOUNDARIES)
    report = DailyReportBuilder(store, agencies, topics, settings, boundaries=boundaries,
                                source_labels=source_labels, tz=tz).build(start, end, office_name)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = []
    for fmt in formats:
        path = out_dir / f"briefing-{report.stamp}.{fmt}"
        tmp = path.with_name(f".{path.name}.tmp")
        tmp.write_bytes(RENDERERS[fmt](report))
        os.replace(tmp, path)
        paths.append(path)
    logger.info("日报 %s for %s .. %s written: %s", report.context["issue"]["label"], start.isoformat(),
                end.isoformat(), ", ".join(p.name for p in paths))
    return paths


def render_briefing(store: Store, *, start: datetime, end: datetime, out_dir: Path, office_name: str,
                    agencies: AgenciesFile, topics: TopicsFile,
                    source_labels: Mapping[str, str] | None = None, tz: tzinfo = DEFAULT_TZ) -> Path:
    """The 日报's HTML alone for [start, end), with the default settings, as
    out_dir/briefing-YYYYMMDD-HHMM.html. source_labels maps configured source names to the names
    readers know (e.g. 浔阳晚报)."""
    [path] = write_daily_report(store, start=start, end=end, out_dir=out_dir, office_name=office_name,
                                agencies=agencies, topics=topics, settings=DailyReportSettings(), formats=["html"],
                                source_labels=source_labels, tz=tz)
    return path


__all__ = ["DailyReport", "DailyReportBuilder", "MIME", "PdfUnavailable", "issue_number", "pdf_problem",
           "render_briefing", "render_docx", "render_html", "render_pdf", "write_daily_report"]
