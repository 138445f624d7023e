"""Web workbench at 1M posts: the overview page and filtered searches timed through the real FastAPI app.

The app is `yuqing.web.app.create_app(App)` over an office made as the web tests make one
(tests.support.workbench.write_office: the shipped configs, accounts of their own), signed in as
an analyst (masking on, every alert visible); requests go through starlette's TestClient, so a
figure is routing + auth + the view + the store + the template, everything but the socket.

Posts are bench_store's (real Weibo texts from ../shared/data when present, recycled; platform,
sentiment, topic, region with districts, keywords, tokens) plus a 舆情倾向 (polarity: 负面 30 %,
中性 50 %, 正面 20 %), spread over the 30 days before bench_store.END. The app's clock
(index.clock) is a SimulatedClock at END, moved on one second before every request, so the
overview's default range (the 24 h before settings.now()) and its 30-day range cover the posts,
the cached store stays valid whenever it is rerun, and no two requests ask the very same time
window (an Elasticsearch request-cache hit would flatter the figures). A handful of alerts (the
overview lists the latest 8) are routed to two agencies.

SQLite: the store is built once under /tmp/yuqing-bench-web (store-<N>.db; reused when its
count and build stamp match; never under the repository). Elasticsearch: YUQING_ES_URL when set,
else a test node of its own (tests.support.es_node, 512 MB heap, data kept under
/tmp/yuqing-bench-web/es-node), bulk-loaded as bench_es loads (each distinct text segmented once);
an index of the right size left by an earlier run is reused.

SQLite's query planner statistics (sqlite_stat1) decide the plans at this size: SQLiteStore writes
them only through PRAGMA optimize when it closes, so a store filled by ingest alone has none.
--planner-stats analyze (default) runs ANALYZE on the cached store when it has none; none deletes
them, to measure that state.

Each request: 1 warm-up, then --runs timed runs (median and p90, nearest rank). The split lines
time the same work without HTTP: the view function alone (views.overview / views.search), and
each store call the overview makes.

    python -m bench.bench_web [--posts 1000000] [--backend sqlite|es|both] [--runs 7] [--profile]
                              [--planner-stats analyze|none]
    python -m bench web        (YUQING_BENCH_WEB_POSTS, YUQING_BENCH_WEB_BACKEND; default 1M, both)

Prints JSON lines; never asserts on time.
"""
from __future__ import annotations

import argparse
import cProfile
import dataclasses
import io
import json
import math
import os
import pstats
import random
import re
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from bench.bench_store import END, load_texts, make_posts
from index import clock
from index.schema import Alert, Post, Sentiment
from index.store import PostQuery

REPO = Path(__file__).resolve().parents[1]
CACHE = Path(os.environ.get("YUQING_BENCH_WEB_CACHE", "/tmp/yuqing-bench-web"))
BUILD_STAMP = "bench_web/1"          # change when the corpus changes, so an old cached store is rebuilt
CHUNK = 20_000
POLARITIES, POLARITY_WEIGHTS = ("负面", "中性", "正面"), (3, 5, 2)
ANALYST = ("ana", "analyst-pass-1")
TARGETS_MS = {"sqlite": {"overview": 1000, "search": 300}, "es": {"overview": 1000, "search": 500}}


# --- the corpus ------------------------------------------------------------------------------
def corpus(n: int, texts: list[str], tokenized: dict[str, list[str]], seed: int = 11) -> Iterator[list[Post]]:
    """n posts in chunks: bench_store.make_posts (the whole text list recycled, not only its head),
    ids unique across chunks, a polarity added."""
    rng = random.Random(seed)
    for start in range(0, n, CHUNK):
        off = start % len(texts)
        batch = make_posts(min(CHUNK, n - start), texts[off:] + texts[:off], tokenized, rng)
        labels = rng.choices(POLARITIES, weights=POLARITY_WEIGHTS, k=len(batch))
        yield [p.model_copy(update={"id": f"{p.platform}:{start + i}",
                                    "polarity": Sentiment(label=label, score=0.8)})
               for i, (p, label) in enumerate(zip(batch, labels))]


