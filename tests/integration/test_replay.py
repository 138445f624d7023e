"""`yuqing warn replay` end to end on hand-made cascades: the real models, SQLite store and rules.

The figures the command reports are recomputed here from what it kept (--keep: the notified
alerts in alerts.jsonl and the store), with this test's own knowledge of which post belongs to
which cascade, so a wrong delay, attribution or count fails.
"""
from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

import pytest

from index.schema import DEFAULT_TZ
from index.sqlite.store import SQLiteStore
from yuqing.cli import main

REPO = Path(__file__).resolve().parents[2]
CONFIG = str(REPO / "configs" / "app.yaml")
T0 = 1363663640
BIG_REPOSTS = 620

BIG_TEXT = "#化工厂偷排污水# 城东化工厂连续几个晚上偷排污水，河里大量死鱼，臭味刺鼻，附近居民头晕呕吐，环保部门却迟迟不管！"
BIG_COMMENTS = ["太恶心了，污水直接排进河里，鱼全死了", "臭得没法住，环保局到底管不管", "化工厂偷排污水必须严查",
                "河水发黑发臭，孩子都不敢出门", "污染这么严重还没人处理，愤怒", "偷排污水害人，强烈要求关停"]
SMALL_TEXT = "周末市民公园的郁金香开了，阳光很好，带孩子去看花，心情愉快。"
NOISE = ["公交车又晚点一个小时，司机态度恶劣，投诉无门", "这条路天天堵车，红绿灯乱设，上班迟到被扣工资",
         "公交站牌被撤了也不通知，等了半天车都没来，气死了", "出租车拒载还绕路，交通部门管一管吧"]
CALM = ["市图书馆周末举办亲子阅读活动，欢迎市民参加", "今天天气晴朗，适合户外运动", "新开的书店环境不错，推荐大家去看看",
        "社区组织志愿者清扫街道，大家干劲十足"]


def _date(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, DEFAULT_TZ).strftime("%Y-%m-%d %H:%M:%S")


def big_offsets() -> list[float]:
    """620 reposts over ~2 hours, speeding up: the 100th after ~31 min, the 500th after ~98 min."""
    return [20.0 + i * (20 if i < 100 else 10) for i in range(BIG_REPOSTS)]


def write_inputs(folder: Path) -> tuple[Path, Path]:
    big = {"id": "big", "original": {"text": BIG_TEXT, "time": T0, "user": {"followers": 52000, "verified": True,
                                                                              "location": "江西 九江"},
                                     "reposts": BIG_REPOSTS, "comments": 300, "likes": 90},
           "reposts": [{"mid": f"b{i}", "uid": f"u{i}", "parent": f"b{i - 1}" if i % 5 == 4 else "",
                        "text": BIG_COMMENTS[i % len(BIG_COMMENTS)] if i % 3 else "", "date": _date(T0 + off), "kids": []}
                       for i, off in enumerate(big_offsets())]}
    small = {"id": "small", "original": {"text": SMALL_TEXT, "time": T0, "user": "empty"},
             "reposts": [{"mid": f"s{i}", "uid": f"v{i}", "parent": "", "text": "", "date": _date(T0 + 600 * (i + 1)),
                          "kids": []} for i in range(12)]}
    cascades = folder / "cascades.jsonl"
    cascades.write_text(json.dumps(big, ensure_ascii=False) + "\n" + json.dumps(small, ensure_ascii=False) + "\n",
                        encoding="utf-8")
    # Background over two days (the warm-up day and the simulated day): calm posts every 40 minutes,
    # and on the simulated day a burst of 24 angry transport complaints within two hours — an alert
    # it raises belongs to no cascade, so it is a false alert.
    rows = []
    for i in range(72):
        rows.append({"id": f"weibo:calm{i}", "platform": "weibo", "source": "bg", "content": CALM[i % len(CALM)] + f"（{i}）",
                     "published_at": f"2030-01-0{1 + i // 36}T{(i % 36) * 40 // 60:02d}:{(i % 36) * 40 % 60:02d}:00+08:00"})
    for i in range(24):
        rows.append({"id": f"weibo:noise{i}", "platform": "weibo", "source": "bg", "content": NOISE[i % len(NOISE)] + f"，第{i}次",
                     "published_at": f"2030-01-02T03:{i * 2 + 10:02d}:00+08:00"})
    background = folder / "background.jsonl"
    background.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in rows) + "\n", encoding="utf-8")
    return cascades, background


def cascade_of(post_id: str) -> str | None:
    """This test's own ground truth: weibo:big / weibo:b<n> → big, weibo:small / weibo:s<n> → small."""
    native = post_id.removeprefix("weibo:")
    if native == "big" or (native.startswith("b") and native[1:].isdigit()):
        return "big"
    if native == "small" or (native.startswith("s") and native[1:].isdigit()):
        return "small"
    return None


@pytest.fixture(scope="module")
def replay(tmp_path_factory):
    folder = tmp_path_factory.mktemp("replay")
    cascades, background = write_inputs(folder)
    keep = folder / "kept"
    import io
    from contextlib import redirect_stdout
    out = io.StringIO()
    with redirect_stdout(out):
        code = main(["warn", "--config", CONFIG, "replay", "--cascades", str(cascades), "--background", str(background),
                     "--days", "1", "--warmup-days", "1", "--split", "all", "--interval", "20", "--json",
                     "--no-progress", "--keep", str(keep)])
    return code, json.loads(out.getvalue()), keep


