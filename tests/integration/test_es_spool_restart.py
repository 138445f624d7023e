"""Stop and restart Elasticsearch during ingest: no post lost, none duplicated.

The test runs its own node (so it may stop it). A thread stops the node while the main
thread keeps writing batches of new posts and updates (some moving a post to another
month's index); batches the cluster cannot take go to the spool. After the restart the
next write replays the spool first, oldest first. At the end every post is stored once,
in its latest version and in the right monthly index.
"""
from __future__ import annotations

import random
import secrets
import threading
import time
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path

import pytest

pytest.importorskip("elasticsearch")

from index.elasticsearch.client import ConnectionSettings  # noqa: E402
from tests.support.es_node import TestNode, own_node_for_tests  # noqa: E402
from index.elasticsearch.store import ElasticsearchStore, EsUpsertReport  # noqa: E402
from index.schema import DEFAULT_TZ, Post  # noqa: E402
from index.store import PostQuery  # noqa: E402

pytestmark = pytest.mark.integration

T0 = datetime(2024, 5, 28, tzinfo=DEFAULT_TZ)       # posts span May 28 – June 3: two monthly indices
BATCHES, NEW_PER_BATCH, UPDATES_PER_BATCH = 60, 40, 10
STOP_AFTER_BATCH = 15
SPOOLED_BATCHES_BEFORE_RESTART = 6


def make_post(n: int, version: int, rng: random.Random) -> Post:
    at = T0 + timedelta(minutes=rng.randrange(7 * 24 * 60))
    return Post(id=f"weibo:{n}", platform="weibo", source="weibo_search", title=f"帖子{n}",
                content=f"第{version}版 濂溪区暴雨内涝", published_at=at, crawled_at=at)


def batches(rng: random.Random) -> list[list[Post]]:
    out, sent = [], 0
    for j in range(BATCHES):
        batch = [make_post(n, 0, rng) for n in range(sent, sent + NEW_PER_BATCH)]
        if sent:
            batch += [make_post(rng.randrange(sent), j, rng) for _ in range(UPDATES_PER_BATCH)]
        sent += NEW_PER_BATCH
        out.append(batch)
    return out


@pytest.fixture(scope="module")
def node() -> Iterator[TestNode]:
    own = own_node_for_tests("yuqing-test-spool")
    yield own
    own.cleanup()


def test_stop_and_restart_during_ingest_loses_and_duplicates_nothing(node: TestNode, tmp_path: Path):
    rng = random.Random(11)
    stream = batches(rng)
    expected: dict[str, Post] = {}
    for batch in stream:
        for post in batch:
            expected[post.id] = post                 # the last version sent wins
    store = ElasticsearchStore(ConnectionSettings(hosts=(node.url,), request_timeout_s=10, transport_retries=1),
                               index_prefix=f"yqt-{secrets.token_hex(4)}", replicas=0, spool_dir=tmp_path / "spool",
                               max_retries=2, initial_backoff_s=0.2, max_backoff_s=1.0)
    store.open()

    stop_now, restarted = threading.Event(), threading.Event()
    failure: list[BaseException] = []

    def stop_and_restart() -> None:
        try:
            stop_now.wait(60)
            node.stop()
            time.sleep(0.5)
            node.start()
        except BaseException as exc:   # surfaced in the main thread
            failure.append(exc)
        finally:
            restarted.set()

    stopper = threading.Thread(target=stop_and_restart, daemon=True)
    stopper.start()
    reports: list[EsUpsertReport] = []
    spooled_batches = 0
    for i, batch in enumerate(stream):
        if i == STOP_AFTER_BATCH:
            stop_now.set()                           # the node goes down while the next batches are written
        report = store.upsert_posts(batch)
        reports.append(report)
        spooled_batches += bool(report.spooled)
        if stop_now.is_set() and not restarted.is_set():
            if spooled_batches >= SPOOLED_BATCHES_BEFORE_RESTART:
                assert restarted.wait(180), "node did not restart"
            else:
                time.sleep(0.1)                      # keep ingesting through the shutdown
    assert restarted.wait(180) and not failure, failure
    if store.spool:
        store.replay_spool()

    spooled = sum(r.spooled for r in reports)
    replayed = sum(r.replayed for r in reports)
    assert spooled > 0 and replayed > 0, "the outage should have sent posts through the spool"
    assert all(not r.errors for r in reports), [r.errors for r in reports if r.errors]
    assert not store.spool and store.spool.pending() == 0

    # every post present once: as many documents as distinct ids, and every id found
    assert store.count() == len(expected) == BATCHES * NEW_PER_BATCH
    stored = {p.id: p for p in store.get_posts(expected)}
    assert set(stored) == set(expected)
    stale = [i for i, p in expected.items()
             if (stored[i].content, stored[i].published_at) != (p.content, p.published_at)]
    assert stale == []
    for month in ("2024.05", "2024.06"):
        in_index = store.client.count(index=f"{store.names.prefix}-posts-{month}")["count"]
        assert in_index == sum(store.names.posts_index(p.published_at).endswith(month) for p in expected.values())
    assert store.count(PostQuery(text="暴雨")) == len(expected)
    store.drop()
    store.close()
