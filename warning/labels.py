"""Chinese display names shared by titles, notifications and reports."""
from __future__ import annotations

from .privacy import mask

PLATFORM_LABELS = {
    "news": "新闻网站",
    "gov_board": "政务留言板",
    "rss": "订阅源",
    "weibo": "微博",
    "forum": "论坛",
}

LEVEL_COLOURS = {"蓝": "#1f6fd1", "黄": "#d4a106", "橙": "#e8710a", "红": "#d0302f"}
LEVEL_NAMES = {"蓝": "蓝色预警", "黄": "黄色预警", "橙": "橙色预警", "红": "红色预警"}

STATUS_LABELS = {"new": "待签收", "acknowledged": "已签收", "handling": "处置中", "resolved": "已办结",
                 "false_positive": "误报"}

CHANGE_LABELS = {"new": "新预警", "escalated": "预警升级", "updated": "预警更新", "ended": "预警平息",
                 "reopened": "重新打开", "overdue": "逾期未处置", "reported": "直报上级"}

METRIC_LABELS = {
    "blocked": "被源站拒绝次数", "failed_crawls": "连续采集失败次数",
    "count": "窗口内信息量", "baseline_count": "基线期信息量", "baseline_hours": "基线时长（小时）",
    "expected": "基线期望值", "ratio": "相对基线倍数",
    "negative_count": "负面信息量", "negative_share": "负面占比",
    "previous_count": "上一窗口信息量", "growth": "环比倍数", "platforms": "涉及平台数",
    "silent_hours": "无新信息时长（小时）",
    "zscore": "稳健z分数", "poisson_score": "泊松显著度（-log10 p）", "seasons": "同期样本数",
    "severity": "敏感严重度", "max_post_score": "单条最高分", "weight": "词组权重", "max_followers": "最高粉丝数",
    "terms_matched": "命中词数", "followers": "粉丝数", "graded_followers": "定级粉丝数", "engagement": "互动量",
    "verified": "认证账号", "media": "媒体账号",
    "usual_negative_share": "此前负面占比", "stream_count": "窗口内全部信息量", "stream_share": "占全部信息比例",
    "driver_share": "主要事件占比", "significance": "二项显著度（-log10 p）",
}

SENTIMENT_ORDER = ("负面", "中性", "正面")
SENTIMENT_COLOURS = {"负面": "#d0302f", "中性": "#8c96a3", "正面": "#2e9d5b"}


def platform_label(platform: str | None) -> str:
    return PLATFORM_LABELS.get(platform or "", platform or "未知平台")


def group_subject(group_by: str, key: str | None) -> str:
    """How a rule group reads at the front of a title: 环境保护类, 微博平台, or nothing."""
    if not key:
        return ""
    if group_by == "topic":
        return f"{key}类"
    if group_by == "platform":
        return f"{platform_label(key)}平台"
    if group_by == "scheme":
        return f"监测方案「{key}」"
    return ""   # regions are named by the alert's region, after the title


def event_subject(title: str | None, max_chars: int = 30) -> str:
    """How an event reads at the front of a title: 「十里河死鱼」事件.

    Event titles are post text: one line, cut to `max_chars` and with personal data masked,
    so a post cannot add lines to a mail subject or a heading to a Markdown record.
    """
    text = " ".join(mask(title or "").split()).strip("「」")
    if len(text) > max_chars:
        text = text[: max_chars - 1] + "…"
    return f"「{text or '未命名'}」事件"


def source_subject(source: str) -> str:
    """A crawl source as it reads at the front of a title: 采集源「metro_news」."""
    return f"采集源「{' '.join(source.split())}」"


def metric_label(key: str) -> str:
    if key.startswith("peak_"):
        return "峰值" + METRIC_LABELS.get(key.removeprefix("peak_"), key)
    return METRIC_LABELS.get(key, key)


def metric_value(key: str, value: float) -> str:
    if key.endswith("share"):
        return f"{value:.0%}"
    if key.endswith("ratio") or key == "growth":
        return f"{value:.1f}倍"
    return str(int(value)) if value == int(value) else f"{value:.1f}"
