"""Text cleaning: whitespace, invisible characters and HTML fragments to plain text."""
from __future__ import annotations

import html
import re

import lxml.etree
import lxml.html

# Spaces that Chinese pages use for layout (NBSP, ideographic space, thin spaces).
_SPACES = re.compile(r"[\t\x0b\x0c\xa0\u1680\u2000-\u200a\u202f\u205f\u3000]+")
# Characters that carry nothing but break matching and hashing.
_INVISIBLE = re.compile(r"[\u200b-\u200d\u2060\ufeff\u00ad]")
_MULTI_SPACE = re.compile(r" {2,}")
_EMOJI_ALT = re.compile(r"^\[[^\[\]]{1,12}\]$")   # weibo-style [怒], [doge]

_BLOCK_TAGS = {"p", "div", "li", "tr", "h1", "h2", "h3", "h4", "h5", "h6", "section", "article",
               "blockquote", "pre", "table", "ul", "ol", "dd", "dt", "header", "footer"}
_DROP_TAGS = ("script", "style", "noscript", "template", "iframe")


def clean_text(value: str | None) -> str:
    """Multi-line text: normalized spaces, stripped lines, no blank lines."""
    if not value:
        return ""
    value = _INVISIBLE.sub("", value.replace("\r\n", "\n").replace("\r", "\n"))
    value = _SPACES.sub(" ", value)
    lines = (_MULTI_SPACE.sub(" ", line).strip() for line in value.split("\n"))
    return "\n".join(line for line in lines if line)


def clean_line(value: str | None) -> str:
    """One-line text (titles, names): every run of whitespace becomes one space."""
    if not value:
        return ""
    return " ".join(clean_text(value).split())


def html_to_text(fragment: str | None, keep_emoji_alt: bool = True) -> str:
    """Plain text of an HTML fragment; block elements and <br> become line breaks.

    Images are dropped except weibo-style emoji whose alt text ([怒]) carries
    sentiment. Broken markup is repaired by lxml rather than rejected.
    """
    if not fragment or not fragment.strip():
        return ""
    if "<" not in fragment:
        return clean_text(html.unescape(fragment))
    try:
        root = lxml.html.fragment_fromstring(fragment, create_parent="div")
    except (lxml.etree.ParserError, ValueError):
        return clean_text(html.unescape(re.sub(r"<[^>]*>", " ", fragment)))
    return element_text(root, keep_emoji_alt=keep_emoji_alt)


def element_text(root: lxml.html.HtmlElement, keep_emoji_alt: bool = True) -> str:
    """Plain text of a parsed element (see html_to_text). The element is modified in
    place, so pass one you own (extract.article.detached_copy makes one)."""
    for bad in root.xpath(" | ".join(f".//{t}" for t in _DROP_TAGS)):
        bad.drop_tree()
    for el in root.iter(lxml.etree.Element):
        tag = el.tag if isinstance(el.tag, str) else ""
        if tag == "img":
            alt = (el.get("alt") or "").strip()
            keep = alt if keep_emoji_alt and _EMOJI_ALT.match(alt) else ""
            el.tail = keep + (el.tail or "")
        elif tag == "br":
            el.tail = "\n" + (el.tail or "")
        elif tag in _BLOCK_TAGS:
            el.tail = "\n" + (el.tail or "")
            el.text = "\n" + (el.text or "")
        elif tag in ("td", "th"):
            el.tail = " " + (el.tail or "")
    for img in root.xpath(".//img"):
        img.drop_tree()
    return clean_text(root.text_content())
