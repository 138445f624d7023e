"""The event special report (舆情专报) for one alert or event, as HTML and as 公文-style DOCX.

Sections: 一 事件概况 (summary, one-line risk judgement) · 二 发展脉络 (timeline of key posts) ·
三 传播态势 (volume and polarity curves, platforms, regions) · 四 首发与关键传播节点 · 五 主要观点
(clustered posts with counts) · 六 处置情况 (the alert's audit trail) · 七 处置建议 (topics.yaml
`handling:` by topic × level). Every claim names its source posts with links. Post text is hostile
input: it is masked (personal data) and escaped in HTML, and written as plain runs in DOCX.

The posts: for an event id, the event's posts; for an alert, the event most of its example posts
belong to, else the posts of its topic and region from a day before the alert to its last evaluation.
"""
from __future__ import annotations

import base64
import dataclasses
import functools
import io
import logging
import os
import warnings
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta, tzinfo
from pathlib import Path
from typing import Any

from index.schema import DEFAULT_TZ, Alert, AlertLevel, Event, Post
from index.store import PostQuery, Store

from ..config import AgenciesFile, TopicsFile
from ..labels import LEVEL_COLOURS, LEVEL_NAMES, SENTIMENT_COLOURS, SENTIMENT_ORDER, STATUS_LABELS, platform_label
from ..privacy import mask, safe_link
from .gongwen import DOCX_ALT_NAMES, FONTS, RED, GongwenDocument, css_font_stacks  # noqa: F401 - FONTS, DOCX_ALT_NAMES re-exported

logger = logging.getLogger(__name__)

NEGATIVE = "负面"
MAX_POSTS = 5000
CJK_CHART_FONTS = ["Noto Sans CJK SC", "Source Han Sans SC", "WenQuanYi Micro Hei", "Microsoft YaHei", "SimHei",
                   "PingFang SC"]




class ReportError(LookupError):
    """The id names no alert or event, or there are no posts to report on."""


@dataclass
class Claim:
    """One line of the report with the posts that support it."""
    text: str
    posts: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class EventReport:
    title: str
    subject_id: str
    office_name: str
    generated_at: datetime
    level: str | None
    risk: str
    summary: list[Claim]
    timeline: list[Claim]
    platforms: list[tuple[str, int, float]]
    regions: list[tuple[str, int, float]]
    first_report: Claim | None
    spreaders: list[Claim]
    views: list[Claim]
    handling: list[str]
    suggestion: str
    volume_png: bytes
    polarity_png: bytes
    post_count: int
    span: tuple[datetime, datetime]
    chart_font: str | None


# --- choosing the posts -------------------------------------------------------
def scope(store: Store, subject: str) -> tuple[Alert | None, Event | None, PostQuery]:
    """The alert or event an id names and the query of the posts a report on it covers."""
    alert = store.get_alert(subject)
    event = None
    if alert is None:
        events = store.get_events([subject])
        if not events:
            raise ReportError(f"no alert or event {subject!r}")
        event = events[0]
        return None, event, PostQuery(event_ids=(event.id,))
    examples = store.get_posts(alert.post_ids)
    counts = Counter(p.event_id for p in examples if p.event_id)
    if counts:
        event_id = counts.most_common(1)[0][0]
        events = store.get_events([event_id])
        event = events[0] if events else None
        return alert, event, PostQuery(event_ids=(event_id,))
    return alert, None, PostQuery(start=alert.window_start - timedelta(days=1), end=alert.last_seen + timedelta(hours=1),
                                  topics=(alert.topic,) if alert.topic else (),
                                  region_codes=(alert.region.code,) if alert.region and alert.region.code else ())


# --- charts -----------------------------------------------------------------
@functools.lru_cache(maxsize=1)
def chart_font() -> str | None:
    """The first CJK font matplotlib can find here (Debian's fonts-noto-cjk in CI), or None."""
    from matplotlib import font_manager
    names = {f.name for f in font_manager.fontManager.ttflist}
    found = next((n for n in CJK_CHART_FONTS if n in names), None)
    if found is None:
        font_manager.fontManager.__init__()    # fonts installed after matplotlib built its cache
        names = {f.name for f in font_manager.fontManager.ttflist}
        found = next((n for n in CJK_CHART_FONTS if n in names), None)
    return found


