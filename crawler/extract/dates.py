"""Publication times as Chinese sites write them, parsed into aware datetimes.

Handles absolute forms (2026-11-18 09:12, 2026年11月18日 09:12, 2026/11/18,
ISO 8601, RFC 822), year-less forms (11月18日, 11-18 09:12) and relative forms
(刚刚, 3小时前, 昨天 09:12) against an explicit `now`, so results are testable.
Common forms use fast regexes; anything else goes to dateparser.
"""
from __future__ import annotations

import email.utils
import logging
import re
from datetime import datetime, timedelta, timezone, tzinfo

from index import clock
from index.schema import DEFAULT_TZ

logger = logging.getLogger(__name__)

_TIME = (r"(?:\s*(?:T|\s|,)?\s*(?P<H>[01]?\d|2[0-3])\s*[:：时]\s*(?P<M>[0-5]?\d)"
         r"(?:\s*[:：分]\s*(?P<S>[0-5]?\d)(?:\.\d+)?)?\s*秒?"
         r"(?:\s*(?P<tz>Z|[+-]\d{2}:?\d{2}))?)?")
_FULL_DATE = (r"(?P<y>(?:19|20)\d{2})\s*(?P<sep>[-/.年])\s*(?P<m>1[0-2]|0?[1-9])\s*[-/.月]\s*"
              r"(?P<d>3[01]|[12]\d|0?[1-9])(?!\d)\s*[日号]?")
_MONTH_DAY = r"(?<!\d)(?P<m>1[0-2]|0?[1-9])\s*月\s*(?P<d>3[01]|[12]\d|0?[1-9])\s*[日号]"
_MONTH_DAY_DASH = r"(?<![\d\-/.])(?P<m>1[0-2]|0?[1-9])-(?P<d>3[01]|[12]\d|0?[1-9])(?![\d\-])"
_RELATIVE = (r"(?P<now>刚刚|刚才)"
             r"|(?P<n>\d+|半|一|两|几)\s*(?P<unit>秒钟?|分钟|小时|个小时|天|日|周|星期)\s*(?:以)?前"
             r"|(?P<day>今天|今日|昨天|昨日|前天)\s*(?:(?P<H>[01]?\d|2[0-3])\s*[:：]\s*(?P<M>[0-5]?\d))?")

FULL_RE = re.compile(_FULL_DATE + _TIME)
MONTH_DAY_RE = re.compile(_MONTH_DAY + _TIME)
MONTH_DAY_DASH_RE = re.compile(_MONTH_DAY_DASH + _TIME)
RELATIVE_RE = re.compile(_RELATIVE)
# Labels that introduce a publication time; a labelled time beats an unlabelled one.
LABEL_RE = re.compile(r"(?:发布时间|发表时间|发表于|发布日期|发稿时间|发布于|留言时间|提问时间|来信时间|"
                      r"更新时间|时间|日期|Date|Published)\s*[:：]?\s*", re.I)
_ISO_RE = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}")
_RFC822_RE = re.compile(r"^(?:[A-Z][a-z]{2},\s*)?\d{1,2}\s+[A-Z][a-z]{2}\s+\d{4}\s+\d{1,2}:\d{2}")
# Twitter/Weibo API form: "Wed Nov 18 09:12:00 +0800 2026".
_API_TIME_RE = re.compile(r"^[A-Z][a-z]{2} [A-Z][a-z]{2} \d{1,2} \d{2}:\d{2}:\d{2} [+-]\d{4} \d{4}$")
_ZH_NUM = {"半": 0.5, "一": 1, "两": 2, "几": 3}
_UNIT_SECONDS = {"秒": 1, "秒钟": 1, "分钟": 60, "小时": 3600, "个小时": 3600, "天": 86400, "日": 86400,
                 "周": 604800, "星期": 604800}
_DAY_OFFSET = {"今天": 0, "今日": 0, "昨天": 1, "昨日": 1, "前天": 2}


def _now(now: datetime | None, tz: tzinfo) -> datetime:
    if now is None:
        return clock.now(tz)
    return now.replace(tzinfo=tz) if now.tzinfo is None else now.astimezone(tz)


def _tz_of(match: re.Match[str], default: tzinfo) -> tzinfo:
    raw = match.groupdict().get("tz")
    if not raw:
        return default
    if raw == "Z":
        return timezone.utc
    digits = raw[1:].replace(":", "")
    offset = timedelta(hours=int(digits[:2]), minutes=int(digits[2:]))
    return timezone(-offset if raw[0] == "-" else offset)


def _clock(match: re.Match[str]) -> tuple[int, int, int]:
    g = match.groupdict()
    return int(g.get("H") or 0), int(g.get("M") or 0), int(g.get("S") or 0)


def _from_full(match: re.Match[str], tz: tzinfo) -> datetime | None:
    try:
        return datetime(int(match["y"]), int(match["m"]), int(match["d"]), *_clock(match),
                        tzinfo=_tz_of(match, tz))
    except ValueError:
        return None


