"""One file row → one contact record, or the reason it was refused.

Pure functions over plain data (no Django imports): the import runs them in worker processes, the preview and
the contact form run them in the web process, so all three read values the same way.
"""

from __future__ import annotations

import codecs
import csv
import datetime as dt
import io
import json
import re
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import NamedTuple

from .phone import normalize_phone
from .search import build_search_text

NAME_MAX = 100
GROUP_NAME_MAX = 100
ATTRIBUTE_TEXT_MAX = 1000
GROUP_SEPARATORS = re.compile(r"[;,|]")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")

# Allow large cells (a 100k-character note) without letting one runaway quote swallow the whole file unread.
csv.field_size_limit(16 * 1024 * 1024)
UNIT_SEPARATOR = "\x1f"  # joins a row's original cells for the error report (split only when needed)


def _utf8_with_cp1252_fallback(exc: UnicodeDecodeError):
    """A UTF-8 file with a few Windows-1252 bytes (files pasted together from two sources) keeps its rows."""
    bad = exc.object[exc.start : exc.end]
    return bad.decode("cp1252", errors="replace"), exc.end


codecs.register_error("contacts_cp1252_fallback", _utf8_with_cp1252_fallback)


def decode_errors(encoding: str) -> str:
    return "contacts_cp1252_fallback" if encoding.replace("_", "-").lower().startswith("utf-8") else "replace"


# Column targets in an import mapping.
PHONE, FIRST_NAME, LAST_NAME, COUNTRY, GROUP, LIST = "phone", "first_name", "last_name", "country", "group", "list"
FIELD_PREFIX = "field:"
_JSON = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))  # one encoder: the C fast path, no set-up per row
_quote = json.encoder.encode_basestring  # C implementation


def attributes_json(attributes: dict) -> str:
    """JSON of a flat {slug key: str | int | float} dict, as ``_JSON.encode`` writes it, without its per-call
    overhead (this runs once per imported row)."""
    parts = []
    for key, value in attributes.items():
        cls = value.__class__
        if cls is str:
            parts.append(f'"{key}":{_quote(value)}')
        elif cls is int or cls is float:
            parts.append(f'"{key}":{value!r}')
        else:
            return _JSON.encode(attributes)
    return "{" + ",".join(parts) + "}"


class FieldSpec(NamedTuple):
    col: int
    key: str
    label: str
    type: str  # ContactField.Type value: text, number, date, choice
    choices: tuple[str, ...] = ()


@dataclass(frozen=True)
class RowSpec:
    """Where each value is in a row (column indexes, -1 when not mapped) and how to read it."""

    phone_col: int
    first_col: int = -1
    last_col: int = -1
    country_col: int = -1
    fields: tuple[FieldSpec, ...] = ()
    group_cols: tuple[int, ...] = ()
    list_cols: tuple[int, ...] = ()
    default_country: str = ""
    day_first: bool = True  # 01/02/2024 is 1 February (False: 2 January, for US-style dates)
    phone_only: bool = False  # blocklist imports read the phone and nothing else
    choice_maps: dict = field(default_factory=dict, compare=False)


class Record(NamedTuple):
    """A normalized row. Worker processes return it as a plain tuple in this field order (a plain tuple pickles
    4× faster); the first six fields are exactly the values ``bulk.insert_contacts`` writes, and ``groups`` and
    ``lists`` are only there when a column is mapped to them (``Record(*t)`` needs all eight)."""

    phone: str
    first_name: str
    last_name: str
    attributes_json: str  # JSON of the declared field values read from the row ("{}" when none)
    region: str
    search_text: str
    groups: tuple[str, ...]
    lists: tuple[str, ...]

    @property
    def attributes(self) -> dict:
        return json.loads(self.attributes_json)


def clean_text(value) -> str:
    if value is None:
        return ""
    text = value if isinstance(value, str) else str(value)
    if not text.isprintable() and _CONTROL.search(text):
        text = _CONTROL.sub("", text)
    return text.strip()


def _too_long(label: str, text: str, limit: int) -> str:
    return f"{label} is {len(text):,} characters long (at most {limit:,})."


def parse_number(text: str) -> int | float:
    """'1 234,5' / '1,234.5' / '1.234,5' / '12' → a JSON number. Raises ValueError with a reason."""
    if text.isdigit() and text.isascii():
        return int(text)
    s = text.replace(" ", "").replace("\u00a0", "").replace("'", "").replace("_", "")
    if "," in s and "." in s:
        s = s.replace(".", "").replace(",", ".") if s.rfind(",") > s.rfind(".") else s.replace(",", "")
    elif s.count(",") == 1:
        s = s.replace(",", ".")
    try:
        number = Decimal(s)
    except InvalidOperation:
        raise ValueError(f"“{text[:40]}” is not a number.") from None
    if not number.is_finite():
        raise ValueError(f"“{text[:40]}” is not a number.")
    if number == number.to_integral_value() and abs(number) < 10**15:
        return int(number)
    return float(number)


_ISO_DATE = re.compile(r"^(\d{4})-(\d{1,2})-(\d{1,2})(?:[ T]\d{1,2}:\d{2}(?::\d{2}(?:\.\d+)?)?)?$")
_YMD_SLASH = re.compile(r"^(\d{4})[/.](\d{1,2})[/.](\d{1,2})$")
_DMY = re.compile(r"^(\d{1,2})[./-](\d{1,2})[./-](\d{4})$")


