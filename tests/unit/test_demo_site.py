"""The demo corpus and the demo "internet" (yuqing/demo): real server on an ephemeral port."""
from __future__ import annotations

import re
import subprocess
import sys
import xml.etree.ElementTree as ET
from collections import Counter
from datetime import datetime, timedelta
from email.utils import parsedate_to_datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import httpx
import pytest
import yaml
from parsel import Selector

from yuqing.demo import CORPUS_FILE, DemoSite, load_corpus
from yuqing.demo.build_corpus import build_corpus, dumps

TZ = ZoneInfo("Asia/Shanghai")
ROOT = Path(__file__).resolve().parents[2]
DAYS = ["2026-11-16", "2026-11-17", "2026-11-18", "2026-11-19", "2026-11-20"]
CHANNELS = {"xyw", "jjzx", "rss", "weibo", "board"}
ANSWER_KEY = ("incident", "expected_topic", "expected_sentiment", "expected_province", "expected_city",
              "expected_district", "dup_of", "fault", "pii")
NS = {"content": "http://purl.org/rss/1.0/modules/content/"}


@pytest.fixture(scope="module")
def corpus() -> list[dict]:
    return load_corpus()


@pytest.fixture(scope="module")
def site():
    with DemoSite() as running:
        yield running


@pytest.fixture(scope="module")
def http(site):
    with httpx.Client(base_url=site.base_url, timeout=10) as client:
        yield client


def by(corpus, **match):
    return [r for r in corpus if all(r.get(k) == v for k, v in match.items())]


def when(record) -> datetime:
    return datetime.fromisoformat(record["published_at"])


def topic_labels() -> set[str]:
    return {t["label"] for t in yaml.safe_load((ROOT / "configs/topics.yaml").read_text("utf-8"))["topics"]}


def demo_sources() -> dict[str, dict]:
    data = yaml.safe_load((ROOT / "configs/demo/sources.yaml").read_text("utf-8"))
    return {s["name"]: s for s in data["sources"]}


# --- corpus invariants ------------------------------------------------------------
def test_committed_corpus_is_what_the_builder_makes():
    assert CORPUS_FILE.read_text("utf-8") == dumps(build_corpus()), \
        "posts.jsonl is stale: run python -m yuqing.demo.build_corpus"
    assert CORPUS_FILE.stat().st_size < 2_000_000


def test_corpus_size_and_incident_spread(corpus):
    assert len(corpus) >= 350
    incident = by(corpus, incident=True)
    assert len(incident) >= 120
    per_channel = Counter(r["channel"] for r in incident)
    assert set(per_channel) == CHANNELS
    assert per_channel.most_common(1)[0][0] == "weibo"


def test_every_record_has_the_record_fields_and_answer_key(corpus):
    labels = topic_labels()
    for r in corpus:
        for key in ("channel", "id", "path", "title", "content", "author", "published_at", "engagement",
                    "outlet", "weibo", "board", *ANSWER_KEY):
            assert key in r, f"{r['channel']}:{r['id']} lacks {key}"
        assert r["channel"] in CHANNELS
        assert isinstance(r["incident"], bool)
        assert r["expected_topic"] in labels
        assert r["expected_sentiment"] in {"负面", "中性", "正面"}
        assert (r["title"] + r["content"]).strip()
        assert set(r["engagement"]) == {"reposts", "comments", "likes"}
        assert all(isinstance(v, int) and v >= 0 for v in r["engagement"].values())
        assert (r["board"] is not None) == (r["channel"] == "board")
        assert (r["weibo"] is not None) == (r["channel"] == "weibo")


def test_ids_and_paths_are_unique(corpus):
    keys = [(r["channel"], r["id"]) for r in corpus]
    assert len(keys) == len(set(keys))
    paths = [r["path"] for r in corpus if r["path"]]
    assert len(paths) == len(set(paths))
    assert all(r["path"] is None for r in by(corpus, channel="weibo"))


def test_times_cover_five_days_in_shanghai_time(corpus):
    for r in corpus:
        assert r["published_at"].endswith("+08:00")
        assert r["published_at"][:10] in DAYS
    assert {r["published_at"][:10] for r in corpus} == set(DAYS)