class CachedSegmenter:
    """The app's segmenter with index_tokens/pieces memoised: the 1M corpus recycles ~40k texts,
    so the build cuts each once (the stored rows are what the plain segmenter gives)."""

    def __init__(self, inner: Any):
        self._inner = inner
        self._tokens: dict[str, list[str]] = {}
        self._pieces: dict[str, tuple[str, ...]] = {}

    def index_tokens(self, text: str) -> list[str]:
        found = self._tokens.get(text)
        if found is None:
            found = self._tokens[text] = self._inner.index_tokens(text)
        return found

    def pieces(self, word: str) -> tuple[str, ...]:
        found = self._pieces.get(word)
        if found is None:
            found = self._pieces[word] = self._inner.pieces(word)
        return found

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)


def prepared_texts(segmenter: Any) -> tuple[list[str], dict[str, list[str]]]:
    texts = load_texts()
    started = time.perf_counter()
    tokenized = {t: [w for w in segmenter.index_tokens(t) if not w.isspace()] for t in texts}
    emit("web.prepare", texts=len(texts), segment_s=round(time.perf_counter() - started, 1))
    return texts, tokenized


# --- stores ------------------------------------------------------------------------------------
def sqlite_store_path(n: int) -> Path:
    return CACHE / (f"store-{n // 1_000_000}m.db" if n % 1_000_000 == 0 else f"store-{n}.db")


