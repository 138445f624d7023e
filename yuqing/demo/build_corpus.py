"""Assemble the demo corpus from the hand-written material, deterministically.

    python -m yuqing.demo.build_corpus            # rewrite yuqing/demo/corpus/posts.jsonl
    python -m yuqing.demo.build_corpus --check    # exit 1 if the committed file is stale

The material lives in pools_*.py (ordinary traffic) and story.py (the incident).
This script only schedules it over the five simulated days (with a day/night
rhythm), adds reposts, engagement, ids and the answer key. The output file is
committed; the demo and the tests never regenerate it.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import logging
import math
import random
import re
import sys
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from . import pools_board, pools_news, pools_weibo, story
from .cases import NewsCase, Reprint

logger = logging.getLogger(__name__)

TZ = ZoneInfo("Asia/Shanghai")
START = datetime(2026, 11, 16, tzinfo=TZ)
DAYS = 5
END = START + timedelta(days=DAYS) - timedelta(seconds=1)    # 2026-11-20 23:59:59
CORPUS_FILE = Path(__file__).with_name("corpus") / "posts.jsonl"
SEED = 20261116

CHANNELS = ("xyw", "jjzx", "rss", "weibo", "board")
JIUJIANG_DISTRICTS = ("浔阳区", "濂溪区", "柴桑区", "武宁县", "修水县", "永修县", "德安县", "都昌县",
                      "湖口县", "彭泽县", "瑞昌市", "共青城市", "庐山市")
TONES = {"-": "负面", "0": "中性", "+": "正面"}

# Relative activity per hour of day: quiet nights, morning and evening peaks.
HOUR_WEIGHTS = {
    "weibo": [1.2, 0.7, 0.3, 0.2, 0.2, 0.3, 0.8, 2, 3, 3.5, 3.5, 3.5, 4, 3, 3, 3, 3, 3.5, 4, 4, 4.5, 5, 4, 2.5],
    "board": [0.2, 0.1, 0, 0, 0, 0.1, 0.4, 1.5, 3, 4, 4, 3.5, 2.5, 2.5, 3.5, 3.5, 3, 2.5, 2, 2, 2, 1.8, 1.2, 0.6],
    "news": [0, 0, 0, 0, 0, 0, 0.5, 2, 3, 4, 4, 3.5, 2, 2.5, 3, 3.5, 3.5, 3, 2, 1.5, 1.5, 1, 0.5, 0],
}
# Deliberate bad inputs the crawler must survive (see site.py).
FAULTS = {"x-athlete": "http_500", "x-rain": "broken_html", "j-singer": "http_404"}
NO_TIME_BOARD_TITLE = "灵活就业人员养老保险缴费基数咨询"
XINHUA_KEYS = {"x-beijing", "x-shenzhou", "x-economy"}

XYW_REPORTERS = ["王晓东", "刘婷", "陈思远", "胡新", "周敏", "李泽宇", "杨帆"]
JJZX_EDITORS = ["陈立", "张蕾", "吴海波", "徐静"]
RSS_REPORTERS = ["江西新闻记者 邹晴", "江西新闻记者 彭浩", "江西新闻记者 龚雪", "江西新闻记者 万里"]
SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘蔡蒋余杜叶程魏苏吕丁任沈姚卢姜"

PHONE_RE = re.compile(r"(?<!\d)1[3-9]\d(?:-?\d{4}){2}(?!\d)")
IDCARD_RE = re.compile(r"(?<!\d)\d{17}[\dX](?!\d)")


def id_number(prefix: str, birth: str, seq: str) -> str:
    """An 18-digit resident ID with a valid GB 11643 check digit (fictional person)."""
    body = prefix + birth + seq
    weights = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2]
    check = "10X98765432"[sum(int(d) * w for d, w in zip(body, weights)) % 11]
    return body + check


DEMO_ID_NUMBER = id_number("360403", "19880715", "123")


@dataclass
class Draft:
    channel: str
    title: str
    content: str
    when: datetime
    topic: str
    tone: str
    region: tuple[str | None, str | None, str | None]
    incident: bool = False
    author: dict[str, Any] = field(default_factory=dict)
    heat: int = 1
    handle: str | None = None          # name other drafts use to point at this one
    dup_of: str | None = None          # handle of the original (near-duplicate)
    fault: str | None = None
    outlet: str | None = None
    weibo: dict[str, Any] | None = None
    board: dict[str, Any] | None = None
    engagement: dict[str, int] | None = None   # None: drawn at random when the record is written
    native_id: str = ""


# --- helpers ------------------------------------------------------------------
def parse_region(spec: str) -> tuple[str | None, str | None, str | None]:
    if not spec:
        return (None, None, None)
    if spec in JIUJIANG_DISTRICTS:
        return ("江西省", "九江市", spec)
    if spec == "九江":
        return ("江西省", "九江市", None)
    province, city, district = (spec.split("/") + ["", "", ""])[:3]
    return (province or None, city or None, district or None)


def incident_region(text: str) -> tuple[str | None, str | None, str | None]:
    """Incident posts are all about 九江; the district is 'clear' only when the text names it."""
    if any(name in text for name in ("濂溪", "十里街道", "五里街道")):
        return ("江西省", "九江市", "濂溪区")
    return ("江西省", "九江市", None)


def at(stamp: str, rng: random.Random) -> datetime:
    """'11-19 07:20' → aware datetime in 2026 with a random second (real posts are not on :00)."""
    month, rest = stamp.split("-", 1)
    day, clock = rest.split(" ")
    hour, minute = clock.split(":")
    return datetime(2026, int(month), int(day), int(hour), int(minute), rng.randrange(60), tzinfo=TZ)


def hour_quantile(kind: str, q: float) -> float:
    """The time of day (in hours) below which a fraction q of the day's activity falls."""
    weights = HOUR_WEIGHTS[kind]
    target, total = q * sum(weights), 0.0
    for hour, weight in enumerate(weights):
        if weight and total + weight >= target:
            return hour + (target - total) / weight
        total += weight
    return 23.999


