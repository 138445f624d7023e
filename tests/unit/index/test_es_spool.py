"""The on-disk spool: atomic batches, oldest first, nothing lost (bad lines are moved aside)."""
from __future__ import annotations

import json
from datetime import datetime, timedelta
from pathlib import Path

from index.schema import DEFAULT_TZ, Post
from index.elasticsearch.spool import Spool

T0 = datetime(2024, 5, 6, tzinfo=DEFAULT_TZ)


def posts(start: int, n: int) -> list[Post]:
    return [Post(id=f"news:{i}", platform="news", source="s", title=f"标题{i}", content="内容",
                 published_at=T0 + timedelta(minutes=i), crawled_at=T0) for i in range(start, start + n)]


def test_batches_come_back_in_order_and_leave_when_done(tmp_path: Path):
    spool = Spool(tmp_path / "spool")
    assert not spool and spool.pending() == 0 and list(spool.batches()) == []
    assert spool.append(posts(0, 3)) == 3
    assert spool.append([]) == 0
    assert spool.append(posts(3, 2)) == 2
    assert spool and spool.pending() == 5
    batches = list(spool.batches())
    assert [[p.id for p in b.posts] for b in batches] == [["news:0", "news:1", "news:2"], ["news:3", "news:4"]]
    assert batches[0].posts[0].model_dump() == posts(0, 1)[0].model_dump()
    spool.done(batches[0])
    assert spool.pending() == 2
    spool.done(batches[1])
    spool.done(batches[1])          # done twice (another process replayed it): no error
    assert not spool


def test_a_bad_line_is_moved_aside_not_dropped(tmp_path: Path):
    spool = Spool(tmp_path)
    spool.append(posts(0, 2))
    [path] = spool.files()
    lines = path.read_text(encoding="utf-8").splitlines()
    broken = json.loads(lines[1])
    broken["published_at"] = "not a time"
    path.write_text(lines[0] + "\n" + json.dumps(broken, ensure_ascii=False) + "\n", encoding="utf-8")
    [batch] = list(spool.batches())
    assert [p.id for p in batch.posts] == ["news:0"]
    assert [n for n, _ in batch.rejected] == [2]
    kept = (tmp_path / "rejected" / path.name).read_text(encoding="utf-8")
    assert "not a time" in kept


def test_partial_writes_are_invisible(tmp_path: Path):
    spool = Spool(tmp_path)
    (tmp_path / ".123-1-000000.jsonl.tmp").write_text("{half", encoding="utf-8")
    assert spool.files() == [] and spool.pending() == 0


def test_only_one_process_replays_at_a_time(tmp_path: Path):
    first, second = Spool(tmp_path), Spool(tmp_path)
    with first.replay_lock() as mine:
        assert mine
        # flock is per open file description: a second opener (as another process would) is refused
        with second.replay_lock() as theirs:
            assert not theirs
    with second.replay_lock() as theirs:
        assert theirs