def build_sqlite(n: int, settings: Any, texts_of: Callable[[], tuple[list[str], dict[str, list[str]]]]) -> Path:
    from index.sqlite.store import SQLiteStore
    path = sqlite_store_path(n)
    if path.exists():
        with SQLiteStore(path, timezone=settings.app.timezone, segmenter=settings.segmenter()) as store:
            count, stamp = store.count(), store.get_state("bench_web")
        if count == n and stamp == BUILD_STAMP:
            emit("web.sqlite.build", posts=n, reused=str(path), db_mb=round(path.stat().st_size / 2**20))
            return path
        print(f"(cached {path} has {count} posts, stamp {stamp!r}: rebuilding)", flush=True)
    path.parent.mkdir(parents=True, exist_ok=True)
    building = path.with_name(path.name + ".building")
    for stale in (building, Path(f"{building}-wal"), Path(f"{building}-shm")):
        stale.unlink(missing_ok=True)
    texts, tokenized = texts_of()
    started = time.perf_counter()
    store = SQLiteStore(building, timezone=settings.app.timezone, segmenter=CachedSegmenter(settings.segmenter()))
    with store:
        for batch in corpus(n, texts, tokenized):
            report = store.upsert_posts(batch)
            assert not report.errors, list(report.errors.items())[:3]
        store.set_state("bench_web", BUILD_STAMP)
        count = store.count()
    assert count == n, (count, n)
    for suffix in ("-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    building.rename(path)
    seconds = time.perf_counter() - started
    emit("web.sqlite.build", posts=n, seconds=round(seconds), posts_per_s=round(n / seconds),
         db_mb=round(path.stat().st_size / 2**20), path=str(path))
    return path


def planner_stats(path: Path, mode: str) -> dict[str, Any]:
    """Make the SQLite planner statistics (sqlite_stat1) what --planner-stats asks: 'analyze' runs
    ANALYZE when there are none, 'none' deletes them (the state a store built by ingest alone is in:
    SQLiteStore runs PRAGMA optimize only when it closes, on the closing thread's connection)."""
    import sqlite3
    conn = sqlite3.connect(path)
    try:
        def rows() -> int:
            try:
                return conn.execute("SELECT count(*) FROM sqlite_stat1").fetchone()[0]
            except sqlite3.OperationalError:      # no sqlite_stat1 table at all
                return 0
        before, started = rows(), time.perf_counter()
        if mode == "analyze" and not before:
            conn.execute("ANALYZE")
        elif mode == "none" and before:
            conn.execute("DELETE FROM sqlite_stat1")
        conn.commit()
        return {"planner_stats": mode, "stat1_rows_before": before, "stat1_rows": rows(),
                "seconds": round(time.perf_counter() - started, 1)}
    finally:
        conn.close()


def load_es(url: str, prefix: str, n: int, settings: Any,
            texts_of: Callable[[], tuple[list[str], dict[str, list[str]]]]) -> None:
    from bench.bench_es import CachedDocuments, es_store, ingest, settle_merges
    store = es_store(url, prefix, documents=CachedDocuments(settings.segmenter()))
    store.open()
    try:
        existing = store.count()
        if existing == n:
            emit("web.es.load", posts=n, reused=prefix)
            return
        if existing:
            store.drop()
            store.close()
            store = es_store(url, prefix, documents=CachedDocuments(settings.segmenter()))
            store.open()
        texts, tokenized = texts_of()
        started = time.perf_counter()
        for batch in corpus(n, texts, tokenized):
            ingest(store, batch)
        seconds = time.perf_counter() - started
        store.client.indices.refresh(index=store.names.posts_alias)
        settle_merges(store)
        stats = store.client.indices.stats(index=store.names.posts_alias, metric="docs,store")["_all"]["primaries"]
        emit("web.es.load", posts=store.count(), seconds=round(seconds), posts_per_s=round(n / seconds),
             store_mb=round(stats["store"]["size_in_bytes"] / 2**20))
    finally:
        store.close()


# --- the office and its app ---------------------------------------------------------------------
def add_alerts(app: Any, now: datetime) -> int:
    """Six alerts routed to two agencies (the overview lists the latest 8 active ones)."""
    from tests.support.workbench import LIANXI, XUNYANG
    from warning.alerts import example_of, record
    from warning.lifecycle import AlertDesk
    store = app.store
    hits = store.search(PostQuery(start=now - timedelta(hours=6), end=now), size=18).hits
    posts = [h.post for h in hits]
    desk = AlertDesk(store, app.settings.agencies)
    specs = [("eco_env", "九江市生态环境局", "环境保护", "橙", LIANXI), ("housing", "九江市住房和城乡建设局", "城乡建设", "黄", XUNYANG)]
    for i in range(6):
        agency, agency_name, topic, level, region = specs[i % 2]
        mine = posts[3 * i: 3 * i + 3]
        a = Alert(id=f"bench.web.{i}", rule="spike", rule_type="volume_spike", level=level if i else "红",
                  title=f"{topic}信息量突增 #{i}", topic=topic, summary=f"{topic}近 6 小时信息量突增", region=region,
                  agency=agency, agency_name=agency_name, post_ids=[p.id for p in mine],
                  window_start=now - timedelta(hours=6), window_end=now,
                  first_seen=now - timedelta(hours=6 - i), last_seen=now - timedelta(minutes=10),
                  examples=[example_of(p) for p in mine])
        record(a, "raised", a.first_seen, level=a.level)
        desk.on_raised(a, a.first_seen)
        store.upsert_alert(a)
    return 6


def office(tmp: Path, store: dict) -> Any:
    """An App over the shipped configs (write_office), its store as given, an analyst and an API token."""
    from tests.support.workbench import write_office
    from yuqing.config import load_settings
    from yuqing.jobs import App
    app = App(load_settings(write_office(tmp, store)))
    app.accounts.add_user(ANALYST[0], "analyst", ANALYST[1])
    return app


def office_settings(folder: Path) -> Any:
    """The settings of an office over the shipped configs (timezone, the app's segmenter)."""
    from tests.support.workbench import write_office
    from yuqing.config import load_settings
    folder.mkdir(parents=True, exist_ok=True)
    return load_settings(write_office(folder))


def sign_in(web: Any) -> Any:
    from fastapi.testclient import TestClient
    client = TestClient(web, base_url="http://testserver")
    csrf = re.search(r'name="csrf" value="([^"]+)"', client.get("/login").text).group(1)
    r = client.post("/login", data={"name": ANALYST[0], "password": ANALYST[1], "csrf": csrf, "next": "/"},
                    follow_redirects=False)
    assert r.status_code == 303, r.text[:300]
    return client


# --- measuring -------------------------------------------------------------------------------------
def emit(name: str, **fields: Any) -> None:
    print(json.dumps({"bench": name, **fields}, ensure_ascii=False), flush=True)


def p90(times: list[float]) -> float:
    ordered = sorted(times)
    return ordered[max(0, math.ceil(0.9 * len(ordered)) - 1)]


class Ticking:
    """The app's clock: moved on one second before each call, so no two requests share a window."""

    def __init__(self, start: datetime):
        self.clock = clock.SimulatedClock(start)
        self.at = start

    def tick(self) -> datetime:
        self.at += timedelta(seconds=1)
        self.clock.set(self.at)
        return self.at


def repeat(call: Callable[[], Any], ticking: Ticking, runs: int) -> tuple[list[float], Any]:
    ticking.tick()
    result = call()                       # warm-up
    times = []
    for _ in range(runs):
        ticking.tick()
        started = time.perf_counter()
        result = call()
        times.append((time.perf_counter() - started) * 1000)
    return times, result


class TimedStore:
    """The store with each call's time recorded (method and field), for the overview's split."""

    def __init__(self, inner: Any):
        self._inner = inner
        self.calls: list[tuple[str, float]] = []

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._inner, name)
        if name not in ("count", "terms", "histogram", "search", "list_alerts"):
            return attr

        def timed(*args: Any, **kw: Any) -> Any:
            started = time.perf_counter()
            try:
                return attr(*args, **kw)
            finally:
                label = name
                if name == "terms":
                    q = args[0]
                    label = f"terms({args[1]}{', negative' if q.polarities else ''})"
                elif name == "histogram":
                    label = f"histogram({args[1]}, {kw.get('group_by')})"
                elif name == "count":
                    label = "count"
                self.calls.append((label, (time.perf_counter() - started) * 1000))
        return timed