def schedule(items: list[tuple[str, Any]], rng: random.Random) -> list[tuple[str, Any, datetime]]:
    """Place ordinary posts, given as (channel, case), over the five days and their hours.

    A quiet baseline must not show chance bursts that a warning rule would call a
    spike, so placement is balanced rather than random: each post goes to the day
    with the fewest posts of its channel and topic so far, each channel's posts sit
    at jittered, evenly spaced quantiles of its day/night curve, and each time slot
    takes the post whose topic was seen least recently.
    """
    items = rng.sample(items, len(items))
    per_channel = {(ch, d): 0 for ch in CHANNELS for d in range(DAYS)}
    per_topic: dict[tuple[str, int], int] = {}
    days: list[list[tuple[str, Any]]] = [[] for _ in range(DAYS)]
    for channel, case in items:
        cost = {d: 2 * per_channel[(channel, d)] + per_topic.get((case.topic, d), 0) for d in range(DAYS)}
        best = min(cost.values())
        day = rng.choice([d for d, c in cost.items() if c == best])
        days[day].append((channel, case))
        per_channel[(channel, day)] += 1
        per_topic[(case.topic, day)] = per_topic.get((case.topic, day), 0) + 1

    placed: list[tuple[str, Any, datetime]] = []
    for day, todays in enumerate(days):
        slots = []
        for channel in CHANNELS:
            count = sum(1 for ch, _ in todays if ch == channel)
            kind = channel if channel in HOUR_WEIGHTS else "news"
            slots += [(hour_quantile(kind, (k + rng.uniform(0.15, 0.85)) / count), channel) for k in range(count)]
        last_seen: dict[str, float] = {}
        waiting = {ch: [case for c, case in todays if c == ch] for ch in CHANNELS}
        for hours, channel in sorted(slots):
            case = min(waiting[channel], key=lambda c: (last_seen.get(c.topic, -99.0), rng.random()))
            waiting[channel].remove(case)
            last_seen[case.topic] = hours
            when = START + timedelta(days=day, hours=hours, seconds=rng.randrange(60))
            placed.append((channel, case, when.replace(microsecond=0)))
    return placed


def later(when: datetime, rng: random.Random, low_min: int, high_min: int) -> datetime:
    result = when + timedelta(minutes=rng.randint(low_min, high_min), seconds=rng.randrange(60))
    return min(result, END)


def stable_int(text: str, digits: int) -> int:
    value = int(hashlib.sha1(text.encode("utf-8")).hexdigest(), 16)
    return 10 ** (digits - 1) + value % (9 * 10 ** (digits - 1))


