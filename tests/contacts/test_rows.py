"""contacts.rows: reading one row's values (numbers, dates, choices, names) the same way everywhere."""

import json

import pytest

from contacts.rows import (
    FieldSpec,
    RowSpec,
    attributes_json,
    normalize_block,
    normalize_row,
    parse_date,
    parse_number,
)


@pytest.mark.parametrize(
    ("text", "expected"),
    [("12", 12), ("1 234", 1234), ("1,5", 1.5), ("1.234,5", 1234.5), ("1,234.5", 1234.5), ("-3", -3), ("0.25", 0.25)],
)
def test_numbers(text, expected):
    assert parse_number(text) == expected


@pytest.mark.parametrize("text", ["abc", "1,2,3", "NaN", "inf", ""])
def test_not_numbers(text):
    with pytest.raises(ValueError, match="not a number"):
        parse_number(text)


def test_dates():
    assert parse_date("2024-05-17") == "2024-05-17"
    assert parse_date("2024-05-17 00:00:00") == "2024-05-17"
    assert parse_date("17/05/2024") == "2024-05-17"
    assert parse_date("05/17/2024", day_first=False) == "2024-05-17"
    assert parse_date("17.5.2024") == "2024-05-17"
    with pytest.raises(ValueError, match="exists"):
        parse_date("2023-02-29")
    with pytest.raises(ValueError, match="not a date"):
        parse_date("tomorrow")


def test_attributes_json_matches_the_json_module():
    for value in ({"a": 'quote " and \\ and\nnewline', "b": 12, "c": 1.5, "d": "Åsa ☃"}, {"big": 10**30}):
        assert json.loads(attributes_json(value)) == value
        assert attributes_json(value) == json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def test_row_with_control_characters_and_padding():
    spec = RowSpec(phone_col=0, first_col=1, last_col=2, default_country="SE")
    record = normalize_row(spec, [" 0701234567 ", "\x00Anna\x07 ", "  Berg"])
    assert record[:3] == ("+46701234567", "Anna", "Berg")
    assert normalize_row(spec, ["", " ", ""]) is None
    assert normalize_row(spec, []) is None


def test_groups_only_when_mapped():
    plain = normalize_row(RowSpec(phone_col=0, default_country="SE"), ["0701234567"])
    assert len(plain) == 6
    grouped = normalize_row(RowSpec(phone_col=0, group_cols=(1,), default_country="SE"), ["0701234567", "A; B,C"])
    assert grouped[6] == ("A", "B", "C")


def test_block_parsing_keeps_row_order_and_original_cells():
    spec = RowSpec(phone_col=0, fields=(FieldSpec(1, "n", "N", "number"),), default_country="SE")
    count, results, raws = normalize_block(spec, "utf-8", ";", b'0701234567;1\n\nabc;"2;3"\n')
    assert count == 3
    assert results[1] is None
    assert results[2] == "Phone: Not a phone number: “abc” contains letters."
    assert raws[2].split("\x1f") == ["abc", "2;3"]