def _png(draw: Callable, font: str | None, size=(8.0, 3.0)) -> bytes:
    import matplotlib
    from matplotlib.dates import AutoDateLocator, DateFormatter
    from matplotlib.figure import Figure
    rc = {"font.family": "sans-serif", "font.sans-serif": [font] if font else ["DejaVu Sans"], "font.size": 9,
          "axes.spines.top": False, "axes.spines.right": False, "svg.hashsalt": "yuqing"}
    with matplotlib.rc_context(rc), warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=r"Glyph .* missing from", category=UserWarning)
        figure = Figure(figsize=size, dpi=150, layout="constrained")
        axes = figure.add_subplot()
        draw(axes)
        axes.xaxis.set_major_locator(AutoDateLocator(minticks=3, maxticks=8))
        axes.xaxis.set_major_formatter(DateFormatter("%m-%d %H时"))
        axes.grid(axis="y", color="#e6e9ed", linewidth=0.6)
        buffer = io.BytesIO()
        figure.savefig(buffer, format="png", metadata={"Software": "Yuqing Sentinel"})
    return buffer.getvalue()


def _interval(span: timedelta) -> tuple[str, timedelta]:
    if span <= timedelta(hours=36):
        return "hour", timedelta(hours=1)
    if span <= timedelta(days=6):
        return "6h", timedelta(hours=6)
    return "day", timedelta(days=1)