def test_incident_rises_on_the_19th_and_declines_on_the_20th(corpus):
    per_day = Counter(r["published_at"][:10] for r in by(corpus, incident=True))
    assert per_day["2026-11-16"] == per_day["2026-11-17"] == 0
    assert 0 < per_day["2026-11-18"] < per_day["2026-11-19"]
    assert 0 < per_day["2026-11-20"] < per_day["2026-11-19"]
    first = min(by(corpus, incident=True), key=when)
    assert first["published_at"].startswith("2026-11-18T0")        # noticed on the morning of day 1
    assert first["channel"] in {"weibo", "board"}


def test_incident_answer_key(corpus):
    incident = by(corpus, incident=True)
    assert {r["expected_topic"] for r in incident} == {"环境保护"}
    assert {r["expected_district"] for r in incident} <= {"濂溪区", None}
    assert sum(r["expected_district"] == "濂溪区" for r in incident) > len(incident) // 3
    assert {r["expected_city"] for r in incident} == {"九江市"}
    sentiment = Counter(r["expected_sentiment"] for r in incident)
    assert sentiment["负面"] > sentiment["中性"] + sentiment["正面"]
    day20 = Counter(r["expected_sentiment"] for r in incident if r["published_at"].startswith("2026-11-20"))
    assert day20["负面"] < day20["中性"] + day20["正面"]               # recovery
    notices = [r for r in incident if "情况通报" in r["title"] + r["content"]
               and r["published_at"].startswith("2026-11-19T2")]
    assert notices, "the evening 情况通报 of 11-19 is missing"
    assert any("不实" in r["content"] and "自来水" in r["content"] for r in notices)


def test_ordinary_traffic_is_steady_with_a_day_night_rhythm(corpus):
    ordinary = by(corpus, incident=False)
    per_day = Counter(r["published_at"][:10] for r in ordinary)
    mean = len(ordinary) / 5
    assert all(abs(per_day[d] - mean) <= 0.15 * mean for d in DAYS), per_day
    hours = Counter(when(r).hour for r in ordinary if r["channel"] == "weibo")
    assert sum(hours[h] for h in range(2, 6)) * 4 < sum(hours[h] for h in range(19, 23))
    topics = Counter(r["expected_topic"] for r in ordinary)
    assert set(topics) == topic_labels()
    assert topics["环境保护"] < topics["城乡建设"]                       # ordinary environment traffic: a little
    negative_districts = {r["expected_district"] for r in ordinary if r["expected_sentiment"] == "负面"}
    assert {"浔阳区", "柴桑区", "濂溪区", "共青城市", "庐山市", "修水县"} <= negative_districts


def test_ordinary_traffic_has_no_chance_bursts(corpus):
    # The warning rules must find the incident, not a random clump of chatter: no ordinary
    # topic has more than 7 posts in any 6-hour window (below any sensible spike minimum).
    for topic in {r["expected_topic"] for r in corpus}:
        times = sorted(when(r) for r in by(corpus, incident=False, expected_topic=topic))
        for i, start in enumerate(times):
            in_window = sum(1 for t in times[i:] if t < start + timedelta(hours=6))
            assert in_window <= 7, (topic, start, in_window)
    incident = sorted(when(r) for r in by(corpus, incident=True))
    assert max(sum(1 for t in incident if s <= t < s + timedelta(hours=6)) for s in incident) > 25


def test_regions_outside_jiangxi_exercise_extraction(corpus):
    regions = {(r["expected_province"], r["expected_city"], r["expected_district"]): r for r in corpus}
    assert ("北京市", "北京市", "朝阳区") in regions
    shanghai = regions[("上海市", "上海市", "黄浦区")]
    assert "南京路" in shanghai["title"] + shanghai["content"]          # a street, not the city of 南京
    foshan = regions[("广东省", "佛山市", "南海区")]
    assert "九江" in foshan["content"]                                   # 九江镇 in 佛山, not 九江市


def test_near_duplicates_point_at_earlier_originals(corpus):
    index = {r["id"]: r for r in corpus}
    dups = [r for r in corpus if r["dup_of"]]
    assert len(dups) >= 25
    for r in dups:
        original = index[r["dup_of"]]
        assert when(original) < when(r)
        assert r["content"] != original["content"]                      # varied, not verbatim
        grams = {r["content"][i:i + 2] for i in range(len(r["content"]) - 1)}
        quoted = {g for g in grams if g in original["content"]}
        assert len(quoted) / len(grams) > 0.6, r["content"]              # mostly the original's words
    assert sum(r["incident"] for r in dups) >= 15