def profile(call: Callable[[], Any], ticking: Ticking, top: int = 25) -> str:
    ticking.tick()
    prof = cProfile.Profile()
    prof.enable()
    call()
    prof.disable()
    out = io.StringIO()
    pstats.Stats(prof, stream=out).sort_stats("cumulative").print_stats(top)
    return out.getvalue()


def requests(days_end: datetime) -> dict[str, tuple[str, str, dict[str, str]]]:
    """name -> (kind, path, params). The search filters: the last 7 days, Weibo, 负面, 环境保护, 濂溪区."""
    end_day = (days_end - timedelta(days=1)).date()
    filters = {"start": (end_day - timedelta(days=6)).isoformat(), "end": end_day.isoformat(),
               "platform": "weibo", "polarity": "负面", "topic": "环境保护", "region": "360402"}
    return {
        "overview_24h": ("overview", "/", {}),
        "overview_7d": ("overview", "/", {"range": "7d"}),
        "overview_30d": ("overview", "/", {"range": "30d"}),
        "search_keyword": ("search", "/search", {"q": "工作"}),
        "search_keyword_filters": ("search", "/search", {"q": "工作", **filters}),
        "search_or_not": ("search", "/search", {"q": "工作 OR 学习 NOT 心情"}),
        "search_or_not_filters": ("search", "/search", {"q": "工作 OR 学习 NOT 心情", **filters}),
        "search_filters_no_text": ("search", "/search", {**filters}),
        "api_posts_filters": ("search", "/api/v1/posts", {"q": "工作", **filters, "limit": "50"}),
        "api_posts_or_not": ("search", "/api/v1/posts", {"q": "工作 OR 学习 NOT 心情", **filters, "limit": "50"}),
    }


def view_call(app: Any, kind: str, path: str, params: dict[str, str]) -> Callable[[], Any]:
    """What the request's endpoint computes before rendering, callable in this thread."""
    from yuqing.web.views import Principal, SearchForm, overview, search, time_range
    who, tz = Principal(ANALYST[0], "analyst"), app.settings.tz
    if kind == "overview":
        def view() -> Any:
            s, e, _ = time_range(app.settings.now(), tz, params.get("range"), None, None)
            return overview(app.store, who, s, e, tz)
        return view
    form = SearchForm(**{k: v for k, v in params.items() if k != "limit"})
    size = int(params.get("limit", 20))

    def view_search() -> Any:
        query = form.query(tz)
        if path.startswith("/api/"):
            query = dataclasses.replace(query, end=query.end if query.end and query.end <= app.settings.now()
                                        else app.settings.now())
        return search(app.store, query, who, size=size, offset=0, sort=form.sort, tz=tz)
    return view_search


