"""Weibo repost cascades in the CED raw-data format: reading, checking, splitting, sampling.

One JSON object per line (gzip or plain):
  {"id": "...", "original": {"text", "time" (epoch or "Wed Mar 20 00:00:03 +0800 2013"),
   "user": {followers, verified, verified_type, location, ...} or "empty", "reposts", "comments", "likes"},
   "reposts": [{"mid", "uid", "parent" ("" = reposts the original, else the mid reposted), "text",
                "date" ("YYYY-MM-DD HH:MM:SS" or "MM月DD日 HH:MM", Beijing time)}, ...]}
That is ../shared/data/weibo_propagation/ced_cascades.jsonl.gz (thunlp/Chinese_Rumor_Dataset @c1178d8).

A cascade keeps only its *relative* timing (seconds after the original); the replay places it on a
simulated timeline. A line that cannot be read stops the replay with an error naming file and line:
measuring on silently skipped data would report figures for a different set than the one asked for.
"""
from __future__ import annotations

import gzip
import hashlib
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

BEIJING = timezone(timedelta(hours=8))
SPLITS = ("tune", "test", "all")
_SHORT_DATE = re.compile(r"^(\d{1,2})月(\d{1,2})日 (\d{1,2}):(\d{2})$")


class ReplayInputError(ValueError):
    """A replay input (cascades, background) that cannot be read; the message names file and line."""


@dataclass(frozen=True, slots=True)
class Repost:
    mid: str
    uid: str | None
    parent: str            # "" = reposts the original; else the mid of the repost it reposts
    text: str
    offset_s: float        # seconds after the original, >= 0


@dataclass(frozen=True)
class Cascade:
    id: str
    text: str
    published: float       # the original's epoch seconds (only differences to it matter)
    followers: int | None
    verified: bool
    location: str | None
    reposts_reported: int  # the original's counters at collection time
    comments_reported: int
    likes_reported: int
    reposts: tuple[Repost, ...]   # sorted by offset
    line: int = 0

    def offset_of(self, nth: int) -> float | None:
        """Seconds from the original to its nth repost (1-based), None if it never got that many."""
        return self.reposts[nth - 1].offset_s if len(self.reposts) >= nth else None


def split_of(cascade_id: str) -> str:
    """'tune' or 'test', by a hash of the id: the same halves on every machine and in every order."""
    return "tune" if hashlib.sha1(cascade_id.encode("utf-8")).digest()[0] % 2 == 0 else "test"


def select(cascades: Sequence[Cascade], split: str = "all", *, limit: int | None = None,
           sample: float | None = None, seed: int = 0) -> list[Cascade]:
    """The cascades of a split; with limit/sample a seeded subset (the same for the same seed)."""
    if split not in SPLITS:
        raise ValueError(f"unknown split {split!r}; use one of {', '.join(SPLITS)}")
    chosen = [c for c in cascades if split == "all" or split_of(c.id) == split]
    if limit is None and sample is None:
        return chosen
    keep = len(chosen)
    if sample is not None:
        keep = round(keep * sample)
    if limit is not None:
        keep = min(keep, limit)
    ranked = sorted(chosen, key=lambda c: hashlib.sha1(f"{seed}:{c.id}".encode("utf-8")).hexdigest())
    kept = {c.id for c in ranked[:keep]}
    return [c for c in chosen if c.id in kept]


def read_cascades(path: str | Path) -> list[Cascade]:
    path = Path(path)
    if not path.is_file():
        raise ReplayInputError(f"{path}: cascade file not found")
    opener = gzip.open if path.suffix == ".gz" else open
    out: list[Cascade] = []
    seen: set[str] = set()
    try:
        with opener(path, "rt", encoding="utf-8") as fh:
            for lineno, line in enumerate(fh, 1):
                if not line.strip():
                    continue
                try:
                    cascade = parse_cascade(json.loads(line), lineno)
                except (json.JSONDecodeError, ValueError, TypeError, KeyError, AttributeError) as exc:
                    raise ReplayInputError(f"{path}: line {lineno}: {_reason(exc)}") from None
                if cascade.id in seen:
                    raise ReplayInputError(f"{path}: line {lineno}: cascade id {cascade.id!r} repeated")
                seen.add(cascade.id)
                out.append(cascade)
    except (OSError, EOFError, UnicodeDecodeError) as exc:
        raise ReplayInputError(f"{path}: cannot read: {exc}") from None
    if not out:
        raise ReplayInputError(f"{path}: no cascades")
    return out


