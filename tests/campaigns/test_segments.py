"""GSM-7 / UCS-2 counting against the vectors of protocol-notes §5, plus the composer's helpers."""

import pytest

from campaigns.segments import control_characters, count_segments, segments_of, to_gsm

VECTORS = [
    ("a" * 160, "GSM-7", 1),
    ("a" * 161, "GSM-7", 2),
    ("a" * 159 + "€", "GSM-7", 2),  # 161 septets
    ("a" * 152 + "€" + "b" * 152, "GSM-7", 3),  # the escape pair is never split
    ("я" * 70, "UCS-2", 1),
    ("я" * 71, "UCS-2", 2),  # 67 + 4
    ("😀" * 35, "UCS-2", 1),  # 70 UTF-16 units
    ("😀" * 36, "UCS-2", 2),
    ("ç", "UCS-2", 1),  # only Ç is GSM
]


@pytest.mark.parametrize(("text", "encoding", "segments"), VECTORS)
def test_protocol_notes_vectors(text, encoding, segments):
    info = count_segments(text)
    assert (info.encoding, info.segments) == (encoding, segments)
    assert segments_of(text) == segments


def test_counter_details():
    info = count_segments("Hi {}")
    assert (info.units, info.remaining) == (7, 153)  # braces are extension characters: 2 septets each
    assert count_segments("a" * 153 * 2).segments == 2
    assert count_segments("a" * 307).segments == 3
    assert count_segments("a" * 66 + "😀" + "a" * 66).segments == 3  # 134 units, but the pair never splits
    assert count_segments("Größe ΔΦ").encoding == "GSM-7"
    assert count_segments("").segments == 1


def test_non_gsm_characters_are_named_in_order():
    info = count_segments("It’s “great” – ok…")
    assert info.encoding == "UCS-2"
    assert info.non_gsm == ("’", "“", "”", "–", "…")


def test_fix_up_replaces_look_alikes_with_gsm():
    fixed = to_gsm("It’s “great” — ok…\u00a0now")
    assert fixed == 'It\'s "great" - ok... now'
    assert count_segments(fixed).encoding == "GSM-7"
    assert to_gsm("Привет") == "Привет"  # no GSM equivalent: left alone (and still named)


def test_control_characters_are_found():
    assert control_characters("a\x1bb\x00c\n\r\t\f") == ["\x1b", "\x00"]