def figure_of(html: str, kind: str) -> int | None:
    found = re.search(r'id="total">(\d+)<' if kind == "overview" else r'id="hit-total">(\d+)<', html)
    return int(found.group(1)) if found else None


def measure(backend: str, app: Any, n: int, runs: int, ticking: Ticking, want_profile: bool) -> list[dict]:
    from warning.reports.chart import trend_svg
    from yuqing.web.app import create_app
    from yuqing.web.views import Principal, SearchForm, overview, search, time_range
    rows = []
    web = create_app(app)
    client = sign_in(web)
    _, secret = app.accounts.add_token(f"bench-{backend}", scopes=("read",), rate_per_minute=1_000_000)
    headers = {"Authorization": f"Bearer {secret}"}
    for name, (kind, path, params) in requests(END).items():
        api = path.startswith("/api/")

        def call(path: str = path, params: dict = params, api: bool = api) -> Any:
            r = client.get(path, params=params, headers=headers if api else None)
            assert r.status_code == 200, (path, params, r.status_code, r.text[:300])
            return r
        times, response = repeat(call, ticking, runs)
        target = TARGETS_MS[backend][kind]
        median = statistics.median(times)
        total = response.json()["total"] if api else figure_of(response.text, kind)
        row = {"backend": backend, "request": name, "path": path, "params": params, "posts": n,
               "median_ms": round(median, 1), "p90_ms": round(p90(times), 1), "min_ms": round(min(times), 1),
               "target_ms": target, "met": median <= target, "matches": total, "bytes": len(response.content)}
        emit(f"web.{backend}.{name}", **{k: v for k, v in row.items() if k not in ("backend", "request")})
        rows.append(row)
        if want_profile and median > target:
            # The endpoint runs in the app's thread pool, out of a main-thread profiler's sight:
            # profile what it calls, here.
            print(f"--- cProfile of {backend} {name}: the view function, one call, cumulative ---", flush=True)
            print(profile(view_call(app, kind, path, params), ticking), flush=True)

    # The split: the view functions alone (no HTTP, no template), each store call of the overview.
    who = Principal(ANALYST[0], "analyst")
    tz = app.settings.tz
    for range_name in ("24h", "7d", "30d"):
        timed_store = TimedStore(app.store)

        def view(range_name: str = range_name, store: Any = timed_store) -> Any:
            s, e, _ = time_range(app.settings.now(), tz, range_name, None, None)
            return overview(store, who, s, e, tz)
        times, _ = repeat(view, ticking, runs)
        per_call: dict[str, list[float]] = {}
        for label, ms in timed_store.calls:
            per_call.setdefault(label, []).append(ms)
        calls = {label: round(statistics.median(v), 1) for label, v in per_call.items()}
        s, e, _ = time_range(app.settings.now(), tz, range_name, None, None)
        hourly = e - s <= timedelta(days=3)
        buckets = app.store.histogram(PostQuery(start=s, end=e), "hour" if hourly else "day", group_by="polarity")
        svg_times, _ = repeat(lambda: trend_svg(buckets, timedelta(hours=1) if hourly else timedelta(days=1), tz),
                              ticking, runs)
        emit(f"web.{backend}.split.overview_{range_name}_view", posts=n, median_ms=round(statistics.median(times), 1),
             store_calls_sum_ms=round(sum(calls.values()), 1), trend_svg_ms=round(statistics.median(svg_times), 1),
             store_calls_median_ms=calls)
    for name, (kind, path, params) in requests(END).items():
        if kind != "search" or path != "/search":
            continue
        form = SearchForm(**params)

        def view_search(form: SearchForm = form) -> Any:
            return search(app.store, form.query(tz), who, size=20, offset=0, sort=form.sort, tz=tz)

        def store_search(form: SearchForm = form) -> Any:
            return app.store.search(form.query(tz), size=20, offset=0, sort=form.sort)
        times, _ = repeat(view_search, ticking, runs)
        store_times, _ = repeat(store_search, ticking, runs)
        emit(f"web.{backend}.split.{name}_view", posts=n, median_ms=round(statistics.median(times), 1),
             store_search_median_ms=round(statistics.median(store_times), 1))
    return rows


