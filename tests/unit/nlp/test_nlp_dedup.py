"""Near-duplicate groups: reposts, reprints, partial quotes, late originals, restarts."""
from datetime import datetime, timedelta

import pytest

from index.schema import DEFAULT_TZ, Post
from nlp.dedup import DedupConfig, Deduplicator, fingerprint_text

T0 = datetime(2026, 11, 19, 8, 0, tzinfo=DEFAULT_TZ)

ORIGINAL = ("【视频】#九江十里河大量死鱼# 今天清晨，有网友拍到濂溪区十里河一段河面漂满死鱼，河水发黄，"
            "岸边气味刺鼻。网友称附近一家化工厂疑似排污，有居民反映孩子闻了之后头晕。")
REPOST = ("转发：【视频】#九江十里河大量死鱼# 今天清晨，有网友拍到濂溪区十里河一段河面漂满死鱼，河水发黄，"
          "岸边气味刺鼻。网友称附近一家化工厂疑似排污[怒] @九江生态环境 http://t.cn/A6abcd")
NOTICE = ("【情况通报】11月18日上午，我局接到群众反映，濂溪区十里河部分河段出现死鱼并伴有异味。我局会同濂溪区"
          "立即开展调查处置。经初步调查，九江恒泰化工有限公司涉嫌违规排放生产废水，已责令该企业全面停产，封堵"
          "相关排口。我市城区集中式饮用水水源地水质正常，市民可放心饮用自来水。网传自来水被污染不能喝系不实信息。")
QUOTE = "转发 @九江生态环境 经初步调查，九江恒泰化工有限公司涉嫌违规排放生产废水，已责令该企业全面停产，封堵相关排口。太好了"
OTHER = "九江市区5家二级以上医院近日推出夜间门诊，开设内科、儿科、口腔科等科室，服务时间延长至晚上九点。"


def post(pid: str, content: str, minutes: float = 0, platform: str = "weibo", **extra) -> Post:
    return Post(id=f"{platform}:{pid}", platform=platform, source="t", content=content,
                published_at=T0 + timedelta(minutes=minutes), **extra)


def run(dedup: Deduplicator, posts: list[Post]):
    """Assign a batch in publication order, as the linker does; returns final assignments and changed ids."""
    batch = sorted(posts, key=lambda p: (p.published_at, p.id))
    dedup.prepare(batch)
    changed: set[str] = set()
    for p in batch:
        _, moved = dedup.assign(p)
        changed |= moved
    dedup.finish_batch()
    return {p.id: dedup.assignment(p.id) for p in posts}, changed - {p.id for p in posts}


def test_fingerprint_drops_what_reposters_add():
    assert fingerprint_text("转发：【视频】九江下雨了[怒] @张三 http://t.cn/abc") == "视频九江下雨了"
    assert fingerprint_text("ＡＢＣ　１２３，九江！") == "abc123九江"
    assert fingerprint_text("") == ""


def test_repost_joins_the_original_which_is_first_report():
    dedup = Deduplicator()
    got, changed = run(dedup, [post("1", ORIGINAL, 0), post("2", REPOST, 20), post("3", OTHER, 30)])
    assert got["weibo:1"].dup_group == got["weibo:2"].dup_group == "weibo:1"
    assert got["weibo:1"].is_first_report and not got["weibo:2"].is_first_report
    assert got["weibo:3"].dup_group == "weibo:3" and got["weibo:3"].is_first_report
    assert not changed


def test_partial_quote_of_a_long_notice_is_a_duplicate():
    dedup = Deduplicator()
    got, _ = run(dedup, [post("n", NOTICE, 0), post("q", QUOTE, 30)])
    assert got["weibo:q"].dup_group == "weibo:n"


def test_duplicate_of_names_the_matched_post_across_batches():
    dedup = Deduplicator()
    run(dedup, [post("1", ORIGINAL, 0)])
    dedup.prepare([p := post("2", REPOST, 5)])
    assignment, _ = dedup.assign(p)
    assert assignment.duplicate_of == "weibo:1" and assignment.dup_group == "weibo:1"


