"""Extraction quality against hand-checked pages: title accuracy, publish-date accuracy, body F1.

The expectations are JSON lines, one per saved page: `file`, `title`, `published_at` (ISO 8601 with
a time, or a bare YYYY-MM-DD when the page shows a date only, or null when it shows none), `body`
(the article's paragraphs joined by newlines). `yuqing crawl evaluate` runs the spiders' extractor,
and next to it plain trafilatura as the reference baseline, over the pages.

- title: equal after Unicode NFKC and with whitespace removed;
- date: the same minute (the same day where the expectation is a date only; no date found where
  the expectation is null);
- body: F1 of the two texts' character multisets (whitespace ignored, NFKC), the measure of the
  CleanEval / GNE comparisons at character level, averaged over pages.
"""
from __future__ import annotations

import json
import unicodedata
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, tzinfo
from pathlib import Path
from typing import Any

from index.schema import DEFAULT_TZ

from .article import ArticleExtractor, ExtractionError
from .dates import parse_datetime
from .encoding import decode_page


def _norm(text: str | None) -> str:
    return "".join(unicodedata.normalize("NFKC", text or "").split())


def char_f1(predicted: str | None, expected: str | None) -> float:
    p, g = Counter(_norm(predicted)), Counter(_norm(expected))
    if not p and not g:
        return 1.0
    overlap = sum((p & g).values())
    if not overlap:
        return 0.0
    precision, recall = overlap / sum(p.values()), overlap / sum(g.values())
    return 2 * precision * recall / (precision + recall)


def date_matches(predicted: datetime | None, expected: str | None, tz: tzinfo = DEFAULT_TZ) -> bool:
    if expected is None:
        return predicted is None
    if predicted is None:
        return False
    if len(expected) == 10:
        return predicted.astimezone(tz).date() == date.fromisoformat(expected)
    want = datetime.fromisoformat(expected)
    return abs((predicted - want).total_seconds()) < 60


@dataclass
class PageResult:
    file: str
    title_ok: bool
    date_ok: bool
    body_f1: float
    title: str = ""
    published_at: str | None = None
    error: str | None = None


@dataclass
class Score:
    name: str
    pages: list[PageResult] = field(default_factory=list)

    @property
    def title_accuracy(self) -> float:
        return sum(p.title_ok for p in self.pages) / len(self.pages) if self.pages else 0.0

    @property
    def date_accuracy(self) -> float:
        return sum(p.date_ok for p in self.pages) / len(self.pages) if self.pages else 0.0

    @property
    def body_f1(self) -> float:
        return sum(p.body_f1 for p in self.pages) / len(self.pages) if self.pages else 0.0

    def as_dict(self) -> dict[str, Any]:
        return {"extractor": self.name, "pages": len(self.pages), "title_accuracy": round(self.title_accuracy, 4),
                "date_accuracy": round(self.date_accuracy, 4), "body_f1": round(self.body_f1, 4),
                "wrong_titles": [p.file for p in self.pages if not p.title_ok],
                "wrong_dates": [p.file for p in self.pages if not p.date_ok],
                "low_body": [f"{p.file} {p.body_f1:.2f}" for p in self.pages if p.body_f1 < 0.8]}


Extract = Callable[[str, str | None, datetime], tuple[str, datetime | None, str]]


def ours(tz: tzinfo = DEFAULT_TZ) -> Extract:
    extractor = ArticleExtractor(tz=tz)

    def run(html: str, url: str | None, now: datetime | None) -> tuple[str, datetime | None, str]:
        page = extractor.extract(html, url, now=now, now_unknown=now is None)
        return page.title, page.published_at, page.content
    return run


def trafilatura_baseline(tz: tzinfo = DEFAULT_TZ) -> Extract:
    """Plain trafilatura (its defaults), the field's reference extractor."""
    def run(html: str, url: str | None, now: datetime) -> tuple[str, datetime | None, str]:
        import trafilatura
        doc = trafilatura.bare_extraction(html, url=url, with_metadata=True)
        data = (doc.as_dict() if hasattr(doc, "as_dict") else dict(doc)) if doc is not None else {}
        return data.get("title") or "", parse_datetime(data.get("date"), now, tz) if data.get("date") else None, \
            data.get("text") or ""
    return run


def load_expected(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in Path(path).read_text("utf-8").splitlines() if line.strip()]


def evaluate(pages_dir: Path, expected: Iterable[dict[str, Any]], extract: Extract, name: str, *,
             now: datetime | None, files: set[str] | None = None) -> Score:
    """Score `extract` on the pages. `now`: the pages' capture time, or None when it is not known (saved
    pages): a relative or year-less date cannot be dated then, and our extractor says so (None)."""
    score = Score(name)
    for item in expected:
        if files is not None and item["file"] not in files:
            continue
        html, _ = decode_page((Path(pages_dir) / item["file"]).read_bytes())
        try:
            title, published, body = extract(html, item.get("url"), now)
        except (ExtractionError, ValueError) as exc:
            score.pages.append(PageResult(item["file"], False, item.get("published_at") is None, 0.0, error=str(exc)))
            continue
        score.pages.append(PageResult(
            item["file"], title_ok=_norm(title) == _norm(item["title"]),
            date_ok=date_matches(published, item.get("published_at")), body_f1=char_f1(body, item.get("body")),
            title=title, published_at=published.isoformat() if published else None))
    return score


def split_of(file: str) -> str:
    """A page's fixed half: 'dev' (looked at while improving the extractor) or 'test' (reported only)."""
    import hashlib
    return "test" if int(hashlib.sha1(file.encode("utf-8")).hexdigest()[:8], 16) % 2 else "dev"
