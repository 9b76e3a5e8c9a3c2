"""The contacts search column: one lower-cased, accent-free string per contact, so a free-text search is one
``LIKE '%term%'`` over one column (a trigram index serves it on PostgreSQL) instead of one per name and per
attribute, and matches attribute values, never attribute keys.

Pure functions (no Django imports): the import workers build the same string in other processes.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping

MAX_SEARCH_TEXT = 2000
_SPACES = re.compile(r"\s+")


def fold(value: str) -> str:
    """Lower case without accents or repeated spaces: 'Åsa  Öberg' → 'asa oberg'."""
    if value.isascii():
        return _SPACES.sub(" ", value.lower()).strip()
    decomposed = unicodedata.normalize("NFKD", value.casefold())
    stripped = "".join(c for c in decomposed if not unicodedata.combining(c))
    return _SPACES.sub(" ", stripped).strip()


def build_search_text(first_name: str, last_name: str, phone: str, attributes: Mapping | None) -> str:
    parts = [first_name, last_name, phone.lstrip("+")]
    if attributes:
        parts.extend(str(v) for v in attributes.values() if v not in (None, ""))
    return fold(" ".join(p for p in parts if p))[:MAX_SEARCH_TEXT]


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
