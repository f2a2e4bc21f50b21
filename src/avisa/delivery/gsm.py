"""SMS encoding: keep bodies in GSM-7 where the language allows, and count segments.

One character outside the GSM 03.38 alphabet switches the whole message to UCS-2, which
cuts a segment from 160 to 70 characters and roughly doubles the cost. Typographic marks
(curly quotes, dashes, ellipses, non-breaking spaces) always get their plain form. Letters
with accents GSM-7 lacks (á í ó ú ç …) lose the accent only if that makes the whole text
GSM-7; a text that needs UCS-2 anyway (a name in another script, an emoji) keeps them all.
"""

from __future__ import annotations

import math
import unicodedata
from dataclasses import dataclass

_BASIC = (
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
_EXTENDED = "^{}\\[~]|€\f"
GSM7 = frozenset(_BASIC) | frozenset(_EXTENDED)

_TYPOGRAPHIC = {
    "\u2018": "'", "\u2019": "'", "\u201a": "'", "\u201b": "'", "\u2032": "'",
    "\u201c": '"', "\u201d": '"', "\u201e": '"', "\u00ab": '"', "\u00bb": '"',
    "\u2013": "-", "\u2014": "-", "\u2212": "-", "\u2010": "-", "\u2011": "-",
    "\u2026": "...", "\u00a0": " ", "\u202f": " ", "\u2009": " ", "\u2007": " ",
    "\u200b": "", "\u00b7": ".", "\u2022": "-", "\t": " ",
}  # fmt: skip


@dataclass(frozen=True)
class SmsBody:
    """An SMS text with its encoding and how many segments it costs."""

    text: str
    encoding: str  # "GSM-7" or "UCS-2"
    segments: int


_TYPOGRAPHIC_TABLE = str.maketrans(_TYPOGRAPHIC)


def is_gsm7(text: str) -> bool:
    return set(text) <= GSM7


def _strip_accent(ch: str) -> str:
    base = unicodedata.normalize("NFD", ch)[0]
    return base if base in GSM7 else ch


def sms_body(text: str) -> SmsBody:
    """Normalise `text` for SMS as described above and count its segments."""
    plain = text.translate(_TYPOGRAPHIC_TABLE)
    outside = set(plain) - GSM7
    stripped = plain
    if outside:
        stripped = plain.translate({ord(ch): _strip_accent(ch) for ch in outside})
    if not outside or is_gsm7(stripped):
        # Extension characters take two septets each.
        septets = len(stripped) + sum(stripped.count(ch) for ch in _EXTENDED)
        segments = 1 if septets <= 160 else math.ceil(septets / 153)
        return SmsBody(stripped, "GSM-7", segments)
    units = len(plain.encode("utf-16-le")) // 2
    segments = 1 if units <= 70 else math.ceil(units / 67)
    return SmsBody(plain, "UCS-2", segments)
