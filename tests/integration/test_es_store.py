"""The Elasticsearch store on the real test node: index design, strict mapping, ingest, spool, config.

What every backend promises is in tests/contract; this file checks what is particular to
Elasticsearch. Each test uses its own index prefix and drops it afterwards.
"""
from __future__ import annotations

import secrets
import socket
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from pathlib import Path

import pytest

pytest.importorskip("elasticsearch")

from index.elasticsearch.client import ConnectionSettings  # noqa: E402
from tests.support.es_node import url_for_tests  # noqa: E402
from index.elasticsearch.store import ElasticsearchStore  # noqa: E402
from index.schema import DEFAULT_TZ, Alert, Author, Post, Region, Sentiment, Topic  # noqa: E402
from index.store import PostQuery, StoreUnavailable  # noqa: E402
from yuqing.config import load_settings  # noqa: E402

pytestmark = pytest.mark.integration

T0 = datetime(2024, 5, 30, 12, tzinfo=DEFAULT_TZ)
LIANXI = Region(province="江西省", province_code="36", city="九江市", city_code="3604",
                district="濂溪区", district_code="360402")


def post(n: int, at: datetime = T0, content: str = "道路内涝，市民出行困难") -> Post:
    return Post(id=f"weibo:{n}", platform="weibo", source="weibo_search", title=f"濂溪区暴雨{n}",
                content=content, published_at=at, crawled_at=at,
                sentiment=Sentiment(label="负面", score=0.9), topics=[Topic(label="城乡建设", score=0.8)],
                region=LIANXI)


@pytest.fixture(scope="module")
def es_url() -> str:
    return url_for_tests()


@pytest.fixture
def make_store(es_url: str, tmp_path: Path) -> Iterator[Callable[..., ElasticsearchStore]]:
    made: list[ElasticsearchStore] = []
    prefix = f"yqt-{secrets.token_hex(4)}"

    def make(**kw) -> ElasticsearchStore:
        kw.setdefault("index_prefix", prefix)
        kw.setdefault("replicas", 0)
        kw.setdefault("spool_dir", tmp_path / "spool")
        connection = kw.pop("connection", ConnectionSettings(hosts=(es_url,)))
        store = ElasticsearchStore(connection, **kw)
        made.append(store)
        return store

    yield make
    for store in made:
        store.close()
    cleaner = ElasticsearchStore(ConnectionSettings(hosts=(es_url,)), index_prefix=prefix)
    cleaner.drop()
    cleaner.close()


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_monthly_indices_behind_one_alias_with_composable_templates(make_store):
    store = make_store()
    store.open()
    report = store.upsert_posts([post(1), post(2, T0 + timedelta(days=3))])   # May 30 and June 2
    assert report.written == 2 and not report.errors
    client, names = store.client, store.names
    template = client.indices.get_index_template(name=names.template("posts"))["index_templates"][0]
    assert template["index_template"]["index_patterns"] == [names.posts_pattern]
    indices = client.indices.get_alias(name=names.posts_alias)
    assert sorted(indices) == [f"{names.prefix}-posts-2024.05", f"{names.prefix}-posts-2024.06"]
    live = client.indices.get_mapping(index=f"{names.prefix}-posts-2024.05")
    mappings = next(iter(live.values()))["mappings"]
    assert mappings["dynamic"] == "strict"
    assert mappings["properties"]["published_at"]["type"] == "date_nanos"
    assert store.count(PostQuery(region_codes=("3604",))) == 2


def test_a_malformed_document_is_refused_alone_and_the_mapping_stays(make_store):
    store = make_store()
    store.open()
    store.upsert_posts([post(1)])
    index = store.names.posts_index(T0)
    good = store._docs.document(post(2))
    unknown = {**store._docs.document(post(3)), "bogus": 1}
    wrong_type = {**store._docs.document(post(4)), "published_at": "昨天"}
    outcome = store._bulk().write([
        {"_op_type": "index", "_index": index, "_id": "weibo:2", "_source": good},
        {"_op_type": "index", "_index": index, "_id": "weibo:3", "_source": unknown},
        {"_op_type": "index", "_index": index, "_id": "weibo:4", "_source": wrong_type},
    ])
    assert outcome.ok == ["weibo:2"]
    assert "strict_dynamic_mapping_exception" in outcome.failed["weibo:3"] and "bogus" in outcome.failed["weibo:3"]
    assert "published_at" in outcome.failed["weibo:4"]
    mapping = next(iter(store.client.indices.get_mapping(index=index).values()))["mappings"]
    assert "bogus" not in mapping["properties"]


def test_the_store_reports_refused_posts_per_document(make_store):
    store = make_store()
    too_long = post(2).model_copy(update={"id": "weibo:" + "x" * 600})        # _id is limited to 512 bytes
    report = store.upsert_posts([post(1), too_long, {"id": "weibo:9", "platform": "weibo"}])
    assert report.written == 1
    assert set(report.errors) == {too_long.id, "weibo:9"}
    assert "512" in report.errors[too_long.id]
    assert store.count() == 1 and report.spooled == 0


