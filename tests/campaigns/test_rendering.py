"""Placeholders: built-in and declared keys, fallbacks, escapes, compose-time errors."""

import pytest

from campaigns.rendering import Template, TemplateError, row_values


def test_render_with_values_fallbacks_and_escapes():
    t = Template("Hi {first_name|there}, {last_name}! Your {city} code: {{SALE}}")
    assert t.keys == ["first_name", "last_name", "city"]
    assert not t.is_static
    assert t.render(row_values("Anna", "Berg", {"city": "Lund"})) == "Hi Anna, Berg! Your Lund code: {SALE}"
    assert t.render(row_values("", "", {})) == "Hi there, ! Your  code: {SALE}"
    assert t.missing(row_values("", "", {"city": " "})) == ["last_name", "city"]


def test_static_text_has_no_placeholders():
    t = Template("Sale {{today}} only")
    assert t.is_static and t.static_text == "Sale {today} only"


def test_fallback_may_contain_spaces_and_numbers():
    t = Template("{ first_name | dear customer 1 }")
    assert t.render({"first_name": None}) == "dear customer 1"
    assert t.render({"first_name": 42}) == "42"


def test_unknown_placeholders_and_stray_braces_are_errors():
    t = Template("Hi {frist_name}, {first_name} {city} {")
    problems = t.problems(["city"])
    assert any("{frist_name}" in p and "Unknown placeholder" in p for p in problems)
    assert any("brace" in p for p in problems)
    with pytest.raises(TemplateError):
        t.validate(["city"])
    assert Template("Hi {first_name|x}").problems([]) == []


def test_sample_shows_fallbacks_or_keys():
    assert Template("Hi {first_name|there} from {city}").sample() == "Hi there from [city]"
