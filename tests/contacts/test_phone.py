"""contacts.phone: E.164 normalization, spreadsheet damage, and the fast path against phonenumbers itself."""

import random

import phonenumbers
import pytest
from phonenumbers import phonenumberutil

from contacts.phone import normalize_phone, parse_and_validate


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("0701234567", "+46701234567"),
        ("070-123 45 67", "+46701234567"),
        ("(070) 123 45 67", "+46701234567"),
        ("070.123.45.67", "+46701234567"),
        ("+46 70 123 45 67", "+46701234567"),
        ("+46 (0)70 123 45 67", "+46701234567"),
        ("0046701234567", "+46701234567"),  # 00 prefix
        ("46701234567", "+46701234567"),  # international without "+"
        ("701234567", "+46701234567"),  # leading zero lost by a spreadsheet
        ("46701234567.0", "+46701234567"),  # number cell exported as float
        ("4.6701234567E+10", "+46701234567"),  # scientific notation with every digit kept
        ("+30 691 234 5678", "+306912345678"),
        ("00306912345678", "+306912345678"),
        ("306912345678", "+306912345678"),  # foreign number that lost its "+"
        ("+1 (415) 555-2671", "+14155552671"),
        ("\u00a0+46\u00a070\u00a0123\u00a045\u00a067 ", "+46701234567"),  # non-breaking spaces
        (46701234567, "+46701234567"),  # an int cell
        (46701234567.0, "+46701234567"),  # a float cell (XLSX)
    ],
)
def test_normalizes_to_e164(raw, expected):
    result = normalize_phone(raw, "SE")
    assert result.error == ""
    assert result.e164 == expected


def test_region_is_where_the_number_is_valid():
    assert normalize_phone("+306912345678", "SE").region == "GR"
    assert normalize_phone("+1 416 555 0123", "SE").region == "CA"
    assert normalize_phone("0701234567", "SE").region == "SE"


def test_country_override_wins_for_national_numbers():
    assert normalize_phone("6912345678", "SE", country="GR").e164 == "+306912345678"
    assert normalize_phone("+46701234567", "SE", country="GR").e164 == "+46701234567"


def test_us_default_reads_00_as_international():
    # The US IDD is 011, so phonenumbers would read 00… as national; "00" is still international to people.
    assert normalize_phone("00306912345678", "US").e164 == "+306912345678"


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        ("", "No phone number"),
        (None, "No phone number"),
        ("   ", "No phone number"),
        ("abc", "contains letters"),
        ("call me", "contains letters"),
        ("4.67e+10", "scientific notation"),
        ("4,67E+10", "scientific notation"),
        ("123", "Too short"),
        ("+999 1234567", "Unknown country code"),
        ("0701234567 ext. 12", "extension"),
        ("9" * 40, "Too long"),
        ("1" * 100_000, "100,000 characters"),
        (46.5, "Not a phone number"),
        (True, "Not a phone number"),
    ],
)
def test_refuses_with_a_reason(raw, reason):
    result = normalize_phone(raw, "SE")
    assert not result.ok
    assert result.e164 == ""
    assert reason in result.error


def test_unknown_default_country_is_a_reason_not_an_exception():
    result = normalize_phone("0701234567", "XX")
    assert not result.ok
    assert "Unknown country" in result.error


def test_national_number_without_default_country():
    result = normalize_phone("0701234567", "")
    assert not result.ok
    assert "default country" in result.error


def test_same_number_in_different_formats_is_one_e164():
    formats = ["0701234567", "+46 70-123 45 67", "0046701234567", "46701234567", "701234567", "(070) 1234567"]
    assert {normalize_phone(f, "SE").e164 for f in formats} == {"+46701234567"}


def _reference(digits, plus, region):
    try:
        num = phonenumbers.parse(("+" if plus else "") + digits, region or None)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_valid_number(num):
        return None
    return phonenumbers.format_number(num, phonenumbers.PhoneNumberFormat.E164), phonenumberutil.region_code_for_number(
        num
    )


def test_fast_path_agrees_with_phonenumbers_across_every_region():
    """The fast path replays phonenumbers.parse + is_valid_number; any disagreement is a bug."""
    rng = random.Random(20261126)
    regions = sorted(phonenumbers.SUPPORTED_REGIONS)
    kinds = [phonenumbers.PhoneNumberType.MOBILE, phonenumbers.PhoneNumberType.FIXED_LINE]
    cases = []
    for region in regions:
        for kind in kinds:
            example = phonenumbers.example_number_for_type(region, kind)
            if example is None:
                continue
            national = "".join(
                c for c in phonenumbers.format_number(example, phonenumbers.PhoneNumberFormat.NATIONAL) if c.isdigit()
            )
            e164 = phonenumbers.format_number(example, phonenumbers.PhoneNumberFormat.E164)[1:]
            for base in (national, e164):
                for i in range(5):
                    digits = list(base)
                    if i == 1:
                        digits[rng.randrange(len(digits))] = str(rng.randint(0, 9))
                    elif i == 2 and len(digits) > 3:
                        del digits[rng.randrange(len(digits))]
                    elif i == 3:
                        digits.insert(rng.randrange(len(digits) + 1), str(rng.randint(0, 9)))
                    elif i == 4:
                        digits = ["0", "0", *digits]
                    text = "".join(digits)
                    for default in (region, rng.choice(regions)):
                        cases.append((text, False, default))
                        cases.append((text, True, default))
    for _ in range(5000):
        text = "".join(rng.choice("0123456789") for _ in range(rng.randint(2, 17)))
        cases.append((text, rng.random() < 0.5, rng.choice(regions)))
    mismatches = []
    for digits, plus, default in cases:
        ours = parse_and_validate(digits, plus, default)
        got = (ours.e164, ours.region) if ours.ok else None
        expected = _reference(digits, plus, default)
        if got != expected:
            mismatches.append((digits, plus, default, expected, got))
    assert len(cases) > 15_000
    assert mismatches == []