def _from_month_day(match: re.Match[str], now: datetime) -> datetime | None:
    """Year-less dates are this year's, unless that lands in the future: then last year's."""
    try:
        value = datetime(now.year, int(match["m"]), int(match["d"]), *_clock(match), tzinfo=now.tzinfo)
    except ValueError:
        return None
    if value > now + timedelta(days=1):
        try:
            value = value.replace(year=now.year - 1)
        except ValueError:  # 29 Feb
            return None
    return value


def _from_relative(match: re.Match[str], now: datetime) -> datetime:
    if match["now"]:
        return now
    if match["n"]:
        n = _ZH_NUM.get(match["n"]) or int(match["n"])
        return now - timedelta(seconds=n * _UNIT_SECONDS[match["unit"]])
    day = (now - timedelta(days=_DAY_OFFSET[match["day"]])).date()
    if match["H"]:
        return datetime(day.year, day.month, day.day, int(match["H"]), int(match["M"]), tzinfo=now.tzinfo)
    if match["day"] in ("今天", "今日"):
        return now
    return datetime(day.year, day.month, day.day, tzinfo=now.tzinfo)


def _dateparser(text: str, now: datetime, tz: tzinfo) -> datetime | None:
    import dateparser  # slow to import; only needed for unusual formats

    settings = {"RELATIVE_BASE": now.replace(tzinfo=None), "TIMEZONE": str(tz),
                "RETURN_AS_TIMEZONE_AWARE": True, "PREFER_DATES_FROM": "past"}
    try:
        value = dateparser.parse(text, languages=["zh", "en"], settings=settings)
    except Exception as exc:  # dateparser raises assorted errors on odd input
        logger.debug("dateparser failed on %r: %s", text, exc)
        return None
    if value is None:
        return None
    return value.replace(tzinfo=tz) if value.tzinfo is None else value


def parse_datetime(text: str | None, now: datetime | None = None, tz: tzinfo = DEFAULT_TZ) -> datetime | None:
    """Parse one date/time string (a label like 发布时间： may precede it).

    Returns an aware datetime or None. Naive values are read in `tz`.
    """
    if not text:
        return None
    text = " ".join(text.split())
    text = LABEL_RE.sub("", text, count=1) if LABEL_RE.match(text) else text
    text = text.strip(" :：|()（）[]【】")
    if not text:
        return None
    current = _now(now, tz)
    if _ISO_RE.match(text):
        try:
            value = datetime.fromisoformat(text.replace("Z", "+00:00"))
            return value.replace(tzinfo=tz) if value.tzinfo is None else value
        except ValueError:
            pass
    if _API_TIME_RE.match(text):
        # reorder into RFC 822, whose parser ignores the process locale (strptime's %a/%b do not)
        wday, mon, day, clock, offset, year = text.split()
        text = f"{wday}, {day} {mon} {year} {clock} {offset}"
    if _RFC822_RE.match(text):
        try:
            value = email.utils.parsedate_to_datetime(text)
            return value.replace(tzinfo=tz) if value.tzinfo is None else value
        except (TypeError, ValueError):
            pass
    for regex, build in ((FULL_RE, lambda m: _from_full(m, tz)),
                         (MONTH_DAY_RE, lambda m: _from_month_day(m, current)),
                         (RELATIVE_RE, lambda m: _from_relative(m, current)),
                         (MONTH_DAY_DASH_RE, lambda m: _from_month_day(m, current))):
        match = regex.match(text)
        if match and match.group(0).strip():
            value = build(match)
            if value is not None:
                return value
    return _dateparser(text, current, tz)


def find_datetime(text: str | None, now: datetime | None = None, tz: tzinfo = DEFAULT_TZ,
                  loose: bool = False) -> datetime | None:
    """Find the publication time inside a longer text (an info line, a list row, a page).

    Labelled times (发布时间：…) win; then the first full date with a year.
    `loose` also accepts year-less and relative forms (11月18日, 3小时前), which
    are only trustworthy in short, targeted snippets, not in article bodies.
    """
    if not text:
        return None
    text = " ".join(text.split())
    current = _now(now, tz)
    for label in LABEL_RE.finditer(text):
        value = parse_datetime(_leading_date(text[label.end():], loose=True), current, tz)
        if value is not None:
            return value
    patterns = [FULL_RE] + ([MONTH_DAY_RE, RELATIVE_RE, MONTH_DAY_DASH_RE] if loose else [])
    for regex in patterns:
        for match in regex.finditer(text):
            if not match.group(0).strip():
                continue
            value = parse_datetime(match.group(0), current, tz)
            if value is not None:
                return value
    return None


def _leading_date(text: str, loose: bool) -> str:
    """The date-looking prefix of `text` ('' if it does not start with one)."""
    patterns = [FULL_RE] + ([MONTH_DAY_RE, RELATIVE_RE, MONTH_DAY_DASH_RE] if loose else [])
    for regex in patterns:
        match = regex.match(text)
        if match and match.group(0).strip():
            return match.group(0)
    return ""
