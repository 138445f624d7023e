"""Page encodings: when to override Scrapy's detection, and when text is beyond saving.

Scrapy (via w3lib) already reads the Content-Type header, then <meta charset>,
then a BOM, and maps GB2312/GBK to their superset GB18030 so GBK-only
characters in a "gb2312" page decode. Cases it gets wrong on Chinese sites, which
we fix here:
- nothing declared and the bytes are not UTF-8: its guesses (cp1252, cp949)
  produce mojibake; old Chinese sites are almost always GBK, so try GB18030.
- UTF-8 declared but the bytes are GBK (a common template mistake).
- GBK declared but the bytes are valid UTF-8 (a page converted without updating
  its <meta>): non-ASCII GBK text is practically never valid UTF-8.
"""
from __future__ import annotations

import codecs

from w3lib.encoding import html_body_declared_encoding, http_content_type_encoding, read_bom, resolve_encoding

# Encodings for which a strict decode is a meaningful test (single-byte ones decode anything).
_FALLBACKS = ("utf-8", "gb18030", "big5hkscs")
_CHINESE_ALIASES = {"gb2312": "gb18030", "gbk": "gb18030", "x-gbk": "gb18030", "gb_2312-80": "gb18030",
                    "cp936": "gb18030", "ms936": "gb18030", "hz-gb-2312": "gb18030", "big5": "big5hkscs"}


class UnknownEncoding(ValueError):
    pass


def normalize_encoding(name: str) -> str:
    """Canonical codec name for a configured/declared encoding; GB2312/GBK widen to GB18030."""
    key = name.strip().lower()
    if key in _CHINESE_ALIASES:
        return _CHINESE_ALIASES[key]
    resolved = resolve_encoding(key)
    if resolved is None:
        try:
            resolved = codecs.lookup(key).name
        except LookupError:
            raise UnknownEncoding(f"unknown encoding {name!r}") from None
    return resolved


def decodes(body: bytes, encoding: str) -> bool:
    try:
        body.decode(encoding)
    except (UnicodeDecodeError, LookupError):
        return False
    return True


def pick_encoding(body: bytes, content_type: str | None) -> str | None:
    """An encoding to force on a response, or None to keep Scrapy's own choice."""
    if read_bom(body)[0]:
        return None
    declared = http_content_type_encoding(content_type) if content_type else None
    declared = declared or html_body_declared_encoding(body)
    if declared:
        resolved = (resolve_encoding(declared) or declared).replace("_", "-")
        is_utf8 = resolved in ("utf-8", "utf8")
        if is_utf8 and not decodes(body, "utf-8") and decodes(body, "gb18030"):
            return "gb18030"
        if not is_utf8 and not body.isascii() and decodes(body, "utf-8"):
            # Non-ASCII GBK text is practically never valid UTF-8, so valid UTF-8 means the
            # declaration is stale (pages re-saved as UTF-8 keep their old charset=gbk).
            return "utf-8"
        # GB2312 and GBK pages are read as their superset GB18030 whatever Scrapy's (w3lib's) own
        # translation of the name is this release (2.6 stopped widening gb2312 and gbk)
        widened = _CHINESE_ALIASES.get(declared.strip().lower()) or _CHINESE_ALIASES.get(resolved)
        return widened if widened and widened != resolved else None
    for candidate in _FALLBACKS:
        if decodes(body, candidate):
            return candidate
    # Nothing fits: decode as UTF-8 with replacement so the damage shows up as U+FFFD and is measured.
    return "utf-8"


def replacement_ratio(text: str) -> float:
    """Share of characters that failed to decode (U+FFFD) among the non-space ones."""
    visible = sum(1 for ch in text if not ch.isspace())
    if not visible:
        return 0.0
    return text.count("\ufffd") / visible


def decode_page(body: bytes, content_type: str | None = None) -> tuple[str, str]:
    """A saved page's text and the encoding it was read with, by the crawl's own rules: a BOM, then
    the declaration (GB2312/GBK widened to GB18030, stale declarations overruled), else the first
    encoding the bytes are valid in; undecodable bytes become U+FFFD."""
    bom, _ = read_bom(body)
    if bom:
        encoding = bom
    else:
        encoding = pick_encoding(body, content_type)
        if encoding is None:
            declared = (http_content_type_encoding(content_type) if content_type else None) \
                or html_body_declared_encoding(body) or "utf-8"
            try:
                encoding = normalize_encoding(declared)
            except UnknownEncoding:
                encoding = "utf-8"
    text = body.decode(encoding, errors="replace")
    return (text[1:] if text.startswith("\ufeff") else text), encoding
