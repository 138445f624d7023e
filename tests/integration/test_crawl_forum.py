"""The forum spider against a real HTTP server on 127.0.0.1 serving Tieba-shaped pages: the thread list,
thread pages whose first floor is the thread and the others its replies, a second list page."""
from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.support.http import html_site

REPO = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.integration


def _floor(pid: str, author: str, text: str, when: str, number: int) -> str:
    return (f'<div class="l_post j_l_post" data-pid="{pid}"><div class="d_author"><a class="p_author_name">{author}</a></div>'
            f'<div class="d_post_content j_d_post_content">{text}</div>'
            f'<div class="post-tail-wrap"><span class="tail-info">{number}楼</span><span class="tail-info">{when}</span></div></div>')


THREADS = {
    "7001": ("十里河又出现死鱼了，有人管吗", [("90011", "九江老表", "今天早上去十里河边散步，又看到好多死鱼，味道很难闻，去年整治过的怎么又这样了", "2026-11-18 07:42"),
                                   ("90012", "濂溪居民", "我家就在附近，这几天晚上都有一股化学品的味道，窗户都不敢开", "2026-11-18 08:05"),
                                   ("90013", "路过的", "已经打12345反映了，说会派人来看，等消息吧", "2026-11-18 09:30")]),
    "7002": ("八里湖新区的地铁什么时候通", [("90021", "通勤族", "每天开车上班堵在长虹大道，盼着地铁早点通车，有没有最新的消息", "2026-11-17 21:10"),
                                   ("90022", "知情人", "听说规划还在报批，近两年应该没戏，还是先把公交线路优化一下吧", "2026-11-17 22:00")]),
    "7003": ("庐山西海周末人多吗", [("90031", "驴友", "打算周末带家人去庐山西海玩两天，想问下现在人多不多，住宿好不好订", "2026-11-16 12:00")]),
}


def _thread_page(tid: str) -> str:
    title, floors = THREADS[tid]
    body = "".join(_floor(pid, a, t, w, i) for i, (pid, a, t, w) in enumerate(floors, start=1))
    return (f'<html><head><meta charset="utf-8"><title>{title}_九江吧_百度贴吧</title></head><body>'
            f'<div class="nav">九江吧</div><h3 class="core_title_txt" title="{title}">{title}</h3>{body}'
            f'<div class="footer">©2026 Baidu</div></body></html>')


def _list_page(page: int) -> str:
    tids = ["7001", "7002"] if page == 1 else ["7003"]
    rows = "".join(f'<li class="j_thread_list"><a class="j_th_tit" href="/p/{t}" title="{THREADS[t][0]}">{THREADS[t][0]}</a>'
                   f'<span class="threadlist_reply_num">{len(THREADS[t][1]) - 1}</span></li>' for t in tids)
    nxt = '<a class="next pagination-item" href="/f?kw=九江&pn=50">下一页&gt;</a>' if page == 1 else ""
    return f'<html><head><meta charset="utf-8"></head><body><ul id="thread_list">{rows}</ul>{nxt}</body></html>'


def _route(path: str) -> str | None:
    if path.startswith("/f?"):
        return _list_page(2 if "pn=50" in path else 1)
    if path.startswith("/p/") and path[3:] in THREADS:
        return _thread_page(path[3:])
    return "User-agent: *\nAllow: /\n" if path == "/robots.txt" else None


@pytest.fixture
def forum_site():
    with html_site(_route) as base:
        yield base


def _config(tmp: Path, base: str, forum: dict | None) -> Path:
    for name in ("topics.yaml", "rules.yaml", "agencies.yaml"):
        shutil.copy(REPO / "configs" / name, tmp / name)
    source = {"name": "jjba", "type": "forum", "label": "九江吧", "start_urls": [f"{base}/f?kw=九江"], "max_pages": 3,
              "list_page": {"link_selector": "a.j_th_tit::attr(href)", "next_selector": "a.next::attr(href)"},
              "detail": {"title": "h3.core_title_txt::attr(title)"}}
    if forum is not None:
        source["forum"] = forum
    (tmp / "sources.yaml").write_text(yaml.safe_dump({"sources": [source]}, allow_unicode=True), "utf-8")
    (tmp / "app.yaml").write_text(yaml.safe_dump({"data_dir": "var", "inbox_dir": "var/inbox"}), "utf-8")
    return tmp / "app.yaml"


def _crawl(config: Path) -> tuple[dict, dict[str, dict]]:
    proc = subprocess.run([sys.executable, "-m", "yuqing.crawl_child", "--config", str(config), "--base-dir",
                           str(config.parent), "--source", "jjba"], capture_output=True, text=True, timeout=120, cwd=REPO)
    report = json.loads(proc.stdout.strip().splitlines()[-1])
    posts = {}
    for path in (config.parent / "var" / "inbox").glob("*.jsonl"):
        for line in path.read_text("utf-8").splitlines():
            post = json.loads(line)
            posts[post["id"]] = post
    return report, posts


FLOORS = {"floor": "div.l_post", "content": "div.d_post_content", "author": "a.p_author_name::text",
          "published_at": "span.tail-info::text", "floor_id": "::attr(data-pid)"}


def test_threads_and_their_replies(forum_site, tmp_path):
    report, posts = _crawl(_config(tmp_path, forum_site, FLOORS))
    assert report["sources"]["jjba"]["ok"] is True
    assert len(posts) == 6                                       # 3 threads + 3 replies, both list pages
    thread = posts["forum:7001"]
    assert thread["title"] == "十里河又出现死鱼了，有人管吗" and thread["author"]["name"] == "九江老表"
    assert thread["published_at"].startswith("2026-11-18T07:42") and "去年整治过" in thread["content"]
    reply = posts["forum:7001-90012"]
    assert reply["parent_id"] == reply["root_id"] == "forum:7001"
    assert reply["author"]["name"] == "濂溪居民" and reply["published_at"].startswith("2026-11-18T08:05")
    assert reply["extra"]["floor"] == 2 and reply["extra"]["thread_title"] == thread["title"]
    assert "forum:7003" in posts and "forum:7002-90022" in posts


def test_without_floor_rules_a_thread_is_one_post(forum_site, tmp_path):
    report, posts = _crawl(_config(tmp_path, forum_site, None))
    assert report["sources"]["jjba"]["ok"] is True
    assert sorted(posts) == ["forum:7001", "forum:7002", "forum:7003"]


def test_floor_rules_on_another_type_are_refused(tmp_path):
    from yuqing.config import ConfigError, load_settings
    config = _config(tmp_path, "http://127.0.0.1:9", FLOORS)
    sources = yaml.safe_load((tmp_path / "sources.yaml").read_text("utf-8"))
    sources["sources"][0]["type"] = "news"
    (tmp_path / "sources.yaml").write_text(yaml.safe_dump(sources, allow_unicode=True), "utf-8")
    with pytest.raises(ConfigError, match="forum: only a source of type forum"):
        load_settings(config, base_dir=tmp_path)