def test_weibo_users_and_engagement_are_realistic(corpus):
    weibo = by(corpus, channel="weibo")
    locations = {r["author"]["location"] for r in weibo}
    assert "江西 九江" in locations and "" in locations and len(locations) >= 5
    assert any(r["author"]["verified"] for r in weibo)
    incident_likes = sorted(r["engagement"]["likes"] for r in weibo if r["incident"])
    ordinary_likes = sorted(r["engagement"]["likes"] for r in weibo if not r["incident"])
    assert incident_likes[-1] > 5 * ordinary_likes[-1]                  # the viral posts
    assert incident_likes[len(incident_likes) // 2] > ordinary_likes[len(ordinary_likes) // 2]


def test_every_weibo_post_is_found_by_a_configured_keyword(corpus):
    keywords = demo_sources()["weibo"]["keywords"]
    for r in by(corpus, channel="weibo"):
        assert any(k in r["content"] for k in keywords), r["content"]


def test_deliberate_bad_inputs_are_in_the_corpus(corpus):
    faults = Counter(r["fault"] for r in corpus if r["fault"])
    assert faults == {"http_500": 1, "http_404": 1, "broken_html": 1, "no_time": 1}
    pii = [p for r in corpus for p in r["pii"]]
    assert any(re.fullmatch(r"1\d{10}", p) for p in pii)
    assert any(re.fullmatch(r"1\d\d-\d{4}-\d{4}", p) for p in pii)
    ids = [p for p in pii if len(p) == 18]
    assert ids
    weights = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2]
    for number in ids:
        assert "10X98765432"[sum(int(d) * w for d, w in zip(number, weights)) % 11] == number[-1]


def test_gbk_channel_text_is_encodable(corpus):
    for r in by(corpus, channel="jjzx"):
        (r["title"] + r["content"] + (r["author"]["name"] or "")).encode("gbk")


# --- routes ---------------------------------------------------------------------------
def walk(http, first: str, next_css: str) -> list[Selector]:
    pages, url = [], first
    while url:
        response = http.get(url)
        assert response.status_code == 200, url
        text = response.content.decode("gbk") if url.startswith("/jjzx/") else response.text
        sel = Selector(text)
        pages.append(sel)
        url = sel.css(next_css).attrib.get("href")
        assert len(pages) < 50
    return pages


def test_home_and_robots(http):
    assert "问政九江" in http.get("/").text
    robots = http.get("/robots.txt")
    assert robots.status_code == 200 and "Allow: /" in robots.text


def test_xyw_list_pages_reach_every_article(http, corpus):
    first = http.get("/xyw/index.html")
    assert first.headers["content-type"] == "text/html; charset=utf-8"
    pages = walk(http, "/xyw/index.html", "a.next")
    assert len(pages[0].css("ul.news-list li")) == 20
    assert pages[0].css("a.next::attr(href)").get() == "/xyw/list_2.html"
    paths = [p for page in pages for p in page.css("ul.news-list li a::attr(href)").getall()]
    expected = sorted(by(corpus, channel="xyw"), key=when, reverse=True)
    assert paths == [r["path"] for r in expected]                       # all of them, newest first
    dates = [d for page in pages for d in page.css("ul.news-list span.date::text").getall()]
    assert dates[0] == when(expected[0]).strftime("%Y-%m-%d %H:%M")


def test_xyw_article_page(http, corpus):
    record = next(r for r in by(corpus, channel="xyw", incident=True) if r["title"].startswith("十里河部分河段"))
    sel = Selector(http.get(record["path"]).text)
    assert sel.css("h1.article-title::text").get() == record["title"]
    assert sel.css("div.article-info span.time::text").get() == when(record).strftime("%Y-%m-%d %H:%M")
    assert "来源：浔阳晚报" in "".join(sel.css("div.article-info ::text").getall())
    body = sel.css("div.article-content p::text").getall()
    assert body == record["content"].split("\n")
    assert sel.css("ul.related a") and sel.css("div.footer") and sel.css("ul.nav")


