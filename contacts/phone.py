"""Phone numbers to E.164, with the workspace's default country for national numbers.

``normalize_phone(raw, default_country)`` returns a ``PhoneResult``: the E.164 form and the region where the
number is valid, or a human-readable reason it was refused. It is the import bottleneck (``phonenumbers.parse``
+ ``is_valid_number`` runs at ~46k numbers/s on one core), so it has a fast path for the common case of a
number that is only digits after removing formatting (spaces, dashes, brackets, dots, a leading ``+``):

- parsing replays ``phonenumbers.parse`` step by step for ASCII digits (IDD prefix, country code, the
  "country code without plus" rule, national prefix and carrier code stripping, length checks), using the
  library's own metadata and helpers, but skipping the regex scans a free-text input needs;
- validation checks the same number descriptions ``is_valid_number`` does, with the patterns compiled once
  per region.

Anything else (letters, extensions, unusual characters) goes through ``phonenumbers`` itself. A test compares
the two paths on a large generated corpus across every region, so they cannot drift apart silently.

Spreadsheet damage is handled here too: ``46701234567.0`` (a number cell exported as float) loses its ``.0``;
a number a spreadsheet shortened to scientific notation (``4.67E+10``) is refused with a reason that says
digits were lost, because guessing them would create a wrong contact. Leading zeros a spreadsheet dropped
(``701234567`` for ``0701234567``) parse as the same national number, and an international number that lost
its ``+`` (``46701234567``) is read as international when it is not a valid national one.
"""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation
from typing import NamedTuple

import phonenumbers
from phonenumbers import PhoneMetadata, phonenumberutil
from phonenumbers.phonenumberutil import (
    COUNTRY_CODE_TO_REGION_CODE,
    SUPPORTED_REGIONS,
    NumberParseException,
    ValidationResult,
)

try:  # keep compiled metadata patterns for the life of the process (phonenumbers >= 8.13.x)
    from phonenumbers.re_util import enable_pattern_cache

    enable_pattern_cache()
except ImportError:  # pragma: no cover - older library: the re module's cache is used
    pass

__all__ = ["PhoneResult", "example_number", "is_region", "normalize_phone"]

MAX_INPUT_LENGTH = 64  # longer than any real number with formatting; longer input is not a phone number

# Characters people and spreadsheets put between digits.
_SEPARATORS = dict.fromkeys(map(ord, " \t\r\n-‐‑‒–—―().[]/\\'\"·_\u00a0\u2007\u2009\u202f\u200b\ufeff"), None)
_FLOAT_SUFFIX = re.compile(r"^(\+?\d+)\.0+$")
_SCIENTIFIC = re.compile(r"^\+?(\d)(?:[.,](\d+))?[eE]\+?(\d{1,2})$")
_LETTER = re.compile(r"[^\W\d_]")

_MIN_NSN = phonenumberutil._MIN_LENGTH_FOR_NSN
_MAX_NSN = phonenumberutil._MAX_LENGTH_FOR_NSN
_TYPE_DESCS = (
    "premium_rate",
    "toll_free",
    "shared_cost",
    "voip",
    "personal_number",
    "pager",
    "uan",
    "voicemail",
    "fixed_line",
    "mobile",
)


class PhoneResult(NamedTuple):
    e164: str  # "" when refused
    region: str  # ISO 3166 region where the number is valid ("001" for non-geographic numbers), "" if refused
    error: str  # "" when valid, else a sentence for the person who typed or imported the number

    @property
    def ok(self) -> bool:
        return not self.error


def is_region(value: str) -> bool:
    return bool(value) and value.upper() in SUPPORTED_REGIONS


def example_number(region: str) -> str:
    """A valid mobile number of ``region`` in E.164, for form placeholders."""
    num = phonenumbers.example_number_for_type(region.upper(), phonenumbers.PhoneNumberType.MOBILE)
    return phonenumbers.format_number(num, phonenumbers.PhoneNumberFormat.E164) if num else ""


# --- compiled metadata --------------------------------------------------------------------------------------


class _Desc(NamedTuple):
    lengths: frozenset
    pattern: re.Pattern


class _Region(NamedTuple):
    metadata: PhoneMetadata
    country_code: int
    cc_str: str
    general: _Desc | None
    types: tuple[_Desc, ...]
    types_by_length: dict[int, re.Pattern]  # every type pattern allowed at that length, as one alternation
    idd: re.Pattern | None
    national_prefix: re.Pattern | None
    transform_rule: str | None
    leading_digits: re.Pattern | None
    lengths: tuple[int, ...]  # general description's possible lengths, sorted
    local_lengths: frozenset


_REGIONS: dict[str, _Region | None] = {}


def _desc(desc) -> _Desc | None:
    if desc is None or not desc.national_number_pattern:
        return None
    return _Desc(frozenset(desc.possible_length or ()), re.compile(desc.national_number_pattern))


