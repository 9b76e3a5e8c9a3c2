"""GSM-7 / UCS-2 segment counting (3GPP TS 23.038 / 23.040), rules and vectors in protocol-notes §5.

No maintained library counts right at the boundaries, so we keep this small counter:
- GSM-7 iff every character is in the default alphabet or its extension table; extension characters cost
  2 septets; 160 in one segment, else 153 per segment filled greedily, never splitting an escape pair.
- Otherwise UCS-2 in UTF-16 code units (astral characters cost 2); 70 in one segment, else 67 per segment,
  never splitting a surrogate pair.
National shift tables are not applied (none of our providers lets the caller pick one); the count is an
estimate and the provider-reported count wins when it arrives.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

GSM7_BASIC = (
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
GSM7_EXTENSION = "^{}\\[~]|€\f"
_BASIC = frozenset(GSM7_BASIC)
_EXT = frozenset(GSM7_EXTENSION)
# Fast path: a text made only of basic-alphabet characters costs one septet per character (C-speed check).
_NOT_BASIC = re.compile("[^" + re.escape(GSM7_BASIC) + "]")
# Control characters that no encoding sends usefully (ESC is the GSM escape itself; rules §5.1).
_CONTROL = re.compile("[\x00-\x08\x0b\x0e-\x1f\x7f]")

# GSM look-alikes for characters that force UCS-2 (the "fix-up" offered in the composer).
GSM_REPLACEMENTS = {
    "\u2018": "'",
    "\u2019": "'",
    "\u201a": "'",
    "\u201b": "'",
    "\u2032": "'",
    "\u201c": '"',
    "\u201d": '"',
    "\u201e": '"',
    "\u201f": '"',
    "\u2033": '"',
    "«": '"',
    "»": '"',
    "\u2013": "-",
    "\u2014": "-",
    "\u2015": "-",
    "\u2212": "-",
    "\u2010": "-",
    "\u2011": "-",
    "\u2026": "...",
    "\u00a0": " ",
    "\u2007": " ",
    "\u2009": " ",
    "\u202f": " ",
    "\u200b": "",
    "\u2022": "-",
    "\u00b4": "'",
    "`": "'",
    "ç": "Ç",
    "\t": " ",
}


@dataclass(frozen=True)
class SegmentInfo:
    encoding: str  # "GSM-7" or "UCS-2"
    characters: int  # user-perceived length (code points)
    units: int  # septets (GSM-7) or UTF-16 code units (UCS-2)
    segments: int
    per_segment: int  # capacity of each segment for this length
    remaining: int  # units left in the last segment
    non_gsm: tuple[str, ...]  # distinct characters forcing UCS-2, in order of first appearance


def is_gsm7(text: str) -> bool:
    return all(c in _BASIC or c in _EXT for c in text)


def _gsm_segments(text: str) -> tuple[int, int, int, int]:
    units = sum(2 if c in _EXT else 1 for c in text)
    if units <= 160:
        return units, 1, 160, 160 - units
    segments, used = 1, 0
    for c in text:
        cost = 2 if c in _EXT else 1
        if used + cost > 153:
            segments += 1
            used = 0
        used += cost
    return units, segments, 153, 153 - used


def _gsm_segments_basic(units: int) -> tuple[int, int, int, int]:
    """Only basic characters: no escape pair to keep together, so plain arithmetic is exact."""
    if units <= 160:
        return units, 1, 160, 160 - units
    segments = -(-units // 153)
    return units, segments, 153, segments * 153 - units


def _ucs2_segments(text: str) -> tuple[int, int, int, int]:
    costs = [2 if ord(c) > 0xFFFF else 1 for c in text]
    units = sum(costs)
    if units <= 70:
        return units, 1, 70, 70 - units
    segments, used = 1, 0
    for cost in costs:
        if used + cost > 67:
            segments += 1
            used = 0
        used += cost
    return units, segments, 67, 67 - used


def segments_of(text: str) -> int:
    """Just the segment count (the hot path of a campaign snapshot: millions of rendered texts)."""
    if _NOT_BASIC.search(text) is None:
        n = len(text)
        return 1 if n <= 160 else -(-n // 153)
    return count_segments(text).segments


def control_characters(text: str) -> list[str]:
    """Control characters (other than line breaks and tab) that must not be sent, e.g. a raw ESC."""
    return list(dict.fromkeys(_CONTROL.findall(text)))


def count_segments(text: str) -> SegmentInfo:
    if _NOT_BASIC.search(text) is None:
        units, segments, per, remaining = _gsm_segments_basic(len(text))
        return SegmentInfo("GSM-7", len(text), units, segments, per, remaining, ())
    non_gsm: dict[str, None] = {}
    for c in text:
        if c not in _BASIC and c not in _EXT:
            non_gsm.setdefault(c, None)
    if not non_gsm:
        units, segments, per, remaining = _gsm_segments(text)
        return SegmentInfo("GSM-7", len(text), units, segments, per, remaining, ())
    units, segments, per, remaining = _ucs2_segments(text)
    return SegmentInfo("UCS-2", len(text), units, segments, per, remaining, tuple(non_gsm))


def to_gsm(text: str) -> str:
    """Replace common look-alikes (curly quotes, dashes, ellipsis, odd spaces) with GSM-7 characters."""
    return "".join(GSM_REPLACEMENTS.get(c, c) for c in text)
