"""The extraction-quality measures and `yuqing crawl evaluate`."""
from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

from crawler.extract.evaluate import char_f1, date_matches, split_of
from index.schema import DEFAULT_TZ

REPO = Path(__file__).resolve().parents[3]


def test_char_f1_and_dates():
    assert char_f1("十里河 整治", "十里河整治") == 1.0
    assert char_f1("", "") == 1.0 and char_f1("abc", "") == 0.0
    assert abs(char_f1("十里河整治工程", "十里河整治") - 2 * (5 / 7) * 1 / (5 / 7 + 1)) < 1e-9
    at = datetime(2019, 3, 15, 10, 20, 30, tzinfo=DEFAULT_TZ)
    assert date_matches(at, "2019-03-15T10:20:00+08:00") and not date_matches(at, "2019-03-15T11:20:00+08:00")
    assert date_matches(at, "2019-03-15") and not date_matches(at, "2019-03-16")
    assert date_matches(None, None) and not date_matches(at, None) and not date_matches(None, "2019-03-15")
    assert {split_of(f"p{i}.html") for i in range(20)} == {"dev", "test"}


def test_evaluate_command_scores_ours_and_the_baseline(tmp_path, capsys):
    from yuqing.cli import main
    page = ("<html><head><meta charset='utf-8'><title>濂溪区十里河整治工程启动_九江新闻网</title></head><body>"
            "<h1>濂溪区十里河整治工程启动</h1><div class='info'>发布时间：2019-03-15 10:20</div>"
            "<div class='content'><p>3月15日上午，濂溪区十里河综合整治工程正式启动，工程计划投资两亿元，整治河道八公里。</p>"
            "<p>据介绍，工程将分三期实施，沿岸居民出行将更加便利，清淤工作将于年内完成。</p></div></body></html>")
    (tmp_path / "a.html").write_text(page, "utf-8")
    body = ("3月15日上午，濂溪区十里河综合整治工程正式启动，工程计划投资两亿元，整治河道八公里。\n"
            "据介绍，工程将分三期实施，沿岸居民出行将更加便利，清淤工作将于年内完成。")
    (tmp_path / "expected.jsonl").write_text(json.dumps({"file": "a.html", "title": "濂溪区十里河整治工程启动",
                                                         "published_at": "2019-03-15T10:20:00+08:00", "body": body},
                                                        ensure_ascii=False) + "\n", "utf-8")
    code = main(["crawl", "evaluate", "--config", str(REPO / "configs" / "app.yaml"), "--pages", str(tmp_path),
                 "--expected", str(tmp_path / "expected.jsonl"), "--split", "all", "--json"])
    rows = json.loads(capsys.readouterr().out)
    assert code == 0 and [r["extractor"] for r in rows] == ["yuqing", "trafilatura (baseline)"]
    ours = rows[0]
    assert ours["pages"] == 1 and ours["title_accuracy"] == 1.0 and ours["date_accuracy"] == 1.0
    assert ours["body_f1"] > 0.95
