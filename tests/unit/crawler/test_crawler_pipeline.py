"""RawPost → Post normalization, stable ids, seen-state and the pipeline chain into the inbox."""
from __future__ import annotations

import shutil
import sqlite3
from datetime import datetime, timedelta

import pytest
from scrapy.exceptions import DropItem
from scrapy.utils.test import get_crawler

from crawler import metrics
from crawler.inbox import Inbox
from crawler.items import RawPost
from crawler.normalize import InvalidPost, to_post
from crawler.pipelines import InboxWriterPipeline, RunDedupePipeline, SeenStatePipeline, ValidatePipeline
from crawler.state import SeenState, content_hash
from index.schema import DEFAULT_TZ, post_id

CRAWLED = datetime(2026, 11, 24, 12, 0, tzinfo=DEFAULT_TZ)


def raw(**fields) -> RawPost:
    base = dict(source="xyw", platform="news", url="http://127.0.0.1:8000/xyw/2026/1118/1.html",
                title="标题", content="正文", published_at=datetime(2026, 11, 18, 9, 12), crawled_at=CRAWLED)
    base.update(fields)
    return RawPost(**base)


# --- normalization ------------------------------------------------------------------
def test_ids_are_stable_and_url_normalized():
    a = to_post(raw(url="HTTP://127.0.0.1:8000/xyw/2026/1118/1.html?utm_source=wx&b=2&a=1#top"))
    b = to_post(raw(url="http://127.0.0.1:8000/xyw/2026/1118/1.html?a=1&b=2"))
    assert a.id == b.id == post_id("news", url="http://127.0.0.1:8000/xyw/2026/1118/1.html?a=1&b=2")
    assert a.id.startswith("news:u")
    assert to_post(raw(platform="weibo", native_id=" 4981 ")).id == "weibo:4981"


def test_naive_time_is_shanghai_and_text_is_cleaned():
    post = to_post(raw(title="  濂溪区\n 十里河  ", content="\u3000\u3000第一段\xa0文字\r\n\r\n  第二段  "))
    assert post.published_at.utcoffset() == timedelta(hours=8)
    assert post.title == "濂溪区 十里河"
    assert post.content == "第一段 文字\n第二段"


def test_string_times_are_parsed_relative_to_crawl_time():
    post = to_post(raw(published_at="3小时前"))
    assert post.published_at == CRAWLED - timedelta(hours=3)


def test_missing_date_is_kept_and_flagged():
    post = to_post(raw(published_at=None))
    assert post.published_at == CRAWLED
    assert post.extra["date_missing"] is True
    unparsed = to_post(raw(published_at="某天"))
    assert unparsed.extra == {"date_missing": True, "date_raw": "某天"}


def test_author_and_engagement_are_coerced():
    post = to_post(raw(author={"name": " 九江小王 ", "id": 123, "followers": "1.2万", "verified": 1},
                       engagement={"reposts": "5", "comments": None, "likes": -1}))
    assert post.author.model_dump() == {"name": "九江小王", "id": "123", "followers": 12000, "verified": True,
                                        "location": None}
    assert post.engagement.model_dump() == {"reposts": 5, "comments": 0, "likes": 0}


@pytest.mark.parametrize("fields, reason", [
    ({"title": " ", "content": "\n"}, "no title and no content"),
    ({"url": None, "native_id": None}, "native id or a url"),
    ({"platform": "tiktok"}, "platform"),
])
def test_invalid_posts_say_why(fields, reason):
    with pytest.raises(InvalidPost, match=reason):
        to_post(raw(**fields))


# --- seen state ------------------------------------------------------------------------
def test_content_hash_ignores_crawl_details():
    post = to_post(raw())
    later = to_post(raw(crawled_at=CRAWLED + timedelta(hours=1)))
    assert content_hash(post) == content_hash(later)
    undated = to_post(raw(published_at=None))
    undated_later = to_post(raw(published_at=None, crawled_at=CRAWLED + timedelta(hours=1)))
    assert content_hash(undated) == content_hash(undated_later)  # the stand-in time is not content
    assert content_hash(to_post(raw(engagement={"likes": 1}))) != content_hash(post)
    assert content_hash(to_post(raw(extra={"reply": {"content": "已处理"}}))) != content_hash(post)


def test_seen_state_round_trip(tmp_path):
    path = tmp_path / "state" / "crawl.sqlite3"
    with SeenState(path) as state:
        assert not state.is_unchanged("news:1", "h1")
        assert state.remember([("news:1", "h1", "xyw"), ("news:2", "h2", "xyw")]) == 2
        assert state.is_unchanged("news:1", "h1")
        assert not state.is_unchanged("news:1", "h1-changed")
    with SeenState(path) as reopened:  # survives the process
        assert reopened.count() == 2
        reopened.remember([("news:1", "h1-changed", "xyw")])
        assert reopened.known_hash("news:1") == "h1-changed"


def test_corrupt_state_file_has_a_clear_error(tmp_path):
    path = tmp_path / "crawl.sqlite3"
    path.write_bytes(b"this is not a database" * 100)
    with pytest.raises(RuntimeError, match="delete it"):
        SeenState(path)