def test_jjzx_is_gbk_declared_only_in_meta(http, corpus):
    response = http.get("/jjzx/index.html")
    assert response.headers["content-type"] == "text/html"
    with pytest.raises(UnicodeDecodeError):
        response.content.decode("utf-8")
    text = response.content.decode("gbk")
    assert 'content="text/html; charset=gbk"' in text
    record = next(r for r in by(corpus, channel="jjzx", incident=True) if "刺鼻气味" in r["title"])
    article = http.get(record["path"])
    assert article.headers["content-type"] == "text/html"
    page = article.content.decode("gbk")
    assert record["title"] in page and "十里河" in page
    assert f"发布时间：{when(record):%Y年%m月%d日 %H:%M}" in page
    assert Selector(page).css("td#zoom").get() is not None


def test_jjzx_list_pages_reach_every_article(http, corpus):
    pages = walk(http, "/jjzx/index.html", "a.next")
    paths = {p for page in pages for p in page.css("table.newslist td.bt a::attr(href)").getall()}
    assert paths == {r["path"] for r in by(corpus, channel="jjzx")}
    assert http.get("/jjzx/index_1.html").status_code == 404
    assert http.get(f"/jjzx/index_{len(pages) + 1}.html").status_code == 404


def test_rss_feed_has_every_item_with_full_fields(http, corpus):
    response = http.get("/rss/jxnews.xml")
    assert response.headers["content-type"].startswith("application/rss+xml")
    root = ET.fromstring(response.content)
    assert root.tag == "rss" and root.get("version") == "2.0"
    items = root.findall("channel/item")
    records = {r["path"]: r for r in by(corpus, channel="rss")}
    assert len(items) == len(records)
    for item in items:
        link = item.findtext("link")
        assert link.startswith(http.base_url.__str__().rstrip("/"))
        record = records[link.removeprefix(str(http.base_url).rstrip("/"))]
        assert item.findtext("title") == record["title"]
        assert item.findtext("guid") == link
        assert parsedate_to_datetime(item.findtext("pubDate")) == when(record)
        assert "+0800" in item.findtext("pubDate")
        assert item.findtext("author") == record["author"]["name"]
        assert item.findtext("description")
        full = item.find("content:encoded", NS).text
        assert all(f"<p>{p}</p>" in full for p in record["content"].split("\n"))
    sample = records[next(iter(records))]
    page = http.get(sample["path"])
    assert page.status_code == 200 and sample["title"] in page.text


def test_weibo_search_shape(http, corpus):
    data = http.get("/api/weibo/search", params={"q": "十里河", "page": 1}).json()
    assert data["ok"] == 1
    matching = [r for r in by(corpus, channel="weibo") if "十里河" in r["content"]]
    info = data["data"]["cardlistInfo"]
    assert info["total"] == len(matching) and info["page"] == 2
    cards = data["data"]["cards"]
    assert len(cards) == 10 and all(c["card_type"] == 9 for c in cards)
    newest = max(matching, key=when)
    mblog = cards[0]["mblog"]
    assert mblog["id"] == mblog["mid"] == newest["id"]
    assert re.fullmatch(r"(Mon|Tue|Wed|Thu|Fri|Sat|Sun) Nov \d\d \d\d:\d\d:\d\d \+0800 2026", mblog["created_at"])
    assert datetime.strptime(mblog["created_at"], "%a %b %d %H:%M:%S %z %Y") == when(newest)
    assert set(mblog["user"]) >= {"id", "screen_name", "followers_count", "verified", "verified_type", "location"}
    assert isinstance(mblog["user"]["id"], int)
    assert {"reposts_count", "comments_count", "attitudes_count", "source", "region_name", "isLongText"} <= set(mblog)
    assert mblog["region_name"].startswith("发布于 ")


def test_weibo_text_is_marked_up_like_m_weibo_cn(http, corpus):
    post = next(r for r in by(corpus, channel="weibo") if "@九江生态环境" in r["content"] and "[怒]" in r["content"])
    data = http.get("/api/weibo/search", params={"q": "恒泰化工", "page": 1}).json()
    cards = {c["mblog"]["id"]: c["mblog"] for c in data["data"]["cards"]}
    page = 1
    while post["id"] not in cards and data["data"]["cardlistInfo"]["page"]:
        page += 1
        data = http.get("/api/weibo/search", params={"q": "恒泰化工", "page": page}).json()
        cards.update({c["mblog"]["id"]: c["mblog"] for c in data["data"]["cards"]})
    text = cards[post["id"]]["text"]
    assert "<a href='/n/九江生态环境'>@九江生态环境</a>" in text
    assert '<span class="url-icon"><img alt="[怒]"' in text
    tagged = next(r for r in by(corpus, channel="weibo") if "#九江十里河大量死鱼#" in r["content"])
    found = http.get("/api/weibo/search", params={"q": tagged["content"][:12], "page": 1}).json()
    html = next(c["mblog"]["text"] for c in found["data"]["cards"] if c["mblog"]["id"] == tagged["id"])
    assert '<span class="surl-text">#九江十里河大量死鱼#</span></a>' in html
    plain = re.sub(r"<img alt=\"(\[[^\]]+\])\"[^>]*>", r"\1", html)
    assert re.sub(r"<[^>]+>", "", plain).replace("<br />", "\n") == tagged["content"].replace("&", "&amp;")


