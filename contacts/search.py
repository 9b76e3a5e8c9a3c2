"""The contacts search column: one lower-cased, accent-free string per contact, so a free-text search is one
``LIKE '%term%'`` over one column (a trigram index serves it on PostgreSQL) instead of one per name and per
attribute, and matches attribute values, never attribute keys.

Pure functions (no Django imports): the import workers build the same string in other processes.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping
from functools import lru_cache

MAX_SEARCH_TEXT = 2000
_SPACES = re.compile(r"\s+")
_MARKS = re.compile(r"[\u0300-\u036f\u1ab0-\u1aff\u1dc0-\u1dff\u20d0-\u20ff\ufe20-\ufe2f]+")


def fold(value: str) -> str:
    """Lower case without accents or repeated spaces: 'Åsa  Öberg' → 'asa oberg'."""
    if value.isascii():
        folded = value.lower()
    else:
        folded = _MARKS.sub("", unicodedata.normalize("NFKD", value.casefold()))
        if not folded.isascii():  # other scripts' combining marks
            folded = "".join(c for c in folded if not unicodedata.combining(c))
    if "  " in folded or not folded.isprintable() or folded[:1].isspace() or folded[-1:].isspace():
        folded = _SPACES.sub(" ", folded).strip()
    return folded


_fold_cached = lru_cache(maxsize=4096)(fold)  # names and attribute values repeat a lot in real files


def build_search_text(first_name: str, last_name: str, phone: str, attributes: Mapping | None) -> str:
    parts = []
    if first_name:
        parts.append(_fold_cached(first_name))
    if last_name:
        parts.append(_fold_cached(last_name))
    parts.append(phone[1:] if phone[:1] == "+" else phone)
    if attributes:
        for v in attributes.values():
            if v is None or v == "":
                continue
            if v.__class__ is str:
                parts.append(_fold_cached(v) if len(v) < 64 else fold(v))
            else:
                parts.append(str(v))
    text = " ".join(parts)
    return text if len(text) <= MAX_SEARCH_TEXT else text[:MAX_SEARCH_TEXT]


def search_terms(query: str) -> list[str]:
    """Folded words of a search box query; every word must match."""
    return [t for t in fold(query or "").split(" ") if t][:8]


_PHONEISH = re.compile(r"^[+\d][\d\s().\-/]*$")


def phone_digits(query: str) -> str:
    """The digits of a query that looks like (part of) a phone number, else ''."""
    query = (query or "").strip()
    if len(query) < 3 or not _PHONEISH.match(query):
        return ""
    return "".join(c for c in query if c.isdigit())