# --- people and engagement -------------------------------------------------------
USERS = {**pools_weibo.USERS, **story.INCIDENT_USERS}
HEAT = {0: 0.25, 1: 1.0, 2: 6.0, 3: 40.0}


def weibo_author(key: str) -> tuple[dict[str, Any], str, str]:
    name, followers, verified, vtype, location, client = USERS[key]
    author = {"name": name, "id": str(stable_int(name, 10)), "followers": followers,
              "verified": verified, "verified_type": vtype, "location": location}
    province = location.split(" ")[0] if location and location != "其他" else "江西"
    return author, client, f"发布于 {province}"


def weibo_engagement(followers: int, heat: int, rumour: bool, incident: bool,
                     rng: random.Random) -> dict[str, int]:
    # a local incident draws readers: its posts get about twice the attention of chatter
    scale = (math.sqrt(followers) / 10 + 1) * HEAT[heat] * (6 if incident else 3)
    likes = max(0, round(scale * rng.lognormvariate(0, 0.6)) - 1)
    comments = round(likes * rng.uniform(0.15, 0.5))
    reposts = round(likes * (rng.uniform(0.8, 1.6) if rumour else rng.uniform(0.05, 0.4)))
    return {"reposts": reposts, "comments": comments, "likes": likes}


def small_engagement(incident: bool, rng: random.Random) -> dict[str, int]:
    factor = 8 if incident else 1
    likes = round(rng.lognormvariate(1.5, 0.8) * factor)
    return {"reposts": round(likes * rng.uniform(0, 0.3)), "comments": round(likes * rng.uniform(0.1, 0.6)),
            "likes": likes}


