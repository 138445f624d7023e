"""The inbox as a queue: per-line rejection, claims, stale-claim recovery, quarantine and retry (real files)."""
from __future__ import annotations

import json
import subprocess
import sys
from datetime import datetime

from crawler.claims import owner_name, parse_owner, pid_alive
from crawler.inbox import Inbox, reason_path
from index.schema import Post


def make_post(i: int) -> Post:
    return Post(id=f"weibo:{i}", platform="weibo", source="t", content=f"九江市第{i}条消息",
                published_at=datetime(2024, 5, 1, 12))


def dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def test_undecodable_and_invalid_lines_are_rejected_with_line_and_field(tmp_path):
    inbox = Inbox(tmp_path)
    good = make_post(1).model_dump_json().encode()
    invalid = json.dumps({**json.loads(good), "id": "weibo:2", "published_at": "昨天"}).encode()
    path = tmp_path / "b.jsonl"
    path.write_bytes(good + b"\n" + "九江停水".encode("gbk") + b"\n" + invalid + b"\n{broken\n\n")
    batch = inbox.read(path)
    assert [p.id for p in batch.posts] == ["weibo:1"]
    reasons = dict(batch.rejected)
    assert sorted(reasons) == [2, 3, 4]
    assert reasons[2].startswith("not UTF-8")
    assert reasons[3].startswith("published_at: Input should be a valid datetime")
    assert reasons[4].startswith("not JSON")


def test_write_is_atomic_and_leaves_no_temp_files(tmp_path):
    inbox = Inbox(tmp_path)
    path = inbox.write([make_post(1), make_post(2)], source="s")
    assert inbox.pending() == [path]
    assert not list(tmp_path.glob(".*.tmp"))
    assert [p.id for p in inbox.read(path).posts] == ["weibo:1", "weibo:2"]


def test_claim_is_exclusive_and_done_removes_the_claimed_file(tmp_path):
    inbox = Inbox(tmp_path)
    path = inbox.write([make_post(1)])
    claimed = inbox.claim(path)
    assert claimed.parent.name == owner_name() and inbox.pending() == []
    assert inbox.claim(path) is None                      # already taken
    assert inbox.status().claimed == [f"{owner_name()}/{path.name}"]
    inbox.done(inbox.read(claimed))
    assert inbox.status().counts() == {"pending": 0, "claimed": 0, "quarantined": 0, "rejected": 0}


def test_stale_claims_of_dead_processes_return_to_the_inbox(tmp_path):
    inbox = Inbox(tmp_path)
    stale = tmp_path / "claimed" / owner_name(pid=dead_pid())
    alive = tmp_path / "claimed" / owner_name(pid=1)      # init: alive on every host
    foreign = tmp_path / "claimed" / owner_name(pid=dead_pid(), host="other-host")
    for folder in (stale, alive, foreign):
        folder.mkdir(parents=True)
        (folder / f"{folder.name}.jsonl").write_text(make_post(1).model_dump_json() + "\n", encoding="utf-8")
    assert inbox.recover_stale_claims() == [f"{stale.name}.jsonl"]
    assert [p.name for p in inbox.pending()] == [f"{stale.name}.jsonl"]
    assert not stale.exists() and alive.exists() and foreign.exists()


def test_quarantine_writes_a_reason_and_retry_counts_attempts(tmp_path):
    inbox = Inbox(tmp_path)
    path = inbox.claim(inbox.write([make_post(1)]))
    try:
        raise ValueError("model exploded")
    except ValueError as exc:
        inbox.quarantine(path, exc)
    status = inbox.status()
    assert status.quarantined == [path.name] and status.pending == []
    reason = json.loads(reason_path(tmp_path / "quarantine" / path.name).read_text(encoding="utf-8"))
    assert reason["error"] == "ValueError" and reason["message"] == "model exploded"
    assert reason["attempts"] == 1 and "model exploded" in reason["traceback"] and reason["time"]

    assert inbox.retry() == [path.name] and [p.name for p in inbox.pending()] == [path.name]
    again = inbox.claim(inbox.pending()[0])
    inbox.quarantine(again, RuntimeError("still broken"))
    reason = json.loads(reason_path(tmp_path / "quarantine" / path.name).read_text(encoding="utf-8"))
    assert reason["attempts"] == 2
    try:
        inbox.retry(["nope.jsonl"])
    except KeyError as exc:
        assert "nope.jsonl" in str(exc)
    else:
        raise AssertionError("retry of an unknown name must fail")


def test_owner_names_parse_back():
    assert parse_owner(owner_name(pid=42, host="a-b")) == ("a-b", 42)
    assert parse_owner("junk") is None
    assert pid_alive(dead_pid()) is False
