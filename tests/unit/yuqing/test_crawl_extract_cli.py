"""`yuqing crawl extract`: the spiders' extractor on a saved page, as JSON."""
from __future__ import annotations

import json
from pathlib import Path

from yuqing.cli import main

REPO = Path(__file__).resolve().parents[3]
PAGE = """<html><head><meta charset="gb2312"><title>濂溪区“十里河”整治工程启动_九江新闻网</title></head><body>
<div class="nav">首页 &gt; 本地新闻</div>
<h1>濂溪区“十里河”整治工程启动</h1>
<div class="info">发布时间：03-15 10:20　来源：九江日报　作者：王晓东</div>
<div class="content"><p>3月15日上午，濂溪区十里河综合整治工程正式启动，工程计划投资两亿元，整治河道八公里。</p>
<p>据介绍，工程将分三期实施，镕喆桥段的清淤工作将于年内完成，沿岸居民出行将更加便利。</p></div>
<div class="footer">版权所有 九江新闻网</div></body></html>"""


def test_a_saved_gb2312_page_with_a_date_without_year(tmp_path, capsys):
    path = tmp_path / "page.html"
    path.write_bytes(PAGE.encode("gbk"))          # 镕 and 喆 are GBK only: read as GB18030
    code = main(["crawl", "extract", str(path), "--config", str(REPO / "configs" / "app.yaml"),
                 "--url", "http://www.jjxw.cn/a/1.html", "--now", "2026-02-01T08:00:00+08:00"])
    out = json.loads(capsys.readouterr().out)
    assert code == 0
    assert out["title"] == "濂溪区“十里河”整治工程启动"
    assert out["published_at"] == "2025-03-15T10:20:00+08:00"     # the latest 03-15 not after the crawl time
    assert "镕喆桥段" in out["body"] and "版权所有" not in out["body"]
    assert out["encoding"] == "gb18030"


def test_a_missing_file_is_a_usage_error(tmp_path, capsys):
    assert main(["crawl", "extract", str(tmp_path / "nope.html"), "--config", str(REPO / "configs" / "app.yaml")]) == 2
    assert "nope.html" in capsys.readouterr().err