# --- the builder ----------------------------------------------------------------
class CorpusBuilder:
    def __init__(self, seed: int = SEED):
        self.rng = random.Random(seed)
        self.drafts: list[Draft] = []
        self.by_handle: dict[str, Draft] = {}

    def add(self, draft: Draft) -> Draft:
        self.drafts.append(draft)
        if draft.handle:
            if draft.handle in self.by_handle:
                raise ValueError(f"duplicate handle {draft.handle!r}")
            self.by_handle[draft.handle] = draft
        return draft

    # ordinary traffic -----------------------------------------------------------
    def ordinary(self) -> None:
        rng = self.rng
        pools: list[tuple[str, Any]] = [("weibo", c) for c in pools_weibo.WEIBO] + \
            [("board", c) for c in pools_board.BOARD] + [("xyw", c) for c in pools_news.XYW] + \
            [("jjzx", c) for c in pools_news.JJZX] + [("rss", c) for c in pools_news.RSS]
        for channel, case, when in schedule(pools, rng):
            if channel == "weibo":
                user = case.user or rng.choice(pools_weibo.ORDINARY_USERS)
                self.add(self._weibo_draft(case.text, when, user, case.topic, case.tone, parse_region(case.region),
                                           case.heat, handle=f"w:{case.text}"))
            elif channel == "board":
                self.add(self._ordinary_board_draft(case, when))
            else:
                self.add(self._news_draft(channel, case, when))
        # near-duplicates come after their originals
        for opening, text in pools_weibo.WEIBO_REPOSTS:
            original = next(d for d in self.drafts if d.channel == "weibo" and d.content.startswith(opening))
            user = rng.choice([u for u in pools_weibo.ORDINARY_USERS if USERS[u][0] != original.author["name"]])
            self.add(self._weibo_draft(text, later(original.when, rng, 30, 300), user, original.topic,
                                       original.tone, original.region, 0, dup_of=original.handle))
        for channel, reprints in (("jjzx", pools_news.JJZX_REPRINTS), ("rss", pools_news.RSS_REPRINTS)):
            for reprint in reprints:
                self.add(self._reprint_draft(channel, reprint))

    def _ordinary_board_draft(self, case: Any, when: datetime) -> Draft:
        rng = self.rng
        content = case.content.replace("{idcard}", DEMO_ID_NUMBER)
        reply = None
        if case.reply_dept and case.reply:
            reply_at = self._office_hours(when + timedelta(days=rng.randint(1, 3)))
            if reply_at <= END:
                reply = (case.reply_dept, reply_at, case.reply)
        status = "已回复" if reply else ("办理中" if case.reply_dept or rng.random() < 0.3 else "未回复")
        fault = "no_time" if case.title == NO_TIME_BOARD_TITLE else None
        return self._board_draft(case.title, content, when, rng.choice(SURNAMES), case.topic, case.tone,
                                 parse_region(case.region), status, reply, fault=fault)

    # the incident ---------------------------------------------------------------
    def incident(self) -> None:
        rng = self.rng
        for item in story.WEIBO:
            draft = self._weibo_draft(item.text, at(item.at, rng), item.user, "环境保护", item.tone,
                                      incident_region(item.text), item.heat, incident=True,
                                      handle=f"iw:{item.key}" if item.key else None,
                                      dup_of=f"iw:{item.dup_of}" if item.dup_of else None)
            self.add(draft)
        for item in story.BOARD:
            reply = (item.reply_dept, at(item.reply_at, rng), item.reply) if item.reply_dept else None
            status = "已回复" if reply else ("办理中" if item.pending else "未回复")
            self.add(self._board_draft(item.title, item.content, at(item.at, rng), item.surname, "环境保护",
                                       item.tone, incident_region(item.title + item.content), status, reply,
                                       incident=True))
        for item in story.NEWS:
            content = "\n".join(item.paragraphs)
            outlet = item.outlet or {"xyw": "浔阳晚报", "jjzx": "九江在线", "rss": "江西新闻"}[item.channel]
            self.add(Draft(item.channel, item.title, content, at(item.at, rng), "环境保护", item.tone,
                           incident_region(item.title + content), incident=True, author={"name": item.author},
                           handle=f"in:{item.key}" if item.key else None,
                           dup_of=f"in:{item.dup_of}" if item.dup_of else None, outlet=outlet))

    # draft factories --------------------------------------------------------------
    def _weibo_draft(self, text: str, when: datetime, user: str, topic: str, tone: str,
                     region: tuple[str | None, str | None, str | None], heat: int, incident: bool = False,
                     handle: str | None = None, dup_of: str | None = None) -> Draft:
        author, client, region_name = weibo_author(user)
        draft = Draft("weibo", "", text, when, topic, tone, region, incident=incident, author=author, heat=heat,
                      handle=handle, dup_of=dup_of, weibo={"client": client, "region_name": region_name})
        rumour = dup_of == "iw:rumour" or handle == "iw:rumour"
        draft.engagement = weibo_engagement(author["followers"], heat, rumour, incident, self.rng)
        return draft

    def _board_draft(self, title: str, content: str, when: datetime, surname: str, topic: str, tone: str,
                     region: tuple[str | None, str | None, str | None], status: str,
                     reply: tuple[str, datetime, str] | None, incident: bool = False,
                     fault: str | None = None) -> Draft:
        board: dict[str, Any] = {"status": status, "reply_dept": None, "reply_time": None, "reply_content": None}
        if reply:
            dept, reply_at, text = reply
            board.update(reply_dept=dept, reply_time=reply_at.isoformat(),
                         reply_content=f"{surname}**网友：您好！您反映的问题已收悉。{text}感谢您对我们工作的关心和支持。")
        return Draft("board", title, content, when, topic, tone, region, incident=incident,
                     author={"name": f"{surname}**"}, board=board, fault=fault)

    def _news_draft(self, channel: str, case: NewsCase, when: datetime) -> Draft:
        rng = self.rng
        if channel == "xyw":
            outlet = "新华社" if case.key in XINHUA_KEYS else "浔阳晚报"
            author = "新华社" if outlet == "新华社" else rng.choice(XYW_REPORTERS)
        elif channel == "jjzx":
            outlet, author = "九江在线", rng.choice(JJZX_EDITORS)
        else:
            outlet, author = "江西新闻", rng.choice(RSS_REPORTERS)
        return Draft(channel, case.title, "\n".join(case.paragraphs), when, case.topic, case.tone,
                     parse_region(case.region), author={"name": author}, handle=f"n:{case.key}",
                     fault=FAULTS.get(case.key), outlet=outlet)

    def _reprint_draft(self, channel: str, reprint: Reprint) -> Draft:
        original = self.by_handle[f"n:{reprint.of}"]
        paragraphs = original.content.split("\n")
        if reprint.lead:
            paragraphs[0] = reprint.lead
        # reprints credit the original outlet, as 搬运 articles usually do
        paragraphs.append(f"（来源：{reprint.credit}）" if channel == "jjzx" else f"（据{reprint.credit}报道）")
        author = self.rng.choice(JJZX_EDITORS if channel == "jjzx" else RSS_REPORTERS)
        return Draft(channel, reprint.title, "\n".join(paragraphs), later(original.when, self.rng, 60, 480),
                     original.topic, original.tone, original.region, author={"name": author},
                     dup_of=original.handle, outlet=reprint.credit)

    def _office_hours(self, when: datetime) -> datetime:
        return when.replace(hour=self.rng.randint(9, 17), minute=self.rng.randrange(60), second=self.rng.randrange(60))

    # ids and records -----------------------------------------------------------------
    def build(self) -> list[dict[str, Any]]:
        self.ordinary()
        self.incident()
        self.drafts.sort(key=lambda d: (d.when, CHANNELS.index(d.channel), d.title, d.content))
        self._assign_ids()
        handles = {d.handle: d for d in self.drafts if d.handle}
        return [self._record(d, handles) for d in self.drafts]

    def _assign_ids(self) -> None:
        counters = {"xyw": 20431, "jjzx": 568102, "rss": 1127400}
        per_day: dict[str, int] = {}
        used: set[str] = set()
        for d in self.drafts:
            if d.channel == "weibo":
                minutes = int((d.when - START).total_seconds() // 60)
                native = str(5232100000000000 + minutes * 10000 + self.rng.randrange(10000))
                while native in used:
                    native = str(int(native) + 1)
            elif d.channel == "board":
                day = d.when.strftime("%Y%m%d")
                per_day[day] = per_day.get(day, 0) + 1
                native = f"{day}{per_day[day]:03d}"
            else:
                counters[d.channel] += self.rng.randint(1, 9)
                native = str(counters[d.channel])
            used.add(native)
            d.native_id = native

    def _record(self, d: Draft, handles: dict[str, Draft]) -> dict[str, Any]:
        text = f"{d.title}\n{d.content}"
        pii = PHONE_RE.findall(text) + IDCARD_RE.findall(text)
        engagement = d.engagement or small_engagement(d.incident, self.rng)
        author = {"name": None, "id": None, "followers": None, "verified": False, "verified_type": None,
                  "location": None, **d.author}
        return {
            "channel": d.channel,
            "id": d.native_id,
            "path": record_path(d.channel, d.native_id, d.when),
            "title": d.title,
            "content": d.content,
            "author": author,
            "published_at": d.when.isoformat(),
            "engagement": engagement,
            "outlet": d.outlet,
            "weibo": d.weibo,
            "board": d.board,
            # --- answer key: for tests only, never served ---
            "incident": d.incident,
            "expected_topic": d.topic,
            "expected_sentiment": TONES[d.tone],
            "expected_province": d.region[0],
            "expected_city": d.region[1],
            "expected_district": d.region[2],
            "dup_of": handles[d.dup_of].native_id if d.dup_of else None,
            "fault": d.fault,
            "pii": pii,
        }


def record_path(channel: str, native_id: str, when: datetime) -> str | None:
    """The site-relative URL of a post's page (Weibo posts have none on the demo site)."""
    if channel == "xyw":
        return f"/xyw/{when:%Y}/{when:%m%d}/{native_id}.html"
    if channel == "jjzx":
        return f"/jjzx/html/{when:%Y-%m}/{when:%d}/content_{native_id}.htm"
    if channel == "rss":
        return f"/jxnews/{native_id}.html"
    if channel == "board":
        return f"/wz/detail/{native_id}"
    return None


def build_corpus(seed: int = SEED) -> list[dict[str, Any]]:
    return CorpusBuilder(seed).build()


def dumps(records: list[dict[str, Any]]) -> str:
    return "".join(json.dumps(r, ensure_ascii=False, separators=(",", ":")) + "\n" for r in records)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only verify the committed file is up to date")
    parser.add_argument("--output", type=Path, default=CORPUS_FILE)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    text = dumps(build_corpus())
    if args.check:
        current = args.output.read_text(encoding="utf-8") if args.output.exists() else ""
        if current != text:
            logger.error("%s is stale; run python -m yuqing.demo.build_corpus", args.output)
            return 1
        logger.info("%s is up to date", args.output)
        return 0
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(text, encoding="utf-8")
    logger.info("wrote %d records to %s", text.count("\n"), args.output)
    return 0


if __name__ == "__main__":
    sys.exit(main())
