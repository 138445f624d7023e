"""Helpers for the inbox-queue tests: a temporary config and a store that chokes on cue."""
from __future__ import annotations

import shutil
from datetime import datetime, timedelta
from pathlib import Path

import yaml

from index.schema import Post
from index.sqlite.store import SQLiteStore

REPO = Path(__file__).resolve().parents[2]


def write_config(tmp: Path, store_backend: str = "sqlite", **nlp) -> Path:
    for name in ("topics.yaml", "rules.yaml", "agencies.yaml"):
        shutil.copy(REPO / "configs" / name, tmp / name)
    shutil.copy(REPO / "configs" / "demo" / "sources.yaml", tmp / "sources.yaml")
    app = {"data_dir": "var", "output_dir": "var/out", "inbox_dir": "var/inbox",
           "store": {"backend": store_backend, "sqlite": {"path": "var/yuqing.db"}},
           "nlp": dict(nlp)}   # models: the defaults shipped in nlp/models
    (tmp / "app.yaml").write_text(yaml.safe_dump(app, allow_unicode=True), encoding="utf-8")
    return tmp / "app.yaml"


TEXTS = ["九江市濂溪区化工园区夜间偷排废气，居民投诉无人管", "感谢网格员帮我们解决了停水问题", "浔阳区某小区电梯又坏了，老人上下楼困难",
         "学校乱收费，希望教育局查一查", "今天天气不错，去八里湖散步"]


def make_posts(prefix: str, n: int, start: int = 0) -> list[Post]:
    base = datetime(2024, 5, 1, 8)
    return [Post(id=f"weibo:{prefix}{i}", platform="weibo", source="demo_weibo",
                 content=f"{TEXTS[i % len(TEXTS)]}（{prefix}{i}）", published_at=base + timedelta(minutes=i))
            for i in range(start, start + n)]


class PoisonStore(SQLiteStore):
    """A real SQLite store that fails, as a bug would, on posts marked extra.poison while
    a `poison.on` file lies beside the database (the test removes it to 'fix the bug')."""

    def upsert_posts(self, posts):
        posts = list(posts)
        if (self.path.parent / "poison.on").exists() and any(p.extra.get("poison") for p in posts):
            raise ValueError("poison post: analysis bug")
        return super().upsert_posts(posts)