def test_weibo_pagination_reaches_every_post(http, corpus):
    found: set[str] = set()
    for keyword in demo_sources()["weibo"]["keywords"]:
        page = 1
        while True:
            data = http.get("/api/weibo/search", params={"q": keyword, "page": page}).json()
            if data["ok"] == 0:                    # only a keyword nothing matches is empty on page 1
                assert page == 1, f"cardlistInfo.page of {keyword!r} led past the last page"
                assert data == {"ok": 0, "msg": "这里还没有内容", "data": {"cards": []}}
                break
            assert len(data["data"]["cards"]) <= 10
            found.update(c["mblog"]["id"] for c in data["data"]["cards"])
            assert all(keyword in r["content"] for r in by(corpus, channel="weibo")
                       if r["id"] in {c["mblog"]["id"] for c in data["data"]["cards"]})
            if data["data"]["cardlistInfo"]["page"] is None:
                assert http.get("/api/weibo/search", params={"q": keyword, "page": page + 1}).json()["ok"] == 0
                break
            page = data["data"]["cardlistInfo"]["page"]
    assert found == {r["id"] for r in by(corpus, channel="weibo")}


def test_board_list_and_detail(http, corpus):
    pages = walk(http, "/wz/list?page=1", "a.next")
    rows = [row for page in pages for row in page.css("table.msg-list tr")[1:]]
    records = {r["id"]: r for r in by(corpus, channel="board")}
    assert len(rows) == len(records)
    for row in rows:
        number = row.css("td.no::text").get()
        assert row.css("td.title a::attr(href)").get() == f"/wz/detail/{number}"
        assert row.css("td.status::text").get() in {"已回复", "办理中", "未回复"}
    answered = next(r for r in records.values() if r["incident"] and r["board"]["reply_dept"] == "濂溪区生态环境分局")
    sel = Selector(http.get(answered["path"]).text)
    assert sel.css("h2.msg-title::text").get() == answered["title"]
    assert sel.css("span.msg-author::text").get() == f"网友：{answered['author']['name']}"
    assert sel.css("span.msg-time::text").get() == f"留言时间：{when(answered):%Y-%m-%d %H:%M:%S}"
    assert sel.css("div.msg-content::text").get() == answered["content"]
    assert sel.css("div.reply span.reply-dept::text").get() == "濂溪区生态环境分局"
    reply_time = datetime.fromisoformat(answered["board"]["reply_time"])
    assert sel.css("div.reply span.reply-time::text").get() == f"答复时间：{reply_time:%Y-%m-%d %H:%M:%S}"
    assert "十里河" in sel.css("div.reply div.reply-content::text").get()
    unanswered = next(r for r in records.values() if r["board"]["status"] == "未回复")
    assert not Selector(http.get(unanswered["path"]).text).css("div.reply")


# --- deliberate bad inputs and malformed requests ---------------------------------------
def test_fault_pages(http, corpus):
    assert http.get(by(corpus, fault="http_500")[0]["path"]).status_code == 500
    assert http.get(by(corpus, fault="http_404")[0]["path"]).status_code == 404
    broken = by(corpus, fault="broken_html")[0]
    response = http.get(broken["path"])
    assert response.status_code == 200
    assert "</html>" not in response.text and "</body>" not in response.text
    assert broken["title"] in response.text
    assert all(p in response.text for p in broken["content"].split("\n"))
    assert Selector(response.text).css("div.article-content")         # lxml still recovers the body


def test_board_message_without_time(http, corpus):
    record = by(corpus, fault="no_time")[0]
    sel = Selector(http.get(record["path"]).text)
    assert sel.css("h2.msg-title::text").get() == record["title"]
    assert not sel.css("span.msg-time")
    assert "留言时间" not in sel.get()
    pages = walk(http, "/wz/list?page=1", "a.next")
    row = next(r for p in pages for r in p.css("table.msg-list tr") if r.css("td.no::text").get() == record["id"])
    assert (row.css("td.time::text").get() or "").strip() == ""


