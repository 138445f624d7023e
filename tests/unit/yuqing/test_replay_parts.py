"""The replay harness's parts: reading cascades, splits, timeline placement, background, metrics."""
from __future__ import annotations

import gzip
import json
import random
from datetime import datetime, timedelta

import pytest

from index.schema import DEFAULT_TZ, Post
from yuqing.replay.background import PLATFORM_MIX, Text, generate_background, read_background
from yuqing.replay.cascades import ReplayInputError, parse_cascade, read_cascades, select, split_of
from yuqing.replay.metrics import Notification, attribute, outcomes, percentile, summarize
from yuqing.replay.timeline import (DIURNAL, REPOST_TEXT, DiurnalProfile, PlacedCascade, engagement_at, ground_truth,
                                    original_post, place_cascades, repost_post)

T0 = 1363663640           # 2013-03-19 11:27:20 Beijing
START = datetime(2024, 5, 6, tzinfo=DEFAULT_TZ)


def _date(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, DEFAULT_TZ).strftime("%Y-%m-%d %H:%M:%S")


def cascade_doc(cid: str, offsets: list[float], *, text: str = "原微博内容", parents: dict[int, int] | None = None,
                mid_prefix: str | None = None, followers: int | None = 1200) -> dict:
    prefix = mid_prefix if mid_prefix is not None else f"{cid}m"
    parents = parents or {}
    user = {"followers": followers, "verified": True, "location": "江西 九江"} if followers is not None else "empty"
    return {"id": cid, "original": {"text": text, "time": T0, "user": user, "reposts": len(offsets),
                                    "comments": 40, "likes": 20},
            "reposts": [{"mid": f"{prefix}{i}", "uid": f"u{i}", "text": "" if i % 2 else f"评论{i}",
                         "parent": f"{prefix}{parents[i]}" if i in parents else "", "date": _date(T0 + off), "kids": []}
                        for i, off in enumerate(offsets)]}


# --- reading -------------------------------------------------------------------------
def test_parse_both_time_formats_short_dates_duplicates_and_early_reposts():
    raw = {"id": "c1", "original": {"text": "原文", "time": "Wed Mar 20 00:00:03 +0800 2013", "user": "empty"},
           "reposts": [{"mid": "a", "uid": "1", "parent": "", "text": "", "date": "2013-03-20 00:05:03"},
                       {"mid": "b", "uid": "2", "parent": "a", "text": "对", "date": "3月20日 00:10"},
                       {"mid": "a", "uid": "1", "parent": "", "text": "", "date": "2013-03-20 00:06:03"},
                       {"mid": "c", "uid": "3", "parent": "", "text": "", "date": "2013-03-19 23:00:00"}]}
    c = parse_cascade(raw)
    assert [r.mid for r in c.reposts] == ["c", "a", "b"]            # sorted by delay, the repeated 'a' dropped
    assert [r.offset_s for r in c.reposts] == [0.0, 300.0, 597.0]   # stamped before the original: at it
    assert c.reposts[2].parent == "a" and c.followers is None and c.location is None


def test_short_date_in_january_after_a_december_original_is_next_year():
    raw = {"id": "c", "original": {"text": "t", "time": "Mon Dec 31 23:50:00 +0800 2012"},
           "reposts": [{"mid": "x", "date": "1月1日 00:10"}]}
    assert parse_cascade(raw).reposts[0].offset_s == 20 * 60


def test_read_errors_name_the_file_and_the_line(tmp_path):
    path = tmp_path / "c.jsonl"
    good = json.dumps(cascade_doc("ok", [60]))
    for body, expected in [
        (good + "\n{not json\n", "line 2: not JSON"),
        (json.dumps({"id": "x", "original": {"text": "t", "time": T0}}) + "\n", "line 1: missing field 'reposts'"),
        (json.dumps({"id": "x", "original": {"text": "t", "time": T0},
                     "reposts": [{"mid": "a", "date": "yesterday"}]}) + "\n", "line 1: reposts[0]: date 'yesterday'"),
        (json.dumps({"id": "x", "original": {"text": "", "time": T0}, "reposts": []}) + "\n", "line 1: the original has no text"),
        (good + "\n" + good + "\n", "line 2: cascade id 'ok' repeated"),
    ]:
        path.write_text(body, encoding="utf-8")
        with pytest.raises(ReplayInputError) as err:
            read_cascades(path)
        assert str(path) in str(err.value) and expected in str(err.value)
    with pytest.raises(ReplayInputError, match="not found"):
        read_cascades(tmp_path / "missing.jsonl")