def parse_date(text: str, *, day_first: bool = True) -> str:
    """An ISO date string. Accepts YYYY-MM-DD (with an optional time, as spreadsheets write date cells),
    YYYY/MM/DD, and DD/MM/YYYY (or MM/DD/YYYY when not ``day_first``). Raises ValueError with a reason."""
    s = text.strip()
    m = _ISO_DATE.match(s) or _YMD_SLASH.match(s)
    if m:
        y, mo, d = (int(g) for g in m.groups())
    else:
        m = _DMY.match(s)
        if not m:
            example = "31/12/2024" if day_first else "12/31/2024"
            raise ValueError(f"“{text[:40]}” is not a date (use 2024-12-31 or {example}).")
        a, b, y = (int(g) for g in m.groups())
        d, mo = (a, b) if day_first else (b, a)
    try:
        return dt.date(y, mo, d).isoformat()
    except ValueError:
        raise ValueError(f"“{text[:40]}” is not a date that exists.") from None


def parse_field_value(spec: FieldSpec, text: str, *, day_first: bool = True, choice_map: dict | None = None):
    """The JSON value of a declared field. Raises ValueError naming the field and the value."""
    if spec.type == "text":
        if len(text) > ATTRIBUTE_TEXT_MAX:
            raise ValueError(_too_long(spec.label, text, ATTRIBUTE_TEXT_MAX))
        return text
    try:
        if spec.type == "number":
            return parse_number(text)
        if spec.type == "date":
            return parse_date(text, day_first=day_first)
        if spec.type == "choice":
            mapping = choice_map if choice_map is not None else {c.casefold(): c for c in spec.choices}
            found = mapping.get(text.casefold())
            if found is None:
                allowed = ", ".join(spec.choices[:10]) or "(no choices declared)"
                raise ValueError(f"“{text[:40]}” is not one of: {allowed}.")
            return found
    except ValueError as exc:
        raise ValueError(f"{spec.label}: {exc}") from None
    if len(text) > ATTRIBUTE_TEXT_MAX:
        raise ValueError(_too_long(spec.label, text, ATTRIBUTE_TEXT_MAX))
    return text


def _names(cell: str) -> tuple[str, ...]:
    return tuple(n for n in (p.strip() for p in GROUP_SEPARATORS.split(cell)) if n)


def _text(cells, col: int, n: int) -> str:
    if col < 0 or col >= n:
        return ""
    value = cells[col]
    if value.__class__ is not str:
        return clean_text(value)
    value = value.strip()
    if value and not value.isprintable():
        value = clean_text(value)
    return value


def normalize_row(spec: RowSpec, cells) -> tuple | str | None:
    """A ``Record`` as a plain tuple; or the reason the row is refused (str); or None for a row with no value.
    (The hot loop of an import: kept free of needless calls.)"""
    n = len(cells)
    if not n:
        return None
    joined = "".join(cells)
    if not joined or joined.isspace():
        return None
    raw_phone = cells[spec.phone_col] if spec.phone_col < n else ""
    country = _text(cells, spec.country_col, n).upper() if spec.country_col >= 0 else ""
    result = normalize_phone(raw_phone, spec.default_country, country=country)
    if result.error:
        return f"Phone: {result.error}"
    phone = result.e164
    if spec.phone_only:
        return (phone, "", "", "{}", result.region, "")

    first = _text(cells, spec.first_col, n)
    if len(first) > NAME_MAX:
        return _too_long("First name", first, NAME_MAX)
    last = _text(cells, spec.last_col, n)
    if len(last) > NAME_MAX:
        return _too_long("Last name", last, NAME_MAX)
    attributes = {}
    for fs in spec.fields:
        text = _text(cells, fs.col, n)
        if not text:
            continue
        try:
            attributes[fs.key] = parse_field_value(
                fs, text, day_first=spec.day_first, choice_map=spec.choice_maps.get(fs.key)
            )
        except ValueError as exc:
            return str(exc)
    groups: tuple[str, ...] = ()
    lists: tuple[str, ...] = ()
    if spec.group_cols or spec.list_cols:
        for col in spec.group_cols:
            if names := _names(_text(cells, col, n)):
                groups += names
        for col in spec.list_cols:
            if names := _names(_text(cells, col, n)):
                lists += names
        for name in groups + lists:
            if len(name) > GROUP_NAME_MAX:
                return _too_long("Group or list name", name, GROUP_NAME_MAX)
    record = (
        phone,
        first,
        last,
        attributes_json(attributes) if attributes else "{}",
        result.region,
        build_search_text(first, last, phone, attributes),
    )
    # Groups and lists only when mapped: six fields are exactly an INSERT's parameters (no slicing per row).
    return (*record, groups, lists) if spec.group_cols or spec.list_cols else record


def normalize_block(spec: RowSpec, encoding: str, delimiter: str, data: bytes) -> tuple[int, list, list[str]]:
    """A block of whole CSV records as bytes → (record count, results as ``normalize_rows`` gives them, each
    record's cells joined by the unit separator). Workers parse the CSV themselves, so the main process only
    moves bytes."""
    text = data.decode(encoding, decode_errors(encoding))
    records = list(csv.reader(io.StringIO(text, newline=""), delimiter=delimiter or ","))
    return len(records), normalize_rows(spec, records), [UNIT_SEPARATOR.join(r) for r in records]


def normalize_rows(spec: RowSpec, rows: list) -> list:
    """``normalize_row`` over a chunk (what an import worker process runs)."""
    if not spec.choice_maps and any(f.type == "choice" for f in spec.fields):
        maps = {f.key: {c.casefold(): c for c in f.choices} for f in spec.fields if f.type == "choice"}
        object.__setattr__(spec, "choice_maps", maps)
    return [normalize_row(spec, cells) for cells in rows]