def test_personal_data_is_served_as_posted(http, corpus):
    record = next(r for r in by(corpus, channel="board") if "13912345678" in r["pii"])
    assert "13912345678" in http.get(record["path"]).text


@pytest.mark.parametrize("path, status", [
    ("/nowhere", 404),
    ("/xyw/list_1.html", 404),
    ("/xyw/list_99.html", 404),
    ("/xyw/2026/1118/1.html", 404),
    ("/jjzx/html/2026-11/18/content_1.htm", 404),
    ("/jxnews/nope.html", 404),
    ("/wz/detail/20991231001", 404),
    ("/wz/list?page=abc", 400),
    ("/wz/list?page=0", 400),
])
def test_malformed_and_unknown_routes(http, path, status):
    assert http.get(path).status_code == status


def test_article_under_the_wrong_date_folder_is_not_found(http, corpus):
    record = by(corpus, channel="xyw", fault=None)[0]
    wrong = re.sub(r"/(\d{4})/(\d{4})/", "/2026/0101/", record["path"])
    assert http.get(wrong).status_code == 404


@pytest.mark.parametrize("params, message", [
    ({"page": "1"}, "q"),
    ({"q": "", "page": "1"}, "q"),
    ({"q": "九江", "page": "abc"}, "page"),
    ({"q": "九江", "page": "0"}, "page"),
])
def test_weibo_api_rejects_bad_parameters(http, params, message):
    response = http.get("/api/weibo/search", params=params)
    assert response.status_code == 400
    data = response.json()
    assert data["ok"] == 0 and message in data["msg"]


def test_board_page_past_the_end_is_empty(http):
    sel = Selector(http.get("/wz/list?page=99").text)
    assert len(sel.css("table.msg-list tr")) == 1 and not sel.css("a.next")


def test_methods_other_than_get_and_head(http):
    assert http.post("/xyw/index.html").status_code == 405
    head = http.head("/xyw/index.html")
    assert head.status_code == 200 and head.content == b"" and int(head.headers["content-length"]) > 0


def test_answer_key_is_never_served(http, corpus):
    bodies = [http.get("/api/weibo/search", params={"q": "九江", "page": 1}).text,
              http.get("/rss/jxnews.xml").text, http.get("/xyw/index.html").text,
              http.get(by(corpus, channel="board")[0]["path"]).text]
    for body in bodies:
        assert "expected_" not in body and "incident" not in body and "dup_of" not in body


# --- the simulated clock --------------------------------------------------------------------
def test_clock_hides_future_posts(corpus):
    clock = datetime(2026, 11, 18, 12, 0, tzinfo=TZ)
    with DemoSite(clock=clock) as site, httpx.Client(base_url=site.base_url) as http:
        pages = walk(http, "/xyw/index.html", "a.next")
        listed = {p for page in pages for p in page.css("ul.news-list a::attr(href)").getall()}
        assert listed == {r["path"] for r in by(corpus, channel="xyw") if when(r) <= clock}
        future = next(r for r in by(corpus, channel="xyw") if when(r) > clock)
        assert http.get(future["path"]).status_code == 404
        data = http.get("/api/weibo/search", params={"q": "十里河", "page": 1}).json()
        visible = [r for r in by(corpus, channel="weibo") if "十里河" in r["content"] and when(r) <= clock]
        assert data["data"]["cardlistInfo"]["total"] == len(visible) < 10
        items = ET.fromstring(http.get("/rss/jxnews.xml").content).findall("channel/item")
        assert len(items) == sum(when(r) <= clock for r in by(corpus, channel="rss"))

        site.set_clock(None)
        assert http.get(future["path"]).status_code == 200
        site.set_clock(datetime(2026, 11, 15, 12, 0))                   # naive: Asia/Shanghai
        assert site.clock.tzinfo is not None
        assert http.get("/api/weibo/search", params={"q": "九江", "page": 1}).json()["ok"] == 0
        assert not Selector(http.get("/xyw/index.html").text).css("ul.news-list li")