def test_reads_gzip(tmp_path):
    path = tmp_path / "c.jsonl.gz"
    with gzip.open(path, "wt", encoding="utf-8") as fh:
        fh.write(json.dumps(cascade_doc("a", [1, 2, 3])) + "\n\n" + json.dumps(cascade_doc("b", [5])) + "\n")
    cascades = read_cascades(path)
    assert [c.id for c in cascades] == ["a", "b"] and cascades[0].offset_of(3) == 3 and cascades[1].offset_of(2) is None


# --- splits --------------------------------------------------------------------------
def test_split_halves_are_deterministic_and_disjoint():
    cascades = [parse_cascade(cascade_doc(f"id{i}", [1])) for i in range(600)]
    tune, test = select(cascades, "tune"), select(cascades, "test")
    assert 240 <= len(tune) <= 360 and len(tune) + len(test) == 600
    assert not {c.id for c in tune} & {c.id for c in test}
    assert all(split_of(c.id) == "tune" for c in tune) and split_of("id1") == split_of("id1")
    assert select(list(reversed(cascades)), "tune")[0].id == tune[-1].id      # by id, not by position


def test_limit_and_sample_are_seeded_subsets_in_file_order():
    cascades = [parse_cascade(cascade_doc(f"id{i}", [1])) for i in range(100)]
    a = select(cascades, "all", limit=10, seed=1)
    assert [c.id for c in a] == [c.id for c in select(cascades, "all", limit=10, seed=1)]
    assert [c.id for c in a] != [c.id for c in select(cascades, "all", limit=10, seed=2)]
    assert [c.id for c in a] == sorted((c.id for c in a), key=lambda i: int(i[2:]))
    assert len(select(cascades, "all", sample=0.25)) == 25
    assert len(select(cascades, "all", sample=0.5, limit=7)) == 7
    with pytest.raises(ValueError, match="unknown split"):
        select(cascades, "dev")


# --- the timeline ----------------------------------------------------------------------
def test_diurnal_draws_follow_the_profile():
    profile, rng = DiurnalProfile(), random.Random(3)
    hours = [0] * 24
    n = 48_000
    for _ in range(n):
        at = profile.draw(rng, START, 2)
        assert START <= at < START + timedelta(days=2)
        hours[at.hour] += 1
    night = sum(hours[2:6]) / n
    assert night == pytest.approx(sum(DIURNAL[2:6]) / sum(DIURNAL), abs=0.01) and night < 0.05
    assert hours[21] > 6 * hours[3] and hours[10] > 4 * hours[4]


def test_placement_keeps_relative_timing_cuts_the_end_and_is_seeded():
    day = 86400
    cascades = [parse_cascade(cascade_doc("a", [60, 600, 3 * day])), parse_cascade(cascade_doc("b", [0, 30]))]
    placed = place_cascades(cascades, START, 2, seed=5)
    again = place_cascades(cascades, START, 2, seed=5)
    assert [p.start for p in placed] == [p.start for p in again]
    assert [p.start for p in placed] != [p.start for p in place_cascades(cascades, START, 2, seed=6)]
    end = (START + timedelta(days=2)).timestamp()
    a = placed[0]
    assert START.timestamp() <= a.start < end
    assert [t - a.start for t in a.times] == [60, 600]          # the repost 3 days later falls past the end
    assert a.reach == 2 and a.reach_time(2) == a.start + 600 and a.reach_time(3) is None
    truth = ground_truth(placed)
    assert truth == {"weibo:a": 0, "weibo:am0": 0, "weibo:am1": 0, "weibo:b": 1, "weibo:bm0": 1, "weibo:bm1": 1}