def test_replay_reports_what_the_kept_alerts_show(replay):
    code, report, keep = replay
    assert code == 0
    events = {e["cascade_id"]: e for e in report["events"]}
    big, small = events["big"], events["small"]

    # Timing kept: the 100th and 500th reposts follow the placed original by their delays in the data.
    assert big["reach"] == BIG_REPOSTS and small["reach"] == 12
    assert big["reached_100_at"] == pytest.approx(big["published_at"] + big_offsets()[99])
    assert big["reached_500_at"] == pytest.approx(big["published_at"] + big_offsets()[499])
    assert small["reached_100_at"] is None

    # Recompute attribution from the notified alerts, with this test's ground truth.
    notes = [json.loads(line) for line in (keep / "reports" / "alerts.jsonl").read_text(encoding="utf-8").splitlines()]
    detected: dict[str, float] = {}
    levels: dict[str, str] = {}
    false_alerts = []
    rank = {"蓝": 0, "黄": 1, "橙": 2, "红": 3}
    for note in notes:
        alert = note["alert"]
        at = datetime.fromisoformat(alert["last_seen"]).timestamp()
        owners = [cascade_of(p) for p in alert["post_ids"]]
        owner = next((c for c in ("big", "small") if 2 * owners.count(c) >= len(owners) > 0), None)
        if owner is None:
            if note["change"] == "new":
                false_alerts.append(alert["id"])
            continue
        detected.setdefault(owner, at)
        if owner not in levels or rank[alert["level"]] > rank[levels[owner]]:
            levels[owner] = alert["level"]
    assert report["alerts_raised"] == sum(1 for n in notes if n["change"] == "new")
    assert sorted(report["false_alert_ids"]) == sorted(false_alerts) and report["false_alerts"] == len(false_alerts)
    assert report["false_alerts_per_day"] == len(false_alerts)

    # The burst of transport complaints raised an alert, and it is counted as false.
    assert false_alerts, notes
    # The polluting plant's cascade was detected, within two hours of its original.
    assert "big" in detected and report["recall_500"] == 1.0 and report["detected_500"] == 1
    assert big["detected_at"] == pytest.approx(detected["big"]) and big["level"] == levels["big"]
    assert big["delay_from_first_min"] == pytest.approx(round((detected["big"] - big["published_at"]) / 60, 1))
    assert big["delay_after_100_min"] == pytest.approx(round(max(0, detected["big"] - big["reached_100_at"]) / 60, 1))
    assert big["delay_from_first_min"] <= 120
    assert report["median_delay_after_100_min"] == big["delay_after_100_min"]
    assert small["detected_at"] == detected.get("small")

    # Every post of the timeline went through enrichment into the store, reposts linked to their original.
    assert report["run"]["posts"] == BIG_REPOSTS + 1 + 12 + 1 + 36 + 24
    assert report["run"]["warmup_posts"] == 36 and report["run"]["interval_minutes"] == 20
    assert report["run"]["ticks"] == 72
    with SQLiteStore(keep / "replay.db") as store:
        total = store.count()
        stored = {p.id: p for p in store.get_posts(["weibo:b9", "weibo:big"])}
    repost, original = stored["weibo:b9"], stored["weibo:big"]
    assert total == report["run"]["posts"] + 36
    assert repost.parent_id == "weibo:b8" and repost.root_id == "weibo:big" and repost.enriched_at is not None
    assert original.engagement.reposts == BIG_REPOSTS      # refreshed to the reposts seen
    for key in ("wall_s_per_sim_day", "posts_per_sim_day", "p90_delay_after_100_min", "median_delay_from_first_min"):
        assert key in report
    assert set(report["timings_s_per_sim_day"]) >= {"enrich", "link", "store", "rules"}


def test_table_output_and_exit_codes(tmp_path, capsys):
    cascades, background = write_inputs(tmp_path)
    common = ["warn", "replay", "--config", CONFIG, "--background", str(background), "--no-progress"]

    assert main([*common, "--cascades", str(tmp_path / "nope.jsonl")]) == 2
    assert f"{tmp_path / 'nope.jsonl'}: cascade file not found" in capsys.readouterr().err

    broken = tmp_path / "broken.jsonl"
    broken.write_text(cascades.read_text(encoding="utf-8").splitlines()[0] + "\n{\"id\": 1,\n", encoding="utf-8")
    assert main([*common, "--cascades", str(broken)]) == 2
    assert f"{broken}: line 2: not JSON" in capsys.readouterr().err

    bad_bg = tmp_path / "bad_bg.jsonl"
    bad_bg.write_text('{"id": "x", "platform": "weibo", "source": "s", "published_at": "2030-01-01T00:00:00"}\n',
                      encoding="utf-8")
    assert main(["warn", "replay", "--config", CONFIG, "--cascades", str(cascades), "--background", str(bad_bg),
                 "--no-progress"]) == 2
    assert f"{bad_bg}: line 1: not a post" in capsys.readouterr().err

    rules = tmp_path / "rules.yaml"
    rules.write_text("rules:\n  - name: r\n    type: no_such_rule\n", encoding="utf-8")
    assert main([*common, "--cascades", str(cascades), "--rules", str(rules)]) == 2
    assert "unknown rule type 'no_such_rule'" in capsys.readouterr().err

    assert main([*common, "--cascades", str(cascades), "--split", "all", "--limit", "0"]) == 2
    assert "--limit must be at least 1" in capsys.readouterr().err

    # A plain table on a tiny run: one cascade, no warm-up, an hourly tick.
    assert main([*common, "--cascades", str(cascades), "--split", "all", "--days", "1", "--warmup-days", "0",
                 "--interval", "120", "--limit", "1", "--seed", "3"]) == 0
    out = capsys.readouterr().out
    assert "召回率（500转以上）" in out and "recall of cascades reaching 500 reposts" in out
    assert "false alerts per simulated day" in out and "事件 cascade" in out
