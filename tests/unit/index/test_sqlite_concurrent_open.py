"""Processes opening one new SQLite store at the same moment all get it (the WAL switch race)."""
from __future__ import annotations

import multiprocessing

import pytest

from index.sqlite.store import SQLiteStore


def _open_and_write(path: str, barrier, results, slot: int) -> None:
    try:
        store = SQLiteStore(path)
        barrier.wait(timeout=30)
        store.open()
        store.set_state(f"opened-{slot}", "yes")
        store.close()
        results.put((slot, "ok"))
    except Exception as exc:  # noqa: BLE001 - reported to the parent
        results.put((slot, f"{type(exc).__name__}: {exc}"))


@pytest.mark.skipif("fork" not in multiprocessing.get_all_start_methods(), reason="needs fork")
def test_processes_opening_a_new_store_at_once_all_succeed(tmp_path):
    ctx = multiprocessing.get_context("fork")
    n = 4
    for round_ in range(100):   # the race hits ~1 open in 100
        path = str(tmp_path / f"r{round_}.db")
        barrier, results = ctx.Barrier(n), ctx.Queue()
        procs = [ctx.Process(target=_open_and_write, args=(path, barrier, results, i)) for i in range(n)]
        for p in procs:
            p.start()
        outcome = dict(results.get(timeout=60) for _ in procs)
        for p in procs:
            p.join(60)
        assert outcome == {i: "ok" for i in range(n)}, (round_, outcome)
        with SQLiteStore(path) as store:
            assert [store.get_state(f"opened-{i}") for i in range(n)] == ["yes"] * n