def _compile(key: str, metadata: PhoneMetadata | None) -> _Region | None:
    if metadata is None:
        _REGIONS[key] = None
        return None
    types = tuple(d for d in (_desc(getattr(metadata, name, None)) for name in _TYPE_DESCS) if d is not None)
    by_length: dict[int, re.Pattern] = {}
    for length in range(_MIN_NSN, _MAX_NSN + 1):
        patterns = [d.pattern.pattern for d in types if not d.lengths or length in d.lengths]
        if patterns:
            by_length[length] = re.compile("|".join(f"(?:{p})" for p in patterns))
    compiled = _Region(
        metadata=metadata,
        country_code=metadata.country_code,
        cc_str=str(metadata.country_code),
        general=_desc(metadata.general_desc),
        types=types,
        types_by_length=by_length,
        idd=re.compile(metadata.international_prefix) if metadata.international_prefix else None,
        national_prefix=re.compile(metadata.national_prefix_for_parsing)
        if metadata.national_prefix_for_parsing
        else None,
        transform_rule=metadata.national_prefix_transform_rule or None,
        leading_digits=re.compile(metadata.leading_digits) if metadata.leading_digits else None,
        lengths=tuple(sorted(metadata.general_desc.possible_length or ())),
        local_lengths=frozenset(metadata.general_desc.possible_length_local_only or ()),
    )
    _REGIONS[key] = compiled
    return compiled


def _region(region: str) -> _Region | None:
    try:
        return _REGIONS[region]
    except KeyError:
        return _compile(region, PhoneMetadata.metadata_for_region(region, None))


def _region_for_cc(country_code: int, region: str) -> _Region | None:
    if region == phonenumberutil.REGION_CODE_FOR_NON_GEO_ENTITY:
        key = f"cc{country_code}"
        try:
            return _REGIONS[key]
        except KeyError:
            return _compile(key, PhoneMetadata.metadata_for_nongeo_region(country_code, None))
    return _region(region)


def _matches(number: str, desc: _Desc | None) -> bool:
    """``phonenumberutil._is_number_matching_desc``: length first, then the pattern over the whole number
    (``_match`` is a prefix match that must also be a full match, i.e. a full match)."""
    if desc is None:
        return False
    if desc.lengths and len(number) not in desc.lengths:
        return False
    return desc.pattern.fullmatch(number) is not None


def _pattern_matches(number: str, desc: _Desc | None) -> bool:
    """``phonenumberutil._match_national_number`` (no length check)."""
    return desc is not None and desc.pattern.fullmatch(number) is not None


def _is_valid_nsn(nsn: str, reg: _Region) -> bool:
    """``_number_type_helper(nsn, metadata) != UNKNOWN``: the general description and at least one type."""
    if not _matches(nsn, reg.general):
        return False
    # A full match of an alternation is a full match of one of its parts, so this is any(type matches).
    pattern = reg.types_by_length.get(len(nsn))
    return pattern is not None and pattern.fullmatch(nsn) is not None


def _valid_region(country_code: int, nsn: str) -> str | None:
    """``region_code_for_number`` + ``is_valid_number_for_region``: the region where the number is valid."""
    regions = COUNTRY_CODE_TO_REGION_CODE.get(country_code)
    if not regions:
        return None
    if len(regions) == 1:
        region = regions[0]
    else:
        region = None
        for candidate in regions:
            reg = _region(candidate)
            if reg is None:
                continue
            if reg.leading_digits is not None:
                m = reg.leading_digits.match(nsn)
                if m:
                    region = candidate
                    break
            elif _is_valid_nsn(nsn, reg):
                region = candidate
                break
        if region is None:
            return None
    reg = _region_for_cc(country_code, region)
    if reg is None or reg.country_code != country_code:
        return None
    return region if _is_valid_nsn(nsn, reg) else None


# --- parsing ---------------------------------------------------------------------------------------------


def _test_length(number: str, reg: _Region):
    """``_test_number_length(number, metadata)`` for the UNKNOWN type (the general description)."""
    length = len(number)
    if length in reg.local_lengths:
        return ValidationResult.IS_POSSIBLE_LOCAL_ONLY
    lengths = reg.lengths
    if not lengths:
        return phonenumberutil._test_number_length(number, reg.metadata)
    if lengths[0] == length:
        return ValidationResult.IS_POSSIBLE
    if lengths[0] > length:
        return ValidationResult.TOO_SHORT
    if lengths[-1] < length:
        return ValidationResult.TOO_LONG
    return ValidationResult.IS_POSSIBLE if length in lengths[1:] else ValidationResult.INVALID_LENGTH