def test_a_post_moved_to_another_month_leaves_its_old_index(make_store):
    store = make_store()
    store.upsert_posts([post(1), post(2)])
    moved = post(1, T0 + timedelta(days=5), content="改到六月")
    assert store.upsert_posts([moved]).written == 1
    assert store.count() == 2
    june = store.client.count(index=store.names.posts_index(moved.published_at))["count"]
    may = store.client.count(index=store.names.posts_index(T0))["count"]
    assert (may, june) == (1, 1)
    assert store.get_posts(["weibo:1"])[0].content == "改到六月"
    # moved twice within one batch, before a refresh could show the first copy
    store.upsert_posts([post(3), post(3, T0 + timedelta(days=6))])
    assert store.count(PostQuery(ids=("weibo:3",))) == 1


def test_alerts_mark_their_posts_and_rewrites_keep_the_mark(make_store):
    store = make_store()
    store.upsert_posts([post(1), post(2), post(3)])
    alert = Alert(id="volume_spike:城乡建设", rule="volume_spike", rule_type="volume_spike", level="黄",
                  title="城乡建设类信息量激增", post_ids=["weibo:1", "weibo:2", "missing:1"],
                  window_start=T0 - timedelta(hours=6), window_end=T0, first_seen=T0, last_seen=T0)
    store.upsert_alert(alert)
    linked = {"exists": {"field": "alert_ids"}}
    assert store.client.count(index=store.names.posts_alias, query=linked)["count"] == 2
    store.upsert_posts([post(1, content="更新后的内容")])                 # re-enriched post keeps its alert
    hit = store.client.search(index=store.names.posts_alias, query={"ids": {"values": ["weibo:1"]}})
    assert hit["hits"]["hits"][0]["_source"]["alert_ids"] == [alert.id]
    assert store.get_posts(["weibo:1"])[0].content == "更新后的内容"
    # the alert document itself is what a restarted engine reads back
    assert store.get_alert(alert.id).model_dump() == alert.model_dump()


def test_unreachable_cluster_spools_posts_and_replays_them_in_order(make_store, es_url):
    down = make_store(connection=ConnectionSettings(hosts=(f"http://127.0.0.1:{closed_port()}",),
                                                    request_timeout_s=2, transport_retries=0))
    down.open()                                        # not an error with a spool
    first = down.upsert_posts([post(1), post(2)])
    second = down.upsert_posts([post(1, content="第二版")])
    assert (first.written, first.spooled, second.spooled) == (0, 2, 1)
    assert down.spool.pending() == 3
    with pytest.raises(StoreUnavailable):
        down.count()
    with pytest.raises(StoreUnavailable):
        down.replay_spool()
    up = make_store()                                  # same prefix and spool, reachable cluster
    up.open()                                          # replays on open
    assert not up.spool
    assert up.count() == 2
    assert up.get_posts(["weibo:1"])[0].content == "第二版"   # replayed oldest first: the newer copy wins


def test_writes_wait_behind_the_spool(make_store):
    store = make_store()
    store.open()
    store.spool.append([post(1, content="旧")])        # e.g. left by another process during an outage
    report = store.upsert_posts([post(1, content="新"), post(2)])
    assert (report.replayed, report.written, report.spooled) == (1, 3, 0)
    assert store.get_posts(["weibo:1"])[0].content == "新"


def test_create_store_from_yaml_settings(es_url, tmp_path, monkeypatch):
    configs = Path(__file__).resolve().parents[2] / "configs"
    prefix = f"yqt-{secrets.token_hex(4)}"
    monkeypatch.setenv("YQ_TEST_ES_HOSTS", f"{es_url}, {es_url}/")      # the same node twice: used once
    settings = load_settings(configs / "app.yaml", base_dir=tmp_path, overrides={"store": {
        "backend": "elasticsearch",
        "elasticsearch": {"hosts": "${YQ_TEST_ES_HOSTS}", "index_prefix": prefix, "number_of_replicas": 0}}})
    store = settings.create_store()
    try:
        with store:
            assert store.upsert_posts([post(1)]).written == 1
            assert store.connection.hosts == (es_url,)
            assert [(b.key, b.count) for b in store.terms(PostQuery(), "district")] == [("濂溪区", 1)]
            store.set_state("cursor", "x")
        with settings.create_store() as again:
            assert again.get_state("cursor") == "x" and again.count() == 1
    finally:
        store.drop()
        store.close()
    assert (tmp_path / "var" / "spool").exists() is False     # nothing needed spooling


def test_grouped_histogram_is_exact_with_more_groups_than_one_request_holds(make_store, monkeypatch):
    import index.elasticsearch.store as es_store_module

    store = make_store()
    posts = [post(n, T0 + timedelta(hours=7 * n)).model_copy(update={"author": Author(name=f"作者{n % 7}")})
             for n in range(40)]
    store.upsert_posts(posts)
    query = PostQuery(start=T0, end=T0 + timedelta(days=12))
    expected: dict[datetime, dict[str, int]] = {}
    for p in posts:
        day = p.published_at.replace(hour=0, minute=0, second=0, microsecond=0)
        expected.setdefault(day, {}).setdefault(p.author.name, 0)
        expected[day][p.author.name] += 1
    few = {b.start: b.counts for b in store.histogram(query, "day", group_by="author") if b.counts}
    monkeypatch.setattr(es_store_module, "GROUPS_AT_ONCE", 3)        # 7 authors: terms is not enough
    monkeypatch.setattr(es_store_module, "COMPOSITE_PAGE", 5)        # and the composite pages
    many = {b.start: b.counts for b in store.histogram(query, "day", group_by="author") if b.counts}
    assert few == many == expected