def test_shared_mids_get_distinct_ids():
    cascades = [parse_cascade(cascade_doc("a", [1, 2], mid_prefix="m")), parse_cascade(cascade_doc("b", [1], mid_prefix="m"))]
    placed = place_cascades(cascades, START, 1)
    assert placed[0].repost_ids == ["weibo:m0", "weibo:m1"] and placed[1].repost_ids == ["weibo:m0.2"]
    assert len(ground_truth(placed)) == 5


def test_posts_carry_text_parent_root_and_author():
    cascade = parse_cascade(cascade_doc("a", [10, 20, 30], parents={2: 1}))
    pc = place_cascades([cascade], START, 1)[0]
    at = START + timedelta(hours=1)
    original = original_post(pc, DEFAULT_TZ, at)
    assert original.id == "weibo:a" and original.root_id == "weibo:a" and original.parent_id is None
    assert original.author.followers == 1200 and original.author.location == "江西 九江"
    assert original.published_at.timestamp() == pc.start and original.crawled_at == at
    first, second, third = (repost_post(pc, i, DEFAULT_TZ, at) for i in range(3))
    assert first.content == "评论0" and second.content == REPOST_TEXT
    assert first.parent_id == "weibo:a" and third.parent_id == "weibo:am1"
    assert {first.root_id, second.root_id, third.root_id} == {"weibo:a"} and second.author.id == "u1"
    assert third.published_at.timestamp() == pc.start + 30


def test_original_engagement_grows_with_its_reposts():
    pc = place_cascades([parse_cascade(cascade_doc("a", list(range(100))))], START, 1)[0]
    assert engagement_at(pc, 0).model_dump() == {"reposts": 0, "comments": 0, "likes": 0}
    assert engagement_at(pc, 50).model_dump() == {"reposts": 50, "comments": 20, "likes": 10}
    assert engagement_at(pc, 100).model_dump() == {"reposts": 100, "comments": 40, "likes": 20}


# --- background ----------------------------------------------------------------------
def test_generated_background_volume_profile_mix_and_seed():
    pools = {p: [Text("", f"{p}文本{i}") for i in range(500)] for p in PLATFORM_MIX}
    posts = generate_background(pools, START, 3, per_day=2000, seed=1)
    assert posts == generate_background(pools, START, 3, per_day=2000, seed=1)
    assert 5700 <= len(posts) <= 6300 and len({p.id for p in posts}) == len(posts)
    assert all(START <= p.published_at < START + timedelta(days=3) for p in posts)
    assert [p.published_at for p in posts] == sorted(p.published_at for p in posts)
    night = sum(1 for p in posts if 2 <= p.published_at.hour < 6)
    evening = sum(1 for p in posts if 20 <= p.published_at.hour < 24)
    assert evening > 5 * night
    weibo = sum(p.platform == "weibo" for p in posts) / len(posts)
    assert weibo == pytest.approx(PLATFORM_MIX["weibo"], abs=0.03)
    assert len({p.content for p in posts if p.platform == "news"}) == 500      # each text before any repeats


def test_background_file_shifted_by_whole_days(tmp_path):
    path = tmp_path / "bg.jsonl"
    rows = [{"id": "news:1", "platform": "news", "source": "s", "title": "标题一", "published_at": "2020-01-01T10:15:00+08:00"},
            {"id": "news:2", "platform": "news", "source": "s", "title": "标题二", "published_at": "2020-01-03T09:00:00+08:00"},
            {"id": "news:3", "platform": "news", "source": "s", "title": "标题三", "published_at": "2020-01-09T09:00:00+08:00"}]
    path.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in rows) + "\n", encoding="utf-8")
    posts = read_background(path, START, START + timedelta(days=3))
    assert [p.id for p in posts] == ["news:1", "news:2"]
    assert posts[0].published_at == START + timedelta(hours=10, minutes=15)
    assert posts[1].published_at == START + timedelta(days=2, hours=9)
    path.write_text(json.dumps(rows[0]) + "\n" + json.dumps({"id": "x", "platform": "news"}) + "\n", encoding="utf-8")
    with pytest.raises(ReplayInputError, match=r"bg.jsonl: line 2: not a post: source: Field required"):
        read_background(path, START, START + timedelta(days=3))


