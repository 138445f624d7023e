"""Reading one inbox batch line by line, so one bad line never costs the good ones.

A batch is read as bytes and each line decoded on its own: a stray GBK byte or a
line that fails the Post schema is rejected with its line number and the fields
that failed (pydantic error locations), and the rest of the batch goes on.
"""
from __future__ import annotations

import json

from pydantic import ValidationError

from index.schema import Post


def describe_validation(exc: ValidationError) -> str:
    """'published_at: Input should be a valid datetime; title: ...' — field paths first, as an operator reads them."""
    parts = []
    for error in exc.errors():
        loc = ".".join(str(p) for p in error.get("loc", ())) or "(post)"
        parts.append(f"{loc}: {error.get('msg', 'invalid')}")
    return "; ".join(parts) or str(exc).splitlines()[0]


def parse_line(raw: bytes) -> Post:
    """One JSONL line → Post; raises ValueError whose message names the problem (and field)."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ValueError(f"not UTF-8: byte 0x{raw[exc.start]:02x} at column {exc.start + 1}") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValueError(f"not JSON: {exc.msg} at column {exc.colno}") from None
    except RecursionError:
        raise ValueError("not JSON this reader accepts: nested too deeply") from None
    try:
        return Post.model_validate(data)
    except ValidationError as exc:
        raise ValueError(describe_validation(exc)) from None


def parse_batch(data: bytes) -> tuple[list[Post], list[tuple[int, str]]]:
    """(posts, [(line number, reason)]) for a batch file's bytes; blank lines are skipped."""
    posts: list[Post] = []
    rejected: list[tuple[int, str]] = []
    for lineno, raw in enumerate(data.split(b"\n"), 1):
        raw = raw.rstrip(b"\r")
        if not raw.strip():
            continue
        try:
            posts.append(parse_line(raw))
        except Exception as exc:  # noqa: BLE001 - any line-level failure is a rejection, never a crash
            rejected.append((lineno, str(exc) or type(exc).__name__))
    return posts, rejected
