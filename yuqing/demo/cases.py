"""Shapes of the hand-written demo material (read by build_corpus.py only).

`region` is a compact place spec: a Jiujiang district ("濂溪区"), "九江" for the
city as a whole, "" when the text names no place, or "省/市/区" for anywhere else
("北京市/北京市/朝阳区", "上海市/上海市/"). `tone` is the expected sentiment:
"-" 负面, "0" 中性, "+" 正面.
"""
from __future__ import annotations

from typing import NamedTuple


class BoardCase(NamedTuple):
    topic: str
    region: str
    tone: str
    title: str
    content: str
    reply_dept: str | None = None     # None: nobody has answered yet
    reply: str | None = None          # the substance of the official answer


class WeiboCase(NamedTuple):
    topic: str
    region: str
    tone: str
    text: str
    user: str | None = None           # key into the user pool; None: any ordinary user
    heat: int = 1                     # 0 quiet … 3 viral; scales engagement


class NewsCase(NamedTuple):
    key: str                          # stable handle, used by reprints (搬运)
    topic: str
    region: str
    tone: str
    title: str
    paragraphs: tuple[str, ...]


class Reprint(NamedTuple):
    """Another outlet republishing an article with light edits (a near-duplicate)."""
    of: str                           # NewsCase.key
    title: str
    lead: str | None = None           # replaces the first paragraph when given
    credit: str = "浔阳晚报"