# --- building ---------------------------------------------------------------
class EventReportBuilder:
    def __init__(self, store: Store, agencies: AgenciesFile, topics: TopicsFile, *, office_name: str = "",
                 tz: tzinfo = DEFAULT_TZ, masker: Callable[[str | None], str] = mask):
        self.store, self.agencies, self.topics = store, agencies, topics
        self.office_name, self.tz, self.mask = office_name, tz, masker

    def build(self, subject: str, now: datetime, *, charts: bool = True,
              scoped: tuple[Alert | None, Event | None, PostQuery] | None = None) -> EventReport:
        """The 专报 of an alert or event; charts=False leaves the two PNG charts empty (the 日报's
        entries need none); `scoped`: what scope(store, subject) gave, when the caller has it."""
        alert, event, query = scoped or scope(self.store, subject)
        posts = sorted(self.store.iter_posts(query), key=lambda p: p.published_at)[:MAX_POSTS]
        if not posts:
            raise ReportError(f"{subject}: no posts to report on")
        start, end = posts[0].published_at, posts[-1].published_at
        name = (event.title if event else None) or (alert.title if alert else subject)
        level = AlertLevel.parse(alert.level).value if alert else None
        negative = [p for p in posts if p.polarity_label == NEGATIVE]
        platforms = Counter(platform_label(p.platform) for p in posts)
        regions = Counter((p.region.district or p.region.city or p.region.province) for p in posts
                          if p.region and (p.region.district or p.region.city or p.region.province))
        font = chart_font()
        if font is None and charts:
            logger.warning("no CJK font found for the 专报 charts (install fonts-noto-cjk); labels may not show")
        bucket_name, bucket = _interval(end - start)
        span_query = dataclasses.replace(query, start=start, end=end + bucket)
        histogram = self.store.histogram(span_query, bucket_name, group_by="polarity")  # type: ignore[arg-type]
        report = EventReport(
            title=f"关于“{self.mask(name)}”的舆情专报", subject_id=subject, office_name=self.office_name,
            generated_at=now.astimezone(self.tz), level=level,
            risk=self._risk(alert, posts, negative, platforms, histogram, end),
            summary=self._summary(alert, event, posts, negative, platforms, start, end),
            timeline=self._timeline(posts), platforms=_shares(platforms, len(posts)),
            regions=_shares(regions, len(posts))[:10], first_report=self._first(posts),
            spreaders=self._spreaders(posts), views=self._views(posts), handling=self._handling(alert),
            suggestion=self.topics.suggestion(alert.topic if alert else (event.topic if event else None), level or "蓝"),
            volume_png=_png(lambda ax: self._volume(ax, histogram, bucket), font) if charts else b"",
            polarity_png=_png(lambda ax: self._polarity(ax, histogram, bucket), font) if charts else b"",
            post_count=len(posts), span=(start.astimezone(self.tz), end.astimezone(self.tz)), chart_font=font)
        return report

    # each claim carries its posts as {text, url, platform, at}
    def _ref(self, post: Post) -> dict[str, Any]:
        link = safe_link(post.url)
        return {"id": post.id, "url": link if link and self.mask(link) == link else None,
                "label": f"{platform_label(post.platform)} {post.published_at.astimezone(self.tz):%m-%d %H:%M}"
                         + (f" {self.mask(post.author.name)}" if post.author.name else "")}

    def _excerpt(self, post: Post, n: int = 60) -> str:
        text = self.mask(" ".join(post.text.split()))     # masked whole, then cut: a cut number escapes the masker
        return text[:n] + ("…" if len(text) > n else "")

    def _risk(self, alert, posts, negative, platforms, histogram, end) -> str:
        share = len(negative) / len(posts)
        recent = sum(b.total for b in histogram[-6:])
        before = sum(b.total for b in histogram[-12:-6])
        trend = "仍在升温" if recent > before * 1.2 and recent >= 3 else ("趋于平稳" if recent >= before * 0.8 else "热度回落")
        level = f"{LEVEL_NAMES[AlertLevel.parse(alert.level).value]}，" if alert else ""
        grade = "高" if share >= 0.6 or (alert and alert.level in ("橙", "红")) else ("中" if share >= 0.3 else "低")
        return (f"风险研判：{grade}风险。{level}负面占比{share:.0%}，涉及{len(platforms)}个平台，"
                f"{trend}（最近6个统计时段{recent}条，此前{before}条）。")

    def _summary(self, alert, event, posts, negative, platforms, start, end) -> list[Claim]:
        first = posts[0]
        top = max(posts, key=lambda p: p.engagement.total)
        claims = [Claim(f"{start.astimezone(self.tz):%m月%d日%H:%M}至{end.astimezone(self.tz):%m月%d日%H:%M}，"
                        f"共监测到相关信息{len(posts)}条，其中负面{len(negative)}条，涉及"
                        + "、".join(f"{k}{v}条" for k, v in platforms.most_common()) + "。",
                        [self._ref(first), self._ref(posts[-1])]),
                  Claim(f"首发：{self._excerpt(first, 80)}", [self._ref(first)]),
                  Claim(f"互动量最高（{top.engagement.total}）：{self._excerpt(top, 80)}", [self._ref(top)])]
        if alert is not None:
            claims.append(Claim(f"预警：{self.mask(alert.title)}（{LEVEL_NAMES[AlertLevel.parse(alert.level).value]}，"
                                f"责任单位{alert.agency_name or alert.agency}，"
                                f"处置状态{STATUS_LABELS.get(alert.status, alert.status)}）。{self.mask(alert.summary)}",
                                [self._ref(p) for p in self.store.get_posts(alert.post_ids[:3])]))
        return claims

    def _timeline(self, posts: list[Post], size: int = 12) -> list[Claim]:
        """首发, each platform's first post, and the most engaged ones, in time order."""
        picked: dict[str, Post] = {posts[0].id: posts[0]}
        for post in posts:
            if platform_label(post.platform) not in {platform_label(p.platform) for p in picked.values()}:
                picked[post.id] = post
        for post in sorted(posts, key=lambda p: -p.engagement.total):
            if len(picked) >= size:
                break
            if post.author.verified or post.engagement.total > 0:
                picked.setdefault(post.id, post)
        return [Claim(f"{p.published_at.astimezone(self.tz):%m-%d %H:%M} {platform_label(p.platform)}"
                      + (f"「{self.mask(p.author.name)}」" if p.author.name else "") + f"：{self._excerpt(p)}",
                      [self._ref(p)]) for p in sorted(picked.values(), key=lambda p: p.published_at)]

    def _first(self, posts: list[Post]) -> Claim:
        first = posts[0]
        return Claim(f"{first.published_at.astimezone(self.tz):%Y-%m-%d %H:%M}，{platform_label(first.platform)}"
                     + (f"「{self.mask(first.author.name)}」" if first.author.name else "")
                     + f"首发：{self._excerpt(first, 100)}", [self._ref(first)])

    def _spreaders(self, posts: list[Post], size: int = 5) -> list[Claim]:
        """Authors by reach: followers plus the engagement their posts drew."""
        by_author: dict[str, list[Post]] = {}
        for p in posts:
            if p.author.name:
                by_author.setdefault(p.author.name, []).append(p)
        ranked = sorted(by_author.items(), key=lambda kv: -(max(p.author.followers or 0 for p in kv[1])
                                                           + sum(p.engagement.total for p in kv[1]) * 10))
        out = []
        for name, items in ranked[:size]:
            followers = max(p.author.followers or 0 for p in items)
            engagement = sum(p.engagement.total for p in items)
            verified = "（认证）" if any(p.author.verified for p in items) else ""
            out.append(Claim(f"「{self.mask(name)}」{verified}：粉丝{followers}，{len(items)}条，互动{engagement}",
                             [self._ref(p) for p in sorted(items, key=lambda p: -p.engagement.total)[:2]]))
        return out

    def _views(self, posts: list[Post], k_max: int = 5) -> list[Claim]:
        """Representative views: posts clustered on character n-grams (k-means), largest first, each
        with its count, its negative share and the post nearest its centre."""
        texts = [" ".join(p.text.split())[:300] for p in posts]
        if len(posts) < 4:
            return [Claim(f"（1条）{self._excerpt(p, 100)}", [self._ref(p)]) for p in posts]
        from sklearn.cluster import KMeans
        from sklearn.feature_extraction.text import TfidfVectorizer
        matrix = TfidfVectorizer(analyzer="char", ngram_range=(2, 3), min_df=1, max_features=20000,
                                 sublinear_tf=True).fit_transform(texts)
        k = max(2, min(k_max, len(posts) // 4))
        model = KMeans(n_clusters=k, n_init=4, random_state=0).fit(matrix)
        claims = []
        for label, count in Counter(model.labels_).most_common():
            members = [i for i, lab in enumerate(model.labels_) if lab == label]
            distances = model.transform(matrix[members])[:, label]      # to this cluster's centre
            order = [members[i] for i in distances.argsort(kind="stable")]
            centre = posts[order[0]]
            negative = sum(1 for i in members if posts[i].polarity_label == NEGATIVE)
            claims.append(Claim(f"（{count}条，负面{negative / count:.0%}）{self._excerpt(centre, 100)}",
                                [self._ref(posts[i]) for i in order[:3]]))
        return claims

    def _handling(self, alert: Alert | None) -> list[str]:
        if alert is None:
            return []
        words = {"raised": "预警发出", "escalated": "预警升级", "ended": "预警平息", "acknowledged": "签收",
                 "handling": "开始处置", "resolved": "办结", "false_positive": "标记误报", "reopened": "重新打开",
                 "assigned": "指派", "commented": "备注", "silenced": "暂停提醒", "overdue": "逾期", "reported": "报送上级"}
        lines = []
        for e in alert.history:
            if e.get("event") not in words:
                continue
            at = datetime.fromisoformat(e["at"]).astimezone(self.tz)
            who = e.get("by") if e.get("by") and e.get("by") != "system" else "系统"
            extra = ""
            if e.get("event") in ("raised", "escalated"):
                extra = f"（{e.get('level')}）"
            elif e.get("event") in ("reported", "overdue") and e.get("to"):
                agency = self.agencies.agency(e["to"])
                extra = f"（{agency.name if agency else e['to']}）"
            elif e.get("event") == "assigned":
                extra = f"（{e.get('assignee')}）"
            note = f"：{self.mask(e['note'])}" if e.get("note") else ""
            lines.append(f"{at:%m-%d %H:%M} {who} {words[e['event']]}{extra}{note}")
        return lines

    @staticmethod
    def _times(histogram, tz):
        return [b.start.astimezone(tz).replace(tzinfo=None) for b in histogram]

    def _volume(self, axes, histogram, bucket):
        times = self._times(histogram, self.tz)
        axes.plot(times, [b.total for b in histogram], color="#1f6fd1", linewidth=1.6, marker="o", markersize=2.5)
        axes.set_ylabel("信息量（条）")
        axes.yaxis.get_major_locator().set_params(integer=True)    # posts come whole
        axes.set_title("信息量走势", fontsize=10)

    def _polarity(self, axes, histogram, bucket):
        times = self._times(histogram, self.tz)
        for label in SENTIMENT_ORDER:
            axes.plot(times, [b.counts.get(label, 0) for b in histogram], label=label,
                      color=SENTIMENT_COLOURS.get(label), linewidth=1.4)
        axes.set_ylabel("信息量（条）")
        axes.yaxis.get_major_locator().set_params(integer=True)
        axes.set_title("舆情倾向走势", fontsize=10)
        axes.legend(frameon=False, fontsize=8, ncols=3)


def _shares(counter: Counter, total: int) -> list[tuple[str, int, float]]:
    return [(k, v, v / total) for k, v in counter.most_common()]


# --- HTML -----------------------------------------------------------------------
def render_html(report: EventReport) -> str:
    from jinja2 import Environment, FileSystemLoader, select_autoescape
    env = Environment(loader=FileSystemLoader(Path(__file__).parent / "templates"),
                      autoescape=select_autoescape(["html", "j2"]))
    return env.get_template("event_report.html.j2").render(
        r=report, fonts=css_font_stacks(),
        level_colours=LEVEL_COLOURS, level_names=LEVEL_NAMES,
        volume=base64.b64encode(report.volume_png).decode(), polarity=base64.b64encode(report.polarity_png).decode())


# --- DOCX (GB/T 9704) ----------------------------------------------------------
def render_docx(report: EventReport) -> bytes:
    doc = GongwenDocument()

    def claim(c: Claim, bullet: str = ""):
        p = doc.paragraph(bullet + c.text)
        refs = [ref for ref in c.posts if ref.get("url")]
        if refs:
            doc.run(p, "（来源：" + "；".join(f"{r['label']} {r['url']}" for r in refs) + "）")

    if report.office_name:
        doc.paragraph(report.office_name, "title", 22, "center", indent=False, colour=RED)
    doc.paragraph(report.title, "title", 22, "center", indent=False)
    doc.paragraph(f"{report.generated_at:%Y年%m月%d日 %H:%M}" + (f"　{report.level}色预警" if report.level else ""),
                  "body", 16, "center", indent=False)
    doc.heading("一、事件概况")
    doc.subheading(report.risk)
    for c in report.summary:
        claim(c)
    doc.heading("二、发展脉络")
    for c in report.timeline:
        claim(c)
    doc.heading("三、传播态势")
    for png in (report.volume_png, report.polarity_png):
        doc.picture(png)
    doc.paragraph("平台分布：" + "；".join(f"{k}{v}条（{s:.0%}）" for k, v, s in report.platforms) + "。")
    if report.regions:
        doc.paragraph("地区分布：" + "；".join(f"{k}{v}条（{s:.0%}）" for k, v, s in report.regions) + "。")
    doc.heading("四、首发与关键传播节点")
    if report.first_report:
        claim(report.first_report)
    for c in report.spreaders:
        claim(c)
    doc.heading("五、主要观点")
    for i, c in enumerate(report.views, 1):
        claim(c, f"{i}. ")
    doc.heading("六、处置情况")
    for line in report.handling or ["暂无处置记录。"]:
        doc.paragraph(line)
    doc.heading("七、处置建议")
    doc.paragraph(report.suggestion or "请责任单位核实情况，及时回应关切。")
    doc.paragraph(f"（本专报由舆情哨兵生成，数据截至{report.span[1]:%Y-%m-%d %H:%M}，共{report.post_count}条信息。）",
                  "body", 12, indent=False)
    return doc.to_bytes()


def write_event_report(store: Store, subject: str, out_dir: Path, *, agencies: AgenciesFile, topics: TopicsFile,
                       formats: tuple[str, ...] = ("html", "docx"), office_name: str = "", tz: tzinfo = DEFAULT_TZ,
                       now: datetime | None = None) -> list[Path]:
    """Write the 专报 of an alert or event into out_dir (zhuanbao-<id>.html / .docx); returns the paths."""
    unknown = sorted(set(formats) - {"html", "docx"})
    if unknown:
        raise ValueError(f"unknown report format(s) {unknown}; use html, docx")
    from index.schema import now as current_time
    report = EventReportBuilder(store, agencies, topics, office_name=office_name, tz=tz).build(
        subject, now or current_time())
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    safe = "".join(ch if ch.isalnum() or ch in "._-" else "_" for ch in subject)
    paths = []
    for fmt in formats:
        path = out_dir / f"zhuanbao-{safe}.{fmt}"
        tmp = path.with_name(f".{path.name}.tmp")
        if fmt == "html":
            tmp.write_text(render_html(report), encoding="utf-8")
        else:
            tmp.write_bytes(render_docx(report))
        os.replace(tmp, path)
        paths.append(path)
    logger.info("专报 for %s written: %s", subject, ", ".join(str(p) for p in paths))
    return paths