def _strip_national_prefix(number: str, reg: _Region) -> str:
    """``_maybe_strip_national_prefix_carrier_code`` (the stripped number only)."""
    prefix = reg.national_prefix
    if not number or prefix is None:
        return number
    m = prefix.match(number)
    if not m:
        return number
    viable_original = _pattern_matches(number, reg.general)
    groups = m.groups()
    if reg.transform_rule is None or not groups or groups[-1] is None:
        rest = number[m.end() :]
        if viable_original and not _pattern_matches(rest, reg.general):
            return number
        return rest
    transformed = prefix.sub(reg.transform_rule, number, count=1)
    if viable_original and not _pattern_matches(transformed, reg.general):
        return number
    return transformed


def _extract_country_code(digits: str) -> tuple[int, str]:
    if not digits or digits[0] == "0":
        return 0, digits
    for i in (1, 2, 3):
        if len(digits) < i:
            break
        cc = int(digits[:i])
        if cc in COUNTRY_CODE_TO_REGION_CODE:
            return cc, digits[i:]
    return 0, digits


def _extract(digits: str, default: _Region | None) -> tuple[int, str] | str:
    """``_maybe_extract_country_code`` for input without "+": the region's IDD prefix, then the default
    country code written without "+". (0, "") when the number is national."""
    if default is None:
        return 0, ""
    if default.idd is not None:
        m = default.idd.match(digits)
        if m and digits[m.end() : m.end() + 1] != "0":
            rest = digits[m.end() :]
            if len(rest) <= _MIN_NSN:
                return "Too short to be a phone number."
            cc, national = _extract_country_code(rest)
            if cc == 0:
                return "Unknown country code."
            return cc, national
    if digits.startswith(default.cc_str):
        potential = _strip_national_prefix(digits[len(default.cc_str) :], default)
        if (
            not _pattern_matches(digits, default.general) and _pattern_matches(potential, default.general)
        ) or _test_length(digits, default) == ValidationResult.TOO_LONG:
            return default.country_code, potential
    return 0, ""


def _fast_parse(digits: str, plus: bool, default: _Region | None) -> tuple[int, str] | str:
    """(country code, national significant number) for ASCII digits, exactly as ``phonenumbers.parse`` reads
    them; or an error sentence."""
    if len(digits) < _MIN_NSN:
        return "Too short to be a phone number."
    if plus:
        if len(digits) <= _MIN_NSN:
            return "Too short to be a phone number."
        cc, national = _extract_country_code(digits)
        if cc == 0:  # parse() retries without the "+"
            found = _extract(digits, default)
            if isinstance(found, str):
                return found
            cc, national = found
            if cc == 0:
                return f"Unknown country code in +{digits[:3]}…"
    else:
        if default is None:
            return "A national number needs a default country (set it in the workspace settings)."
        found = _extract(digits, default)
        if isinstance(found, str):
            return found
        cc, national = found
    if cc == 0:
        cc, national, reg = default.country_code, digits, default
    else:
        reg = _region_for_cc(cc, phonenumberutil.region_code_for_country_code(cc))
    if len(national) < _MIN_NSN:
        return "Too short to be a phone number."
    if reg is not None:
        potential = _strip_national_prefix(national, reg)
        if _test_length(potential, reg) not in (
            ValidationResult.TOO_SHORT,
            ValidationResult.IS_POSSIBLE_LOCAL_ONLY,
            ValidationResult.INVALID_LENGTH,
        ):
            national = potential
    if len(national) < _MIN_NSN:
        return "Too short to be a phone number."
    if len(national) > _MAX_NSN:
        return "Too long to be a phone number."
    # national_significant_number() rebuilds the same string from int + italian leading zeros.
    return cc, national


def parse_and_validate(digits: str, plus: bool, default_region: str) -> PhoneResult:
    """``phonenumbers.parse`` + ``is_valid_number`` + ``region_code_for_number`` for ASCII digits (with or
    without a leading "+"), without the retries ``normalize_phone`` adds. Tested against the library."""
    parsed = _fast_parse(digits, plus, _region(default_region) if default_region else None)
    if isinstance(parsed, str):
        return PhoneResult("", "", parsed)
    cc, nsn = parsed
    found = _valid_region(cc, nsn)
    if found is None:
        return PhoneResult("", "", _reason_invalid(cc, nsn, not plus, default_region))
    return PhoneResult(f"+{cc}{nsn}", found, "")


def _reason_invalid(cc: int, nsn: str, national_input: bool, default_region: str) -> str:
    reg = _region_for_cc(cc, phonenumberutil.region_code_for_country_code(cc))
    if reg is not None:
        length = _test_length(nsn, reg)
        if length == ValidationResult.TOO_SHORT:
            return "Too short for a phone number" + (f" in {default_region}." if national_input else f" (+{cc}).")
        if length == ValidationResult.TOO_LONG:
            return "Too long for a phone number" + (f" in {default_region}." if national_input else f" (+{cc}).")
    if national_input:
        return f"Not a valid phone number in {default_region} (add the country code, e.g. +{cc} or +44)."
    return f"Not a valid phone number for country code +{cc}."


