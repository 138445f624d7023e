"""Background posts: the everyday stream a city office monitors, against which cascades must stand out.

Generated (the default) from the shared data folder: real Weibo posts (SMP2020-EWECT, weibo2018),
news headlines outside governance (THUCNews, TNEWS) and citizen messages to a city government
(2020 Teddy Cup titles and details), mixed PLATFORM_MIX, DEFAULT_PER_DAY posts a day on average.
Each hour's count is a Poisson draw around the diurnal profile's share of the day (timeline.DIURNAL:
quiet 02–06, peaks late morning and in the evening), so volume varies the way a real stream does
and a volume rule meets honest noise. Texts are drawn without replacement while the pools last.
Note that the default models were trained on these same texts: their labels are better on the
background than on new text.

Or read from a JSONL file of posts (`--background FILE`, one index.schema.Post per line). Its
times are shifted by whole days so that the day of its first post is the first simulated day
(warm-up included), keeping time of day; posts past the end are dropped.
"""
from __future__ import annotations

import json
import random
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, tzinfo
from pathlib import Path

import numpy as np
from pydantic import ValidationError

from index.schema import Post

from .cascades import ReplayInputError
from .timeline import DiurnalProfile

DEFAULT_PER_DAY = 3000
PLATFORM_MIX = {"weibo": 0.70, "news": 0.15, "gov_board": 0.15}
SOURCES = {"weibo": "replay_bg_weibo", "news": "replay_bg_news", "gov_board": "replay_bg_gov"}
_ORIGIN_PLATFORM = {"smp2020_usual": "weibo", "smp2020_virus": "weibo", "weibo2018": "weibo", "thucnews": "news", "tnews": "news",
                    "gov_titles": "gov_board", "gov_details": "gov_board"}
_TITLED = {"thucnews", "tnews", "gov_titles"}     # headlines and message titles are titles, not bodies


@dataclass(frozen=True)
class Text:
    title: str
    content: str


def text_pools(data_dir: str | Path) -> dict[str, list[Text]]:
    """Texts per platform from the shared data folder (nlp.datasets loaders)."""
    from nlp.datasets import load_sentiment, load_topic
    from nlp.errors import DataNotFoundError
    data_dir = Path(data_dir)
    pools: dict[str, list[Text]] = {p: [] for p in PLATFORM_MIX}
    try:
        examples = load_sentiment(data_dir) + load_topic(data_dir)
    except DataNotFoundError as exc:
        raise ReplayInputError(f"background: {exc}") from None
    seen: set[str] = set()
    for e in examples:
        platform = _ORIGIN_PLATFORM.get(e.origin)
        if platform is None or e.text in seen:
            continue
        seen.add(e.text)
        pools[platform].append(Text(e.text, "") if e.origin in _TITLED else Text("", e.text))
    return pools


def generate_background(pools: dict[str, list[Text]], start: datetime, days: int, *, per_day: float = DEFAULT_PER_DAY,
                        seed: int = 0, profile: DiurnalProfile | None = None, tz: tzinfo | None = None) -> list[Post]:
    """Posts over [start, start + days), start a local midnight; ids `<platform>:bg<n>`."""
    profile = profile or DiurnalProfile()
    rng = random.Random(f"background:{seed}")
    counts = np.random.default_rng(seed).poisson(np.tile(profile.expected(per_day), days))
    platforms = [p for p in PLATFORM_MIX if pools.get(p)]
    if per_day > 0 and not platforms:
        raise ReplayInputError("background: no texts found in the shared data folder")
    weights = [PLATFORM_MIX[p] for p in platforms]
    decks = {p: _Deck(pools[p], rng) for p in platforms}
    posts = []
    for hour_index, n in enumerate(counts):
        hour_start = start + timedelta(hours=hour_index)
        for _ in range(int(n)):
            platform = rng.choices(platforms, weights)[0]
            text = decks[platform].draw()
            at = hour_start + timedelta(seconds=rng.random() * 3600)
            if tz is not None:
                at = at.astimezone(tz)
            posts.append(Post(id=f"{platform}:bg{len(posts)}", platform=platform, source=SOURCES[platform],
                              title=text.title, content=text.content, published_at=at, crawled_at=at))
    posts.sort(key=lambda p: (p.published_at, p.id))
    return posts


class _Deck:
    """Texts in a seeded order, each once, reshuffled when all are used."""

    def __init__(self, texts: Sequence[Text], rng: random.Random):
        self.texts, self.rng, self.order, self.pos = list(texts), rng, [], 0

    def draw(self) -> Text:
        if self.pos >= len(self.order):
            self.order = list(range(len(self.texts)))
            self.rng.shuffle(self.order)
            self.pos = 0
        self.pos += 1
        return self.texts[self.order[self.pos - 1]]


def read_background(path: str | Path, start: datetime, end: datetime) -> list[Post]:
    """Posts from a JSONL file, shifted by whole days onto [start, end) (see the module docstring)."""
    path = Path(path)
    if not path.is_file():
        raise ReplayInputError(f"{path}: background file not found")
    raw: list[Post] = []
    try:
        with path.open(encoding="utf-8") as fh:
            for lineno, line in enumerate(fh, 1):
                if not line.strip():
                    continue
                try:
                    raw.append(Post.model_validate(json.loads(line)))
                except json.JSONDecodeError as exc:
                    raise ReplayInputError(f"{path}: line {lineno}: not JSON ({exc.msg} at column {exc.colno})") from None
                except ValidationError as exc:
                    problems = "; ".join(f"{'.'.join(map(str, e['loc'])) or 'post'}: {e['msg']}" for e in exc.errors())
                    raise ReplayInputError(f"{path}: line {lineno}: not a post: {problems}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ReplayInputError(f"{path}: cannot read: {exc}") from None
    if not raw:
        return []
    tz = start.tzinfo
    first_day = min(p.published_at for p in raw).astimezone(tz).date()
    shift = timedelta(days=(start.date() - first_day).days)
    out = []
    for post in raw:
        at = post.published_at.astimezone(tz) + shift
        if start <= at < end:
            out.append(post.model_copy(update={"published_at": at, "crawled_at": at}))
    out.sort(key=lambda p: (p.published_at, p.id))
    return out
