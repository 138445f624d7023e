"""`yuqing schemes list|test|apply` and `yuqing search --scheme` on a real SQLite store."""
from __future__ import annotations

import json
import shutil
from datetime import timedelta
from pathlib import Path

import pytest
import yaml

from index.schema import DEFAULT_TZ, Post, Region, Sentiment, Topic
from index.sqlite.store import SQLiteStore
from index.store import PostQuery
from yuqing.cli import EXIT_CONFIG, EXIT_FAILED, EXIT_OK, main

REPO = Path(__file__).resolve().parents[3]
LIANXI = Region(province="江西省", province_code="36", city="九江市", city_code="3604",
                district="濂溪区", district_code="360402", source="text")
SCHEMES = [{"name": "濂溪水环境", "地域代码": ["360402"], "事件": ["死鱼", "异味"], "排除": ["演练"]},
           {"name": "安全生产", "event": ["爆炸"]}]


@pytest.fixture
def config(tmp_path: Path, monkeypatch) -> Path:
    for name in ("app.yaml", "sources.yaml", "topics.yaml", "rules.yaml", "agencies.yaml"):
        shutil.copy(REPO / "configs" / name, tmp_path / name)
    app = yaml.safe_load((tmp_path / "app.yaml").read_text("utf-8"))
    app.update(data_dir=str(tmp_path / "var"), output_dir=str(tmp_path / "var/reports"),
               inbox_dir=str(tmp_path / "var/inbox"), store={"backend": "sqlite",
                                                             "sqlite": {"path": str(tmp_path / "var/y.db")}})
    (tmp_path / "app.yaml").write_text(yaml.safe_dump(app, allow_unicode=True), "utf-8")
    topics = yaml.safe_load((tmp_path / "topics.yaml").read_text("utf-8"))
    topics["schemes"] = SCHEMES
    (tmp_path / "topics.yaml").write_text(yaml.safe_dump(topics, allow_unicode=True), "utf-8")
    rules = yaml.safe_load((tmp_path / "rules.yaml").read_text("utf-8"))
    for rule in rules["rules"]:                     # the shipped rules name the shipped schemes
        rule.get("filter", {}).pop("schemes", None)
    (tmp_path / "rules.yaml").write_text(yaml.safe_dump(rules, allow_unicode=True), "utf-8")
    monkeypatch.chdir(REPO)
    return tmp_path / "app.yaml"


def stored(config: Path, texts: list[str]) -> SQLiteStore:
    from datetime import datetime
    now = datetime.now(DEFAULT_TZ)
    posts = [Post(id=f"weibo:{i}", platform="weibo", source="s", content=text, region=LIANXI,
                  published_at=now - timedelta(hours=len(texts) - i), enriched_at=now,
                  sentiment=Sentiment(label="负面", score=0.9), topics=[Topic(label="环境保护", score=0.9)])
             for i, text in enumerate(texts)]
    store = SQLiteStore(config.parent / "var" / "y.db")
    store.open()
    store.upsert_posts(posts)
    return store


def test_apply_retags_stored_posts_and_list_counts_them(config, capsys):
    store = stored(config, ["河里大量死鱼", "化工厂爆炸，河里死鱼", "应急演练：死鱼处置", "天气不错"])
    assert store.count(PostQuery(schemes=("濂溪水环境",))) == 0          # stored before the schemes existed
    assert main(["schemes", "apply", "--no-progress", "--config", str(config)]) == EXIT_OK
    assert "4 stored posts read, 2 re-tagged" in capsys.readouterr().out
    assert [p.schemes for p in store.get_posts([f"weibo:{i}" for i in range(4)])] == [
        ["濂溪水环境"], ["濂溪水环境", "安全生产"], [], []]
    assert main(["schemes", "apply", "--no-progress", "--config", str(config)]) == EXIT_OK
    assert "0 re-tagged" in capsys.readouterr().out                         # idempotent

    assert main(["schemes", "list", "--json", "--config", str(config)]) == EXIT_OK
    rows = json.loads(capsys.readouterr().out)
    assert [(r["name"], r["posts_last_7d"]) for r in rows] == [("濂溪水环境", 2), ("安全生产", 1)]
    assert rows[0]["groups"] == {"地域": ["360402"], "事件": ["死鱼", "异味"], "排除": ["演练"]}

    assert main(["search", "--scheme", "安全生产", "--config", str(config)]) == EXIT_OK
    out = capsys.readouterr().out
    assert out.startswith("1 posts") and "爆炸" in out
    assert main(["search", "--scheme", "不存在", "--config", str(config)]) == EXIT_CONFIG
    assert "no such monitoring scheme" in capsys.readouterr().err


def test_test_command_says_which_schemes_match(config, capsys):
    assert main(["schemes", "test", "濂溪区一条河里出现死鱼", "--config", str(config)]) == EXIT_OK
    assert capsys.readouterr().out.split() == ["濂溪水环境"]             # 地域代码 through the region found
    assert main(["schemes", "test", "死鱼", "--region", "360403", "--config", str(config)]) == EXIT_FAILED
    assert main(["schemes", "test", "工厂爆炸", "--config", str(config)]) == EXIT_OK
    assert "安全生产" in capsys.readouterr().out
