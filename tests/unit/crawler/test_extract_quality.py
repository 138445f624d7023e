"""Extraction quality on the 50 real article pages of ../shared/data/news_pages against our hand-checked
expectations (tests/data/news_pages/expected.jsonl): title ≥ 95 %, publish date ≥ 95 %, body F1 ≥ 0.9,
each on the half not looked at while improving the extractor (test) and on all 50."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

from crawler.extract.evaluate import evaluate, load_expected, ours, split_of

REPO = Path(__file__).resolve().parents[3]
SHARED = Path(os.environ.get("YUQING_SHARED_DATA", REPO.parent / "shared" / "data"))
PAGES = SHARED / "news_pages" / "article_pages"


@pytest.mark.shared_data
@pytest.mark.parametrize("split", ["test", "all"])
def test_extraction_meets_its_targets_on_real_pages(split):
    if not PAGES.is_dir():
        pytest.skip(f"shared data not found at {SHARED} (set YUQING_SHARED_DATA to run this test)")
    expected = load_expected(REPO / "tests" / "data" / "news_pages" / "expected.jsonl")
    files = None if split == "all" else {e["file"] for e in expected if split_of(e["file"]) == split}
    score = evaluate(PAGES, expected, ours(), "yuqing", now=None, files=files)
    report = score.as_dict()
    assert report["pages"] == (50 if split == "all" else len(files))
    assert score.title_accuracy >= 0.95, report
    assert score.date_accuracy >= 0.95, report
    assert score.body_f1 >= 0.9, report