def test_short_and_unrelated_posts_stay_alone():
    dedup = Deduplicator()
    got, _ = run(dedup, [post("a", "转发微博", 0), post("b", "转发微博", 1), post("c", "支持！", 2), post("d", "支持！", 3),
                         post("e", ORIGINAL, 4), post("f", NOTICE, 5), post("g", OTHER, 6)])
    assert len({a.dup_group for a in got.values()}) == 7
    assert all(a.is_first_report for a in got.values())


def test_late_original_takes_over_its_group():
    """A later batch holds the earlier post: the group is renamed to it and the stored copies change."""
    dedup = Deduplicator()
    first_batch, _ = run(dedup, [post("copy1", REPOST, 30), post("copy2", REPOST + "！", 40)])
    assert first_batch["weibo:copy1"].is_first_report and first_batch["weibo:copy2"].dup_group == "weibo:copy1"
    got, changed = run(dedup, [post("orig", ORIGINAL, 0)])
    assert got["weibo:orig"].dup_group == "weibo:orig" and got["weibo:orig"].is_first_report
    assert changed == {"weibo:copy1", "weibo:copy2"}
    for pid in changed:
        moved = dedup.assignment(pid)
        assert moved.dup_group == "weibo:orig" and not moved.is_first_report


def test_copies_far_apart_in_time_start_a_new_group():
    dedup = Deduplicator(DedupConfig(window=timedelta(days=3)))
    got, _ = run(dedup, [post("1", ORIGINAL, 0), post("2", ORIGINAL, 60 * 24 * 10)])
    assert got["weibo:2"].dup_group == "weibo:2"


def test_known_post_keeps_its_group_and_changes_nothing():
    dedup = Deduplicator()
    run(dedup, [post("1", ORIGINAL, 0), post("2", REPOST, 10)])
    got, changed = run(dedup, [post("2", REPOST, 10), post("1", ORIGINAL, 0)])
    assert got["weibo:2"].dup_group == "weibo:1" and not changed
    assert len(dedup) == 2


def test_groups_are_restored_from_stored_posts():
    """After a restart the index is rebuilt from stored posts; new copies and late originals behave the same."""
    stored = [post("copy1", REPOST, 30, dup_group="weibo:copy1", is_first_report=True),
              post("copy2", REPOST + "！", 40, dup_group="weibo:copy1")]
    dedup = Deduplicator()
    assert dedup.load(stored) == 2
    got, changed = run(dedup, [post("copy3", REPOST + "。", 50)])
    assert got["weibo:copy3"].dup_group == "weibo:copy1"
    got, changed = run(dedup, [post("orig", ORIGINAL, 0)])
    assert got["weibo:orig"].is_first_report and changed == {"weibo:copy1", "weibo:copy2", "weibo:copy3"}


def test_group_whose_first_report_left_memory_keeps_it():
    """Only copies of an old group are in memory: a new copy joins, and cannot take the group over."""
    dedup = Deduplicator()
    dedup.load([post("copy9", REPOST, 60 * 24, dup_group="weibo:gone")])
    got, changed = run(dedup, [post("new", REPOST, 60 * 24 + 5)])
    assert got["weibo:new"].dup_group == "weibo:gone" and not got["weibo:new"].is_first_report and not changed


def test_eviction_compacts_memory_and_keeps_the_rest_working():
    dedup = Deduplicator()
    old = [post(f"old{i}", f"{OTHER}第{i}期，内容编号{i * 7919}", i) for i in range(40)]
    run(dedup, old + [post("1", ORIGINAL, 60 * 24 * 5)])
    evicted = dedup.evict((T0 + timedelta(days=1)).timestamp())
    assert evicted == 40 and len(dedup) == 1 and not dedup.knows("weibo:old0")
    got, _ = run(dedup, [post("2", REPOST, 60 * 24 * 5 + 3)])
    assert got["weibo:2"].dup_group == "weibo:1"


@pytest.mark.parametrize("text", ["", "！！！", "[怒][怒]"])
def test_texts_without_content_are_their_own_group(text):
    dedup = Deduplicator()
    got, _ = run(dedup, [post("x", text or "[怒]", 0, title="标题" if not text else "")])
    assert got["weibo:x"].dup_group == "weibo:x" and got["weibo:x"].is_first_report