def _slow_path(text: str, region: str) -> PhoneResult:
    """Free text (letters, extensions, odd characters): phonenumbers itself."""
    try:
        num = phonenumbers.parse(text, region or None)
    except NumberParseException as exc:
        reasons = {
            NumberParseException.INVALID_COUNTRY_CODE: "Unknown or missing country code.",
            NumberParseException.NOT_A_NUMBER: "Not a phone number.",
            NumberParseException.TOO_SHORT_AFTER_IDD: "Too short to be a phone number.",
            NumberParseException.TOO_SHORT_NSN: "Too short to be a phone number.",
            NumberParseException.TOO_LONG: "Too long to be a phone number.",
        }
        return PhoneResult("", "", reasons.get(exc.error_type, "Not a phone number."))
    if num.extension:
        return PhoneResult("", "", "Has an extension (an SMS cannot reach an extension).")
    nsn = phonenumberutil.national_significant_number(num)
    found = _valid_region(num.country_code, nsn)
    if found is None:
        return PhoneResult("", "", _reason_invalid(num.country_code, nsn, not text.startswith("+"), region))
    return PhoneResult(f"+{num.country_code}{nsn}", found, "")


def _from_spreadsheet_number(text: str) -> str | PhoneResult:
    """Undo what spreadsheets do to numbers stored as numbers."""
    m = _FLOAT_SUFFIX.match(text)
    if m:
        return m.group(1)
    m = _SCIENTIFIC.match(text)
    if m:
        decimals = m.group(2) or ""
        exponent = int(m.group(3))
        if exponent <= len(decimals):  # every digit is still there, e.g. 4.6701234567E+10
            try:
                value = Decimal(text.replace(",", ".").lstrip("+"))
            except InvalidOperation:
                return PhoneResult("", "", "Not a phone number.")
            if value == value.to_integral_value():
                return ("+" if text.startswith("+") else "") + str(int(value))
        return PhoneResult(
            "",
            "",
            f"“{text}” is a number a spreadsheet shortened to scientific notation, so digits are lost. "
            "Format the phone column as text and export the file again.",
        )
    return text


def normalize_phone(raw, default_country: str = "", *, country: str = "") -> PhoneResult:
    """E.164 + region for ``raw``; ``country`` (a per-row override) wins over ``default_country`` for national
    numbers. Never raises for bad input."""
    if raw.__class__ is not str:
        if raw is None:
            return PhoneResult("", "", "No phone number.")
        if isinstance(raw, bool):
            return PhoneResult("", "", "Not a phone number.")
        if isinstance(raw, float):
            if not raw.is_integer():
                return PhoneResult("", "", f"Not a phone number ({raw}).")
            raw = int(raw)
        raw = str(raw)
    text = raw.strip()
    if not text:
        return PhoneResult("", "", "No phone number.")
    if len(text) > MAX_INPUT_LENGTH:
        return PhoneResult("", "", f"Not a phone number (the cell has {len(text):,} characters).")
    region = country or default_country
    if region not in SUPPORTED_REGIONS:
        region = (region or "").strip().upper()
        if region and region not in SUPPORTED_REGIONS:
            return PhoneResult("", "", f"Unknown country “{region[:10]}” (use a two-letter code such as SE or GR).")

    cleaned = text.translate(_SEPARATORS)
    if "e" in cleaned or "E" in cleaned or "." in text:
        converted = _from_spreadsheet_number(text.replace(" ", ""))
        if isinstance(converted, PhoneResult):
            return converted
        if converted != text.replace(" ", ""):
            cleaned = converted
    plus = cleaned.startswith(("+", "＋"))
    digits = cleaned.lstrip("+＋") if plus else cleaned
    if not digits.isascii() or not digits.isdigit():
        if _LETTER.search(cleaned) and not re.search(r"(?i)\b(ext|x|tel|phone|mobile)\b", text):
            # Vanity numbers (1-800-FLOWERS) are not for SMS; letters mean the column is wrong.
            return PhoneResult("", "", f"Not a phone number: “{text[:40]}” contains letters.")
        return _slow_path(text, region)

    result = parse_and_validate(digits, plus, region)
    if result.ok or plus:
        return result
    # Not valid as a national number: an international number whose "+" was lost (46701234567), or an
    # international "00" prefix that is not this region's IDD (e.g. default US, where the IDD is 011).
    for candidate in (digits, digits[2:] if digits.startswith("00") else None):
        if candidate and candidate[0] != "0":
            retry = parse_and_validate(candidate, True, "")
            if retry.ok:
                return retry
    return result
