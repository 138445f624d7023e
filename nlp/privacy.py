"""Personal data in post text: detect it and mask it for reports.

Masked: mainland mobile numbers (139****5678), 18-digit resident ID numbers
(3604**********1234), landlines with an area code (0792-****5678), e-mail
addresses (z***@example.com) and bank-card numbers (6222***********0123).

Kept, because they are not personal: dates and times (2024-05-01, 20240501,
12:30:45), money amounts (1,234,567.89元), post ids and digits inside URLs or
identifiers (weibo:4231265311393455, /status/4231265311393455), hotlines
(12345, 400-800-1234), and long digit runs that fail the card checks.
"""
from __future__ import annotations

import re
from collections.abc import Callable

# No ASCII letter/digit (or id/URL punctuation) right before or after: the number stands alone.
_B = r"(?<![0-9A-Za-z_])"
_A = r"(?![0-9A-Za-z_])"

_EMAIL = re.compile(r"(?<![A-Za-z0-9._%+-])([A-Za-z0-9][A-Za-z0-9._%+-]{0,63})@([A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,})")

_ID_CARD = re.compile(
    _B + r"([1-9]\d{5})((?:18|19|20)\d{2}(?:0[1-9]|1[0-2])(?:0[1-9]|[12]\d|3[01])\d{3})([0-9Xx])" + _A)

_MOBILE = re.compile(
    _B + r"(?:(?:\+|00)?86[\s-]?)?(1[3-9]\d)[\s-]?(\d{4})[\s-]?(\d{4})" + r"(?![0-9A-Za-z_])")

# Area code 0XX / 0XXX, local number 7–8 digits; the separator (or brackets) is required
# so a bare 11-digit run is not guessed at.
_LANDLINE = re.compile(
    r"(?<![0-9A-Za-z_\-])(\(0\d{2,3}\)|（0\d{2,3}）|0\d{2,3}[\s-])\s?([1-9]\d{2,3})[\s-]?(\d{4})(?![0-9\-])")

# 16–19 digits, plain or grouped in fours. Not after '/', ':', '=', '#', '.': those are ids in URLs.
_CARD = re.compile(r"(?<![0-9A-Za-z_/:=#.@\-])(\d{4}(?:[ -]?\d{4}){3}(?:[ -]?\d{1,3})?)(?![0-9A-Za-z_/\-])")
_CARD_CONTEXT = re.compile(r"(卡号|银行卡|储蓄卡|信用卡|借记卡|账号|帐号|账户|帐户|卡|card|account)", re.I)


def _luhn_ok(digits: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch)
        if i % 2 == 1:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


def _mask_email(m: re.Match[str]) -> str:
    local, domain = m.group(1), m.group(2)
    return f"{local[0]}***@{domain}"


def _mask_id(m: re.Match[str]) -> str:
    whole = m.group(0)
    return whole[:4] + "*" * (len(whole) - 8) + whole[-4:]


def _mask_mobile(m: re.Match[str]) -> str:
    return f"{m.group(1)}****{m.group(3)}"


def _mask_landline(m: re.Match[str]) -> str:
    area = re.sub(r"\D", "", m.group(1))
    return f"{area}-****{m.group(3)}"


def _card_match(text: str, m: re.Match[str]) -> bool:
    digits = re.sub(r"\D", "", m.group(1))
    if not 16 <= len(digits) <= 19:
        return False
    grouped = " " in m.group(1) or "-" in m.group(1)
    context = _CARD_CONTEXT.search(text[max(0, m.start() - 12):m.start()]) is not None
    # UnionPay cards start with 62; other brands pass the Luhn check. Either, or a card word nearby.
    return digits.startswith("62") or _luhn_ok(digits) or grouped or context


def _mask_card(text: str) -> Callable[[re.Match[str]], str]:
    def mask(m: re.Match[str]) -> str:
        if not _card_match(text, m):
            return m.group(0)
        digits = re.sub(r"\D", "", m.group(1))
        return digits[:4] + "*" * (len(digits) - 8) + digits[-4:]
    return mask


def mask_pii(text: str) -> str:
    """The text with personal data masked; everything else unchanged."""
    if not text:
        return text
    text = _EMAIL.sub(_mask_email, text)
    text = _ID_CARD.sub(_mask_id, text)      # before cards: an 18-digit ID would also look like one
    text = _CARD.sub(_mask_card(text), text)
    text = _MOBILE.sub(_mask_mobile, text)
    text = _LANDLINE.sub(_mask_landline, text)
    return text


def contains_pii(text: str) -> bool:
    """True when mask_pii would change the text."""
    return bool(text) and mask_pii(text) != text