def test_clock_shows_board_replies_only_once_written(corpus):
    record = next(r for r in by(corpus, channel="board", incident=True) if r["board"]["reply_time"]
                  and datetime.fromisoformat(r["board"]["reply_time"]) - when(r) > timedelta(hours=12))
    reply_at = datetime.fromisoformat(record["board"]["reply_time"])
    with DemoSite(clock=reply_at - timedelta(minutes=1)) as site, httpx.Client(base_url=site.base_url) as http:
        before = Selector(http.get(record["path"]).text)
        assert not before.css("div.reply")
        assert "办理状态：办理中" in before.css("span.msg-status::text").get()
        site.set_clock(reply_at)
        after = Selector(http.get(record["path"]).text)
        assert after.css("div.reply span.reply-dept::text").get() == record["board"]["reply_dept"]
        assert "已回复" in after.css("span.msg-status::text").get()


# --- configs/demo/sources.yaml against the served pages ----------------------------------
def test_demo_sources_validate(monkeypatch):
    from yuqing.config import load_settings

    monkeypatch.setenv("YUQING_DEMO_BASE", "http://127.0.0.1:1")
    sources = load_settings(ROOT / "configs/demo/app.yaml").sources.sources
    assert {s.platform_name for s in sources} == {"news", "rss", "weibo", "gov_board"}
    assert all(s.start_urls[0].startswith("http://127.0.0.1:1/") for s in sources)


@pytest.mark.parametrize("name, list_url, gbk", [
    ("xyw", "/xyw/index.html", False),
    ("jjzx", "/jjzx/index.html", True),
    ("wenzheng", "/wz/list?page=1", False),
])
def test_demo_source_selectors_match_the_site(http, name, list_url, gbk):
    source = demo_sources()[name]
    assert source["start_urls"][0] == "${YUQING_DEMO_BASE:-http://127.0.0.1:8800}" + list_url
    decode = (lambda r: r.content.decode("gbk")) if gbk else (lambda r: r.text)
    listing = Selector(decode(http.get(list_url)))
    links = listing.css(source["list_page"]["link_selector"]).getall()
    assert len(links) >= 15 and all(re.search(source["list_page"]["link_pattern"], u) for u in links)
    assert listing.css(source["list_page"]["next_selector"]).get()
    detail = Selector(decode(http.get(links[-1])))
    rules = source["detail"]
    for field in ("title", "content", "published_at"):
        assert "".join(detail.css(rules[field]).xpath("string()").getall()).strip(), field
    assert re.search(r"2026\D+11\D+\d\d\D+\d\d:\d\d", detail.css(rules["published_at"]).xpath("string()").get())


# --- python -m yuqing.demo.site -------------------------------------------------------------
def test_command_line_server_serves_and_logs_requests():
    proc = subprocess.Popen([sys.executable, "-m", "yuqing.demo.site", "--port", "0", "--clock", "2026-11-19T12:00"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT)
    try:
        line = proc.stdout.readline()
        base = re.search(r"(http://127\.0\.0\.1:\d+)", line).group(1)
        response = httpx.get(f"{base}/api/weibo/search", params={"q": "九江", "page": 1}, timeout=10)
        assert response.json()["ok"] == 1
        newest = datetime.strptime(response.json()["data"]["cards"][0]["mblog"]["created_at"],
                                   "%a %b %d %H:%M:%S %z %Y")
        assert newest <= datetime(2026, 11, 19, 12, 0, tzinfo=TZ)
    finally:
        proc.terminate()
        _, err = proc.communicate(timeout=10)
    assert "GET /api/weibo/search" in err


def test_changed_tells_whether_a_channel_shows_anything_new(corpus):
    site = DemoSite()
    board = sorted(by(corpus, channel="board"), key=when)
    first = when(board[0])
    assert site.changed("board", None, first)
    assert not site.changed("board", None, first - timedelta(seconds=1))
    assert not site.changed("board", first, first)
    record = next(r for r in board if r["board"]["reply_time"])
    reply_at = datetime.fromisoformat(record["board"]["reply_time"])
    others = [when(r) for r in board] + [datetime.fromisoformat(r["board"]["reply_time"]) for r in board
                                         if r["board"]["reply_time"] and r is not record]
    if not any(reply_at - timedelta(seconds=1) < t <= reply_at for t in others):
        assert site.changed("board", reply_at - timedelta(seconds=1), reply_at)   # a reply is news too
    assert not site.changed("weibo", datetime(2026, 12, 1, tzinfo=TZ), datetime(2026, 12, 2, tzinfo=TZ))
