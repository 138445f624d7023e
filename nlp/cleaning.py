"""Text cleaning before analysis: what a reader skips, the models should not read either.

Two levels:

* `clean_text` (every model and extractor): drops links, source attributions
  ("（来源：浔阳晚报）" names the outlet, not the place a story is about) and
  invisible characters. Emoticon codes such as [怒] stay: they carry tone.
* `drop_bracket_codes` (tokens and keywords): removes the words of Weibo
  emoticon codes ([馋嘴] → "馋嘴") from a segmentation, so they never become
  hot words.

Near-duplicate detection normalises much harder (nlp.dedup.fingerprint_text).
"""
from __future__ import annotations

import re

from index.segment import drop_bracket_codes  # noqa: F401 - part of this module's interface; lives with the segmenter

# A link ends at whitespace or at Chinese punctuation (，。！：…), which never belongs to a URL.
URL = re.compile(r"(?:https?|ftp)://[^\s\u3000-\u303f\uff01-\uff0f\uff1a-\uff20<>\"'）)】]+"
                 r"|www\.[A-Za-z0-9.-]+\.[A-Za-z]{2,}\S*")
# "（来源：浔阳晚报）", "(来源:新华社)", "来源：九江日报" at the end of a line.
ATTRIBUTION = re.compile(r"[（(]\s*(?:来源|稿源|转自|责任编辑|编辑)[:：][^（()）\n]{0,30}[）)]"
                         r"|(?:来源|稿源|转自)[:：][^\n，。！？]{0,30}$", re.M)
_INVISIBLE = re.compile("[\u200b-\u200f\u2060\ufeff]")


def clean_text(text: str) -> str:
    """The text without links, attributions and invisible characters; everything else as it was."""
    if not text:
        return ""
    text = _INVISIBLE.sub("", text)
    text = URL.sub(" ", text)
    return ATTRIBUTION.sub(" ", text).strip()