def run_backend(backend: str, n: int, runs: int, want_profile: bool,
                texts_of: Callable[[], tuple[list[str], dict[str, list[str]]]], node_box: dict,
                stats_mode: str = "analyze") -> list[dict]:
    ticking = Ticking(END)
    with tempfile.TemporaryDirectory(prefix="bench-web-") as tmp, clock.use(ticking.clock):
        if backend == "sqlite":
            path = build_sqlite(n, office_settings(Path(tmp) / "probe"), texts_of)
            emit("web.sqlite.planner_stats", posts=n, **planner_stats(path, stats_mode))
            config = {"backend": "sqlite", "sqlite": {"path": str(path)}}
        else:
            url = es_url(node_box)
            prefix = f"benchweb-{n}"
            config = {"backend": "elasticsearch", "elasticsearch": {
                "hosts": [url], "index_prefix": prefix, "number_of_replicas": 0, "spool_dir": str(Path(tmp) / "spool")}}
        (Path(tmp) / "office").mkdir()
        app = office(Path(tmp) / "office", config)
        try:
            if backend == "es":
                load_es(config["elasticsearch"]["hosts"][0], config["elasticsearch"]["index_prefix"], n,
                        app.settings, texts_of)
            add_alerts(app, END)
            return measure(backend, app, n, runs, ticking, want_profile)
        finally:
            app.close()


def es_url(node_box: dict) -> str:
    url = os.environ.get("YUQING_ES_URL")
    if url:
        return url
    if "node" not in node_box:
        from tests.support.es_node import start_node
        workdir = CACHE / "es-node"
        workdir.mkdir(parents=True, exist_ok=True)
        CACHE.chmod(0o755)
        node_box["node"] = start_node(name="yuqing-bench-web", workdir=workdir, keep_data=True)
    return node_box["node"].url


def machine() -> dict[str, Any]:
    load = os.getloadavg()
    mem = next((int(line.split()[1]) // 1024 for line in Path("/proc/meminfo").read_text().splitlines()
                if line.startswith("MemTotal")), None)
    return {"cpus": os.cpu_count(), "mem_mb": mem, "python": sys.version.split()[0],
            "load": [round(x, 2) for x in load], "at": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.bench_web", description=__doc__.split("\n\n")[0])
    parser.add_argument("--posts", type=int, default=int(os.environ.get("YUQING_BENCH_WEB_POSTS", 1_000_000)))
    parser.add_argument("--backend", choices=("sqlite", "es", "both"),
                        default=os.environ.get("YUQING_BENCH_WEB_BACKEND", "both"))
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--profile", action="store_true",
                        help="cProfile (in this thread: the view function) each request that misses its target")
    parser.add_argument("--planner-stats", choices=("analyze", "none"), default="analyze",
                        help="SQLite: measure with planner statistics (ANALYZE run if missing) or without them")
    args = parser.parse_args([] if argv is None else argv)
    os.chdir(REPO)
    emit("web.machine", **machine())
    cache: dict[str, Any] = {}

    def texts_of() -> tuple[list[str], dict[str, list[str]]]:
        if "texts" not in cache:
            with tempfile.TemporaryDirectory() as tmp:   # the app's segmenter, as the stores cut text
                cache["texts"] = prepared_texts(CachedSegmenter(office_settings(Path(tmp)).segmenter()))
        return cache["texts"]

    node_box: dict[str, Any] = {}
    rows: list[dict] = []
    try:
        for backend in (("sqlite", "es") if args.backend == "both" else (args.backend,)):
            rows += run_backend(backend, args.posts, args.runs, args.profile, texts_of, node_box, args.planner_stats)
    finally:
        if "node" in node_box:
            node_box["node"].cleanup()    # keep_data: the indexed data stays for a rerun
    emit("web.summary", posts=args.posts, load=[round(x, 2) for x in os.getloadavg()],
         met={f"{r['backend']}.{r['request']}": r["met"] for r in rows})


if __name__ == "__main__":
    main(sys.argv[1:])
