"""Repeated in-process crawls (crawler.runner.CrawlSession) and incremental crawling (YUQING_INCREMENTAL),
against the real demo site on 127.0.0.1, under a simulated clock. Run in a child: a reactor runs once."""
from __future__ import annotations

import json
import subprocess
import sys
import textwrap

SCRIPT = textwrap.dedent('''
    import json, os, sys
    from datetime import datetime, timedelta
    from pathlib import Path
    from index import clock
    from crawler.runner import CrawlSession
    from yuqing.config import default_configs_dir, load_settings
    from yuqing.demo.site import DemoSite, load_corpus

    out = Path(sys.argv[1])
    board = [r for r in load_corpus() if r["channel"] == "board" and r["board"]["reply_time"]]
    record = min(board, key=lambda r: r["board"]["reply_time"])
    published = datetime.fromisoformat(record["published_at"])
    replied = datetime.fromisoformat(record["board"]["reply_time"])
    results = {"record": record["id"], "published": published.isoformat(), "replied": replied.isoformat()}
    with DemoSite(clock=published) as site:
        os.environ["YUQING_DEMO_BASE"] = site.base_url
        settings = load_settings(default_configs_dir() / "demo" / "app.yaml", base_dir=out,
                                 overrides={"data_dir": str(out), "inbox_dir": str(out / "inbox"),
                                            "log_level": "WARNING"})
        sim = clock.SimulatedClock(published)
        with clock.use(sim), CrawlSession(settings.crawl_context()) as session:
            for step, at in (("first", published), ("again", published + timedelta(minutes=1)),
                             ("reply", replied)):
                sim.set(at)
                site.set_clock(at)
                report = session.crawl(["wenzheng", "weibo"])
                results[step] = {"at": at.isoformat(), **report.as_dict()}
    print(json.dumps(results))
''')


def test_repeated_crawls_fetch_only_what_is_new(tmp_path):
    proc = subprocess.run([sys.executable, "-c", SCRIPT, str(tmp_path)], capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    first, again, reply = (result[k]["sources"]["wenzheng"] for k in ("first", "again", "reply"))
    assert first["ok"] and first["written"] >= 1
    # nothing new on the board: one list page, no message fetched, nothing written
    assert again["ok"] and again["written"] == 0 and again["pages"] == 1 and again["skipped_known"] >= 1
    # the reply changed its list row: that message is fetched again and re-delivered
    assert reply["ok"] and reply["written"] >= 1
    assert result["again"]["sources"]["weibo"]["written"] == 0
    assert result["again"]["sources"]["weibo"]["skipped_known"] >= 1
    # crawled_at is the simulated time of the crawl that delivered the post
    batches = sorted((tmp_path / "inbox").rglob("*.jsonl"))
    posts = [json.loads(line) for b in batches for line in b.read_text("utf-8").splitlines() if line.strip()]
    assert posts
    times = {p["crawled_at"] for p in posts}
    from datetime import datetime
    steps = {datetime.fromisoformat(result[k]["at"]) for k in ("first", "reply")}
    assert {datetime.fromisoformat(t) for t in times} <= steps
    msg = [p for p in posts if p.get("url", "").endswith(f"/wz/detail/{result['record']}")]
    assert len(msg) == 2 and any(p["extra"].get("reply_content") or p["extra"].get("reply") for p in msg)
