"""Bounded analysis: sentence chunks, the length cap and the segmentation deadline."""
from __future__ import annotations

import time
from datetime import datetime

from index.schema import Post
from nlp.bounded import CHUNK_CHARS, bounded_cut, chunks
from nlp.enrich import Enricher


def test_chunks_are_sentence_aligned_bounded_and_lossless():
    text = "第一句。第二句！" * 500 + "无标点" * 2000
    pieces = list(chunks(text))
    assert "".join(pieces) == text
    assert all(len(p) <= CHUNK_CHARS for p in pieces)
    assert pieces[0].endswith(("。", "！"))


def test_deadline_stops_between_chunks():
    ticks = iter(range(1000))
    result = bounded_cut(lambda t: [t], "很长的句子。" * 3000, max_chars=10**6, timeout_s=2.5,
                         clock=lambda: next(ticks))
    assert result.timed_out and result.truncated
    assert 0 < len(result.text) < 18000 and "".join(result.words) == result.text


def test_short_text_is_cut_whole():
    result = bounded_cut(list, "短帖", max_chars=100, timeout_s=1)
    assert result == result.__class__("短帖", ["短", "帖"], False, False)


def test_a_huge_post_is_enriched_quickly_and_flagged(models_dir):
    enricher = Enricher.from_models_dir(models_dir, max_analysis_chars=20000, segment_timeout_s=5.0)
    content = "九江市濂溪区化工园区夜间偷排废气刺鼻异味" * 250_000          # 5 million characters
    post = Post(id="weibo:big", platform="weibo", source="t", content=content,
                published_at=datetime(2024, 5, 1, 12))
    started = time.monotonic()
    [out] = enricher.enrich([post])
    assert time.monotonic() - started < 60
    assert out.analysis_truncated and out.enriched_at is not None and out.sentiment is not None
    assert len(out.content) == len(content)
    [small] = enricher.enrich([post.model_copy(update={"id": "weibo:s", "content": "停水了"})])
    assert small.analysis_truncated is False