# --- metrics -------------------------------------------------------------------------
def test_attribution_needs_half_of_the_example_posts():
    truth = {"a1": 0, "a2": 0, "a3": 0, "b1": 1, "b2": 1}
    assert attribute(["a1", "a2", "x"], truth) == 0
    assert attribute(["a1", "b1", "x", "y"], truth) is None
    assert attribute(["b1", "b2", "a1", "a2"], truth) == 0        # a tie goes to the earlier placed
    assert attribute(["a1", "x"], truth) == 0 and attribute(["a1", "x", "y"], truth) is None
    assert attribute([], truth) is None and attribute(["x"], truth) is None


def _placed(index: int, start: float, n: int, step: float) -> PlacedCascade:
    times = [start + step * (i + 1) for i in range(n)]
    return PlacedCascade(index, parse_cascade(cascade_doc(f"c{index}", [1])), start, times, f"o{index}",
                         [f"r{index}_{i}" for i in range(n)])


def test_outcomes_delays_levels_recall_and_false_alerts():
    s = START.timestamp()
    big = _placed(0, s, 600, 60)            # 100th repost at +100 min, 500th at +500 min
    early = _placed(1, s, 150, 60)          # detected before its 100th repost
    missed = _placed(2, s, 520, 30)         # reaches 500, never detected
    small = _placed(3, s, 10, 60)
    placed = [big, early, missed, small]
    truth = ground_truth(placed)
    notes = [
        Notification(s + 130 * 60, "vol.env.1", "vol", "new", "蓝", ("r0_1", "r0_2", "bg")),
        Notification(s + 200 * 60, "vol.env.1", "vol", "escalated", "橙", ("r0_5", "o0")),
        Notification(s + 40 * 60, "neg.edu.1", "neg", "new", "黄", ("o1", "r1_3", "x", "y", "r1_9")),
        Notification(s + 50 * 60, "neg.tr.1", "neg", "new", "红", ("x", "y", "r2_1")),          # false: 1 of 3
        Notification(s + 60 * 60, "neg.tr.1", "neg", "escalated", "红", ("x", "y")),           # not a new alert
        Notification(s + 70 * 60, "vol.tr.2", "vol", "ended", "红", ("r2_1",)),                # ends never detect
        Notification(s + 80 * 60, "vol.ot.3", "vol", "new", "蓝", ()),
    ]
    events, false_alerts = outcomes(placed, notes, truth)
    e_big, e_early, e_missed, e_small = events
    assert (e_big.detected_at, e_big.level, e_big.alerts) == (s + 130 * 60, "橙", ["vol.env.1"])
    assert e_big.delay_from_first_min == 130 and e_big.delay_after_100_min == 30
    assert e_early.delay_from_first_min == 40 and e_early.delay_after_100_min == 0 and e_early.level == "黄"
    assert not e_missed.detected and e_missed.delay_after_100_min is None and e_missed.reached_500_at == s + 500 * 30
    assert e_small.reached_100_at is None and not e_small.detected
    assert false_alerts == ["neg.tr.1", "vol.ot.3"]

    figures = summarize(events, false_alerts, alerts_raised=4, sim_days=2)
    assert figures["reached_100"] == 3 and figures["reached_500"] == 2 and figures["detected_500"] == 1
    assert figures["recall_500"] == 0.5
    assert figures["median_delay_after_100_min"] == 15.0 and figures["p90_delay_after_100_min"] == 27.0
    assert figures["median_delay_from_first_min"] == 85.0
    assert figures["false_alerts"] == 2 and figures["false_alerts_per_day"] == 1.0
    assert figures["levels"] == {"黄": 1, "橙": 1}


def test_percentile_is_linear_and_empty_is_none():
    assert percentile([10, 20, 30, 40], 50) == 25.0 and percentile([10, 20, 30, 40], 90) == 37.0
    assert percentile([], 50) is None
    assert summarize([], [], alerts_raised=0, sim_days=1)["recall_500"] is None


def test_posts_validate_with_parent_and_root():
    post = Post(id="weibo:x", platform="weibo", source="s", content="c", published_at=START,
                parent_id="weibo:p", root_id="weibo:r")
    assert Post.model_validate_json(post.model_dump_json()).parent_id == "weibo:p"
