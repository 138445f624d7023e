"""`yuqing reenrich`: stored posts get the current models' reading, ids and events kept."""
from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from queue_support import write_config

from index.schema import Post, Sentiment, Topic
from index.store import PostQuery
from yuqing.cli import main
from yuqing.config import load_settings
from yuqing.jobs import App

pytestmark = pytest.mark.integration

CALM_INCIDENTS = ["某化工厂今天下午发生爆炸，3人受伤", "一所小学食堂疑似食物中毒，20余名学生送医",
                  "工地塔吊倒塌，有人员被困"]


def stored_before_polarity(n: int, base: datetime) -> list[Post]:
    """Posts enriched by an older release: sentiment 中性, no polarity, an event id."""
    return [Post(id=f"weibo:old{i}", platform="weibo", source="s", content=CALM_INCIDENTS[i % 3],
                 published_at=base + timedelta(hours=i), sentiment=Sentiment(label="中性", score=0.8),
                 topics=[Topic(label="其他", score=0.5)], event_id=f"ev:{i}", enriched_at=base)
            for i in range(n)]


def test_reenrich_gives_stored_posts_their_polarity_and_keeps_events(tmp_path, capsys, monkeypatch):
    config = write_config(tmp_path)
    base = datetime(2024, 5, 1, 8)
    app = App(load_settings(config, base_dir=tmp_path))
    try:
        app.store.upsert_posts(stored_before_polarity(6, base))
        assert app.store.count(PostQuery(polarities=("负面",))) == 0
    finally:
        app.close()
    monkeypatch.chdir(tmp_path)
    # only the first three hours: the rest keeps the old reading
    assert main(["reenrich", "--since", "2024-05-01T08:00:00+08:00", "--until", "2024-05-01T11:00:00+08:00",
                 "--no-progress", "--config", str(config)]) == 0
    assert "3 stored posts read, 3 re-enriched" in capsys.readouterr().out
    app = App(load_settings(config, base_dir=tmp_path))
    try:
        posts = {p.id: p for p in app.store.iter_posts(PostQuery())}
        for i in range(3):
            p = posts[f"weibo:old{i}"]
            assert p.polarity is not None and p.polarity.label == "负面", (p.content, p.polarity)
            assert p.event_id == f"ev:{i}" and p.tokens and p.keywords
        assert all(posts[f"weibo:old{i}"].polarity is None for i in range(3, 6))
        assert app.store.count(PostQuery(polarities=("负面",))) == 3
        # a second run over the same posts finds nothing to change
        assert app.reenrich() == (6, 3)
        assert app.reenrich() == (6, 0)
    finally:
        app.close()
