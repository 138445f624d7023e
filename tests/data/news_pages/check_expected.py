#!/usr/bin/env python
"""Consistency check of the hand-made expectations in expected.jsonl against the saved pages.

This checks the *expectations*, not any extractor: for every record it re-reads the page and reports

- title:    whether the expected title occurs in the page's visible text (whitespace-normalised;
            "raw" when it occurs only in the raw HTML, e.g. inside a script, "NO" when nowhere);
- selector: how many elements `body_selector` matches (it should match at least one; the body was
            derived from the first match);
- date:     whether `published_text` (the literal text the date was read from) occurs in the
            page's visible text;
- body:     how many of the expected body lines occur in the text of the selected element
            (all should; a line missing means the page or the expectation changed).

The pages are not in this repository (licence). They are the GeneralNewsExtractor test pages in the
shared data folder: by default ../shared/data/news_pages/article_pages next to the repository
root, or $YUQING_SHARED_DATA/news_pages/article_pages, or the folder given as the first argument.

    .venv/bin/python tests/data/news_pages/check_expected.py [PAGES_DIR] [--expected FILE] [-v]

Exit status 0 when every record passes, 1 when any fails, 2 when the pages folder is missing.
"""
from __future__ import annotations

import argparse
import json
import os
import re
import sys
from pathlib import Path

import parsel

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[2]
_WS = re.compile(r"\s+")
_GB = {"gb2312", "gbk", "x-gbk", "gb_2312-80", "cp936", "ms936", "gb18030"}


def default_pages_dir() -> Path:
    shared = os.environ.get("YUQING_SHARED_DATA")
    if shared:
        return Path(shared) / "news_pages" / "article_pages"
    return REPO.parent / "shared" / "data" / "news_pages" / "article_pages"


def decode(raw: bytes) -> tuple[str, str]:
    """(text, encoding). Strict UTF-8 first: several pages declare gb2312 but were saved as UTF-8."""
    if raw.startswith(b"\xef\xbb\xbf"):
        return raw[3:].decode("utf-8"), "utf-8-sig"
    try:
        return raw.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        pass
    m = re.search(rb"""charset\s*=\s*["']?([A-Za-z0-9_-]+)""", raw[:4096])
    declared = m.group(1).decode("ascii").lower() if m else ""
    enc = "gb18030" if declared in _GB or not declared else declared
    try:
        return raw.decode(enc), enc
    except (UnicodeDecodeError, LookupError):
        return raw.decode("gb18030", errors="replace"), "gb18030?"


def norm(text: str) -> str:
    return _WS.sub(" ", text.replace("\u3000", " ").replace("\xa0", " ")).strip()


def squash(text: str) -> str:
    return _WS.sub("", text.replace("\u3000", "").replace("\xa0", ""))


def visible_text(sel: parsel.Selector) -> str:
    parts = sel.xpath("//text()[not(ancestor::script) and not(ancestor::style) and not(ancestor::noscript)]").getall()
    return "".join(parts)


def check(record: dict, pages_dir: Path) -> dict:
    out = {"file": record["file"], "ok": False}
    path = pages_dir / record["file"]
    if not path.is_file():
        out["error"] = "page missing"
        return out
    html, out["encoding"] = decode(path.read_bytes())
    sel = parsel.Selector(text=html)
    title = squash(record["title"])
    if title in squash(visible_text(sel)):
        out["title"] = "yes"
    elif title in squash(html):
        out["title"] = "raw"
    else:
        out["title"] = "NO"
    ptext = record.get("published_text")
    out["date_text"] = "-" if not ptext else ("yes" if squash(ptext) in squash(visible_text(sel)) else "NO")
    try:
        nodes = sel.css(record["body_selector"])
    except Exception as exc:  # a selector parsel/cssselect cannot compile
        out["error"] = f"bad selector: {exc}"
        return out
    out["selector_matches"] = len(nodes)
    lines = [line for line in (record.get("body") or "").split("\n") if line]
    if nodes:
        node_text = squash("".join(nodes[0].xpath(".//text()[not(ancestor::script) and not(ancestor::style)]").getall()))
        missing = [line for line in lines if squash(line) not in node_text]
    else:
        missing = lines
    out["body_lines"] = len(lines)
    out["body_lines_found"] = len(lines) - len(missing)
    out["missing"] = missing[:3]
    out["ok"] = out["title"] != "NO" and out["date_text"] != "NO" and len(nodes) >= 1 and not missing
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("pages_dir", nargs="?", type=Path, default=None, help="folder with the saved article pages")
    ap.add_argument("--expected", type=Path, default=HERE / "expected.jsonl")
    ap.add_argument("-v", "--verbose", action="store_true", help="show the first missing body lines")
    args = ap.parse_args(argv)
    pages_dir = args.pages_dir or default_pages_dir()
    if not pages_dir.is_dir():
        print(f"pages folder not found: {pages_dir} (set YUQING_SHARED_DATA or pass the folder)", file=sys.stderr)
        return 2
    records = [json.loads(line) for line in args.expected.read_text("utf-8").splitlines() if line.strip()]
    results = [check(r, pages_dir) for r in records]
    print(f"{'file':26s} {'title':5s} {'date':4s} {'sel':>3s} {'body lines':>11s}  encoding")
    for res in results:
        if "error" in res and "selector_matches" not in res:
            print(f"{res['file']:26s} ERROR {res['error']}")
            continue
        mark = "" if res["ok"] else "  <-- FAIL"
        print(f"{res['file']:26s} {res['title']:5s} {res['date_text']:4s} {res['selector_matches']:3d} "
              f"{res['body_lines_found']:5d}/{res['body_lines']:<5d}  {res['encoding']}{mark}")
        if args.verbose and res.get("missing"):
            for line in res["missing"]:
                print(f"{'':28s}missing: {line[:80]}")
    failed = [r["file"] for r in results if not r["ok"]]
    pages = {p.name for p in pages_dir.glob("*.html")}
    unlabelled = sorted(pages - {r["file"] for r in records})
    print(f"\n{len(results) - len(failed)}/{len(results)} records consistent"
          + (f"; failing: {', '.join(failed)}" if failed else "")
          + (f"; pages without a record: {', '.join(unlabelled)}" if unlabelled else ""))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
