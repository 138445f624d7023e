"""The daily briefing: sections, alert cards, inline SVG chart, PII masking, HTML escaping."""
from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path

import pytest

from warning.engine import WarningEngine
from warning.reports import render_briefing
from warning_support import LIANXI, T0, XUNYANG, RecordingStore, make_post, spread
from yuqing.config import AgenciesFile, RulesFile, TopicsFile, load_model

REPO = Path(__file__).resolve().parents[3]
AGENCIES = load_model(REPO / "configs" / "agencies.yaml", AgenciesFile)
TOPICS = load_model(REPO / "configs" / "topics.yaml", TopicsFile)
RULES = load_model(REPO / "configs" / "rules.yaml", RulesFile)
START, END = T0 + timedelta(days=2, hours=7, minutes=30), T0 + timedelta(days=3, hours=7, minutes=30)


@pytest.fixture
def store() -> RecordingStore:
    store = RecordingStore()
    store.upsert_posts(spread(T0, START, 20, topic="交通运输", region=XUNYANG, text="浔阳区道路拥堵",
                              keywords=("拥堵",)))
    store.upsert_posts(spread(START, START + timedelta(hours=6), 6, topic="交通运输", region=XUNYANG,
                              text="浔阳区道路拥堵", keywords=("拥堵",), sentiment="正面"))
    store.upsert_posts(spread(START + timedelta(hours=8), START + timedelta(hours=12), 30, sentiment="负面",
                              region=LIANXI, text="濂溪区化工厂排污，河道异味", engagement=20,
                              keywords=("排污", "异味")))
    store.upsert_posts([make_post(START + timedelta(hours=13), sentiment="负面",
                                  text="举报电话13812345678，化工厂<script>alert(1)</script>偷排",
                                  keywords=("偷排", "13812345678"),
                                  url="https://bbs.example.org/thread?contact=13912345678")])
    return store


def render(store, tmp_path) -> str:
    path = render_briefing(store, start=START, end=END, out_dir=tmp_path, office_name="九江市委网信办",
                           agencies=AGENCIES, topics=TOPICS)
    assert path.parent == tmp_path and path.name == "briefing-20261118-0730.html"
    return path.read_text(encoding="utf-8")


def test_briefing_sections_numbers_and_chart(store, tmp_path):
    html = render(store, tmp_path)
    assert "<title>舆情日报 2026年11月18日 · 九江市委网信办</title>" in html
    assert "统计时段：2026-11-17 07:30 至 2026-11-18 07:30" in html
    for heading in ("一、今日概况", "二、信息走势", "三、重点舆情", "四、风险提示", "五、预警信息", "六、处置情况",
                    "七、热点话题与新增事件", "八、平台与地区分布", "九、热词", "十、最新负面信息"):
        assert heading in html
    assert re.search(r'<div class="value">37<small>条</small>', html)          # 6 + 30 + 1 posts in the period
    assert "较上一时段增加" in html                                            # 37 vs 10 the day before
    assert "濂溪区" in html and "浔阳区" in html and "九江市生态环境局" in html  # region table, topic → agency
    svg = re.search(r"<svg.*?</svg>", html, re.S)
    assert svg, "chart is inlined as SVG"
    assert ">负面</text>" in svg.group() or "负面" in re.sub(r"<[^>]+>", " ", svg.group())
    assert "<?xml" not in html and "<!DOCTYPE svg" not in html
    assert "<link" not in html and "src=\"http" not in html                      # self-contained


def test_briefing_masks_pii_and_escapes_markup(store, tmp_path):
    html = render(store, tmp_path)
    assert "13812345678" not in html
    assert "13912345678" not in html and "bbs.example.org" not in html   # a link carrying PII is dropped
    assert "138****5678" in html
    assert "<script" not in html and "alert(1)&lt;/script&gt;" in html   # escaped, never markup


def test_briefing_shows_alerts_with_agency_and_posts(store, tmp_path):
    engine = WarningEngine(store, RULES, AGENCIES, TOPICS)
    for hours in range(1, 24):
        engine.evaluate(START + timedelta(hours=hours))
    alerts = store.list_alerts()
    assert alerts, "the burst raised an alert"
    html = render(store, tmp_path)
    for alert in alerts:
        assert alert.title in html
    assert "责任单位：<b>九江市生态环境局</b>" in html
    assert re.search(r'class="badge" style="background: #[0-9a-f]{6}">(蓝|黄|橙|红)色预警', html)
    assert "本时段无预警" not in html


def test_empty_period_renders(tmp_path):
    html = render(RecordingStore(), tmp_path)
    assert "本时段无预警。" in html and "本时段无负面信息" in html and "<svg" in html


def test_bad_period_is_rejected(tmp_path):
    with pytest.raises(ValueError, match="must end after it starts"):
        render_briefing(RecordingStore(), start=END, end=START, out_dir=tmp_path, office_name="x",
                        agencies=AGENCIES, topics=TOPICS)


def test_briefing_counts_posts_per_monitoring_scheme(store, tmp_path):
    store.upsert_posts(spread(START + timedelta(hours=1), START + timedelta(hours=3), 4, sentiment="负面",
                              text="濂溪区化工厂爆炸", schemes=["本地安全生产", "化工园区"]))
    store.upsert_posts(spread(START + timedelta(hours=1), START + timedelta(hours=3), 2,
                              text="化工厂扩建公示", schemes=["化工园区"]))
    html = render(store, tmp_path)
    table = re.search(r'<h3 id="schemes">监测方案</h3>(.*?)</table>', html, re.S).group(1)
    rows = [re.sub(r"<[^>]+>", " ", r).split() for r in re.findall(r"<tr>(.*?)</tr>", table, re.S)[1:]]
    assert rows == [["本辖区", "0", "0", "—"], ["本地安全生产", "4", "4", "100.0%"], ["本地生态环境", "0", "0", "—"], ["化工园区", "6", "4", "66.7%"]]


def test_briefing_lists_open_and_overdue_alerts_by_agency(store, tmp_path):
    from warning.lifecycle import AlertDesk
    engine = WarningEngine(store, RULES, AGENCIES, TOPICS)
    for hours in range(1, 24):
        engine.evaluate(START + timedelta(hours=hours))
    alerts = store.list_alerts()
    html = render(store, tmp_path)
    section = html[html.index('<section id="handling">'):html.index('<section id="topics">')]
    assert "九江市生态环境局" in section and "没有未办结的预警" not in section
    from warning.lifecycle import is_overdue
    overdue = [a for a in alerts if is_overdue(a, END)]
    assert overdue, "nobody acknowledged the burst's alerts within their deadlines"
    assert sum(int(n) for n in re.findall(r"<td><b>(\d+)</b></td>", section)) == len(overdue)
    for alert in alerts:
        AlertDesk(store, AGENCIES).act(alert.id, "resolve", "admin", END - timedelta(minutes=1), note="已处置")
    section = render(store, tmp_path)
    assert "没有未办结的预警" in section[section.index('<section id="handling">'):]