def parse_cascade(raw: Any, line: int = 0) -> Cascade:
    if not isinstance(raw, dict):
        raise ValueError("expected a JSON object")
    cascade_id = str(raw["id"]).strip()
    if not cascade_id:
        raise ValueError("empty id")
    original = raw["original"]
    if not isinstance(original, dict):
        raise ValueError("'original' must be an object")
    text = str(original.get("text") or "").strip()
    if not text:
        raise ValueError("the original has no text")
    published = original_time(original.get("time"))
    user = original.get("user") if isinstance(original.get("user"), dict) else {}
    followers = user.get("followers")
    if followers is not None and (isinstance(followers, bool) or not isinstance(followers, int) or followers < 0):
        raise ValueError(f"original.user.followers must be a non-negative integer, got {followers!r}")
    year = datetime.fromtimestamp(published, BEIJING).year
    reposts: dict[str, Repost] = {}
    items = raw["reposts"]
    if not isinstance(items, list):
        raise ValueError("'reposts' must be a list")
    for i, item in enumerate(items):
        try:
            mid = str(item["mid"]).strip()
            if not mid:
                raise ValueError("empty mid")
            at = repost_time(str(item["date"]), year, published)
        except (KeyError, ValueError, TypeError) as exc:
            raise ValueError(f"reposts[{i}]: {_reason(exc)}") from None
        if mid in reposts:            # the source lists a few reposts twice: keep the first
            continue
        uid = item.get("uid")
        reposts[mid] = Repost(mid=mid, uid=str(uid) if uid not in (None, "") else None,
                              parent=str(item.get("parent") or ""), text=str(item.get("text") or "").strip(),
                              offset_s=max(0.0, at - published))   # a few are stamped before the original
    ordered = tuple(sorted(reposts.values(), key=lambda r: (r.offset_s, r.mid)))
    return Cascade(id=cascade_id, text=text, published=published, followers=followers,
                   verified=bool(user.get("verified")), location=str(user["location"]) if user.get("location") else None,
                   reposts_reported=_count(original, "reposts"), comments_reported=_count(original, "comments"),
                   likes_reported=_count(original, "likes"), reposts=ordered, line=line)


def original_time(value: Any) -> float:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    if isinstance(value, str):
        try:
            return datetime.strptime(value.strip(), "%a %b %d %H:%M:%S %z %Y").timestamp()
        except ValueError:
            pass
    raise ValueError(f"original.time is neither epoch seconds nor 'Wed Mar 20 00:00:03 +0800 2013': {value!r}")


def repost_time(value: str, year: int, published: float) -> float:
    """'YYYY-MM-DD HH:MM:SS' or 'MM月DD日 HH:MM' (the year of the original; the next one if that is
    more than half a year before it), in Beijing time."""
    value = value.strip()
    if len(value) == 19 and value[4] == "-" and value[7] == "-" and value[10] == " " and value[13] == ":":
        try:       # by hand: strptime would take most of the reading time of 450k reposts
            return datetime(int(value[:4]), int(value[5:7]), int(value[8:10]), int(value[11:13]),
                            int(value[14:16]), int(value[17:19]), tzinfo=BEIJING).timestamp()
        except ValueError:
            pass
    m = _SHORT_DATE.match(value)
    if not m:
        raise ValueError(f"date {value!r} is neither 'YYYY-MM-DD HH:MM:SS' nor 'MM月DD日 HH:MM'")
    month, day, hour, minute = map(int, m.groups())
    at = datetime(year, month, day, hour, minute, tzinfo=BEIJING).timestamp()
    if at < published - 183 * 86400:
        at = datetime(year + 1, month, day, hour, minute, tzinfo=BEIJING).timestamp()
    return at


def _count(original: dict, key: str) -> int:
    value = original.get(key)
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else 0


def _reason(exc: Exception) -> str:
    if isinstance(exc, KeyError):
        return f"missing field {exc.args[0]!r}"
    if isinstance(exc, json.JSONDecodeError):
        return f"not JSON ({exc.msg} at column {exc.colno})"
    return str(exc)