# --- the pipeline chain ------------------------------------------------------------------
class _Spider:
    name = "xyw"


@pytest.fixture
def chain(tmp_path):
    crawler = get_crawler(settings_dict={"YUQING_INBOX_DIR": str(tmp_path / "inbox"),
                                         "YUQING_STATE_PATH": str(tmp_path / "state.sqlite3"),
                                         "YUQING_INBOX_BATCH_SIZE": 2})
    crawler.spider = _Spider()
    stages = [ValidatePipeline.from_crawler(crawler), RunDedupePipeline.from_crawler(crawler),
              SeenStatePipeline.from_crawler(crawler), InboxWriterPipeline.from_crawler(crawler)]
    for stage in stages:
        getattr(stage, "open_spider", lambda: None)()

    def run(item):
        for stage in stages:
            item = stage.process_item(item)
        return item

    def close():
        for stage in stages:
            getattr(stage, "close_spider", lambda: None)()

    yield run, close, crawler.stats, Inbox(tmp_path / "inbox"), stages[-1]


def test_pipeline_writes_batches_and_drops_bad_items(chain):
    run, close, stats, inbox, writer = chain
    run(raw(url="http://h/1.html"))
    assert inbox.pending() == []                     # buffered until the batch is full
    run(raw(url="http://h/2.html"))
    assert len(inbox.pending()) == 1                 # batch of 2 flushed
    with pytest.raises(DropItem):
        run(raw(url="http://h/2.html"))              # same post again in this crawl
    with pytest.raises(DropItem):
        run(raw(url="http://h/3.html", title="", content=""))
    run(raw(url="http://h/4.html"))
    close()                                          # the last, partial batch is flushed on close
    posts = [p for batch in inbox.batches() for p in batch.posts]
    assert sorted(p.url for p in posts) == ["http://h/1.html", "http://h/2.html", "http://h/4.html"]
    assert stats.get_value(metrics.WRITTEN) == 3
    assert stats.get_value(metrics.DUPLICATES) == 1
    assert stats.get_value(metrics.INVALID) == 1
    assert stats.get_value(metrics.ERROR_KIND + "invalid") == 1


def test_posts_count_as_seen_only_after_they_reach_the_inbox(chain, tmp_path):
    run, close, stats, inbox, writer = chain
    run(raw(url="http://h/1.html"))
    with sqlite3.connect(tmp_path / "state.sqlite3") as db:
        assert db.execute("SELECT COUNT(*) FROM seen").fetchone()[0] == 0
    close()
    with sqlite3.connect(tmp_path / "state.sqlite3") as db:
        assert db.execute("SELECT COUNT(*) FROM seen").fetchone()[0] == 1


def test_inbox_write_failure_is_counted_not_fatal(chain, tmp_path):
    run, close, stats, inbox, writer = chain
    shutil.rmtree(tmp_path / "inbox")
    (tmp_path / "inbox").write_text("a file where the inbox folder should be")  # fails even for root
    run(raw(url="http://h/1.html"))
    run(raw(url="http://h/2.html"))                  # the flush fails here: logged and counted
    close()
    assert stats.get_value(metrics.ERROR_KIND + "inbox") == 1
    assert stats.get_value(metrics.WRITTEN) is None
    with SeenState(tmp_path / "state.sqlite3") as state:
        assert state.count() == 0                    # not marked seen, so the next crawl re-sends them


def test_second_run_skips_unchanged_and_passes_changed(tmp_path):
    settings = {"YUQING_INBOX_DIR": str(tmp_path / "inbox"), "YUQING_STATE_PATH": str(tmp_path / "s.sqlite3")}

    def crawl_once(items):
        crawler = get_crawler(settings_dict=settings)
        crawler.spider = _Spider()
        stages = [ValidatePipeline.from_crawler(crawler), RunDedupePipeline.from_crawler(crawler),
                  SeenStatePipeline.from_crawler(crawler), InboxWriterPipeline.from_crawler(crawler)]
        for stage in stages:
            getattr(stage, "open_spider", lambda: None)()
        for item in items:
            try:
                for stage in stages:
                    item = stage.process_item(item)
            except DropItem:
                pass
        for stage in stages:
            getattr(stage, "close_spider", lambda: None)()
        return crawler.stats

    weibo = dict(platform="weibo", native_id="1", url=None, title="", content="九江")
    first = crawl_once([raw(**weibo, engagement={"likes": 1}), raw(url="http://h/a.html")])
    assert first.get_value(metrics.WRITTEN) == 2
    second = crawl_once([raw(**weibo, engagement={"likes": 1}), raw(url="http://h/a.html", crawled_at=CRAWLED + timedelta(hours=1))])
    assert second.get_value(metrics.WRITTEN) is None and second.get_value(metrics.SKIPPED_SEEN) == 2
    third = crawl_once([raw(**weibo, engagement={"likes": 7}), raw(url="http://h/a.html")])
    assert third.get_value(metrics.WRITTEN) == 1 and third.get_value(metrics.SKIPPED_SEEN) == 1
