"""Text cleaning before analysis: what a reader skips, the models should not read either.

Two levels:

* `clean_text` (every model and extractor): drops markup (HTML tags, whole
  <script>/<style> blocks, comments; entities decoded), links, source attributions
  ("（来源：浔阳晚报）" names the outlet, not the place a story is about) and
  invisible characters. Emoticon codes such as [怒] stay: they carry tone.
* `drop_bracket_codes` (tokens and keywords): removes the words of Weibo
  emoticon codes ([馋嘴] → "馋嘴") from a segmentation, so they never become
  hot words.

Near-duplicate detection normalises much harder (nlp.dedup.fingerprint_text).
"""
from __future__ import annotations

import html
import re

from index.segment import drop_bracket_codes  # noqa: F401 - part of this module's interface; lives with the segmenter

# A link ends at whitespace or at Chinese punctuation (，。！：…), which never belongs to a URL.
URL = re.compile(r"(?:https?|ftp)://[^\s\u3000-\u303f\uff01-\uff0f\uff1a-\uff20<>\"'）)】]+"
                 r"|www\.[A-Za-z0-9.-]+\.[A-Za-z]{2,}\S*")
# "（来源：浔阳晚报）", "(来源:新华社)", "来源：九江日报" at the end of a line.
ATTRIBUTION = re.compile(r"[（(]\s*(?:来源|稿源|转自|责任编辑|编辑)[:：][^（()）\n]{0,30}[）)]"
                         r"|(?:来源|稿源|转自)[:：][^\n，。！？]{0,30}$", re.M)
_INVISIBLE = re.compile("[\u200b-\u200f\u2060\ufeff]")
# Markup is not what the writer said: a <script> block goes whole, a tag leaves a space.
_BLOCKS = re.compile(r"<(script|style|noscript|template)\b[^>]*>.*?(?:</\1\s*>|$)|<!--.*?(?:-->|$)", re.I | re.S)
_TAG = re.compile(r"</?([A-Za-z][A-Za-z0-9:-]*)(?:\s[^<>]{0,2000})?/?>")
_INLINE = frozenset("a abbr b bdi bdo big cite code em font i kbd mark q s samp small span strike strong sub sup "
                    "tt u var wbr".split())


def _tag_gap(match: re.Match) -> str:
    return "" if match.group(1).lower() in _INLINE else " "

_ENTITY = re.compile(r"&(?:#\d{1,7}|#x[0-9a-fA-F]{1,6}|[A-Za-z]{2,10});")


def strip_markup(text: str) -> str:
    """The text without HTML/XML markup: inline tags vanish, block tags become spaces,
    script and style blocks vanish whole,
    entities (&amp; &lt; &#20013;) are decoded. Plain text comes back unchanged."""
    if "<" in text:
        text = _TAG.sub(_tag_gap, _BLOCKS.sub("", text))
    if "&" in text and _ENTITY.search(text):
        text = html.unescape(text)
    return text


def clean_text(text: str) -> str:
    """The text without links, attributions and invisible characters; everything else as it was."""
    if not text:
        return ""
    text = strip_markup(_INVISIBLE.sub("", text))
    text = URL.sub(" ", text)
    return ATTRIBUTION.sub(" ", text).strip()
