"""Placeholders in campaign texts: ``{first_name}``, ``{last_name}``, any declared ``ContactField`` key, with a
fallback after a bar (``{first_name|there}``). ``{{`` and ``}}`` write literal braces.

Parsing happens once per text (``Template``); rendering a contact is then a cheap join, so a million messages
render in seconds. Unknown keys and stray braces are compose-time errors (``TemplateError``), never a message
sent with a raw ``{frist_name}`` in it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import cached_property
from typing import Any

BUILTIN_KEYS = ("first_name", "last_name")
_TOKEN = re.compile(r"\{\{|\}\}|\{\s*([A-Za-z0-9_-]+)\s*(?:\|([^{}]*))?\}")


class TemplateError(ValueError):
    """The text cannot be rendered: unknown placeholders or unbalanced braces. ``problems`` lists each one."""

    def __init__(self, problems: list[str]):
        self.problems = problems
        super().__init__("; ".join(problems))


@dataclass(frozen=True)
class Placeholder:
    key: str
    fallback: str | None  # None: no fallback given (an empty value renders as nothing)
    raw: str  # as written, e.g. "{first_name|there}"

    @property
    def is_builtin(self) -> bool:
        return self.key in BUILTIN_KEYS


class Template:
    """A parsed text: literal parts and placeholders, in order."""

    def __init__(self, text: str):
        self.text = text
        parts: list[str | Placeholder] = []
        problems: list[str] = []
        pos = 0
        for m in _TOKEN.finditer(text):
            literal = text[pos : m.start()]
            problems.extend(_stray_braces(literal))
            parts.append(literal)
            tok = m.group(0)
            if tok == "{{":
                parts.append("{")
            elif tok == "}}":
                parts.append("}")
            else:
                fallback = m.group(2)
                parts.append(Placeholder(m.group(1), fallback.strip() if fallback is not None else None, tok))
            pos = m.end()
        tail = text[pos:]
        problems.extend(_stray_braces(tail))
        parts.append(tail)
        self.parts: list[str | Placeholder] = [p for p in parts if p != ""]
        self.syntax_problems = problems

    @cached_property
    def placeholders(self) -> list[Placeholder]:
        return [p for p in self.parts if isinstance(p, Placeholder)]

    @cached_property
    def keys(self) -> list[str]:
        seen: dict[str, None] = {}
        for p in self.placeholders:
            seen.setdefault(p.key, None)
        return list(seen)

    @property
    def is_static(self) -> bool:
        """True when the text has no placeholders: every recipient gets the same text (rendered in SQL)."""
        return not self.placeholders

    @cached_property
    def static_text(self) -> str:
        return "".join(p for p in self.parts if isinstance(p, str)) if self.is_static else self.text

    def problems(self, known_keys: Iterable[str]) -> list[str]:
        """Every reason this text cannot be sent, as sentences for the form."""
        known = set(BUILTIN_KEYS) | set(known_keys)
        problems = list(self.syntax_problems)
        unknown = [p.raw for p in self.placeholders if p.key not in known]
        if unknown:
            listed = ", ".join(dict.fromkeys(unknown))
            problems.append(
                f"Unknown placeholder{'s' if len(set(unknown)) > 1 else ''} {listed}. "
                f"Use {{first_name}}, {{last_name}} or a declared contact field"
                + (f" ({', '.join('{' + k + '}' for k in sorted(set(known_keys)))})" if known_keys else "")
                + "."
            )
        return problems

    def validate(self, known_keys: Iterable[str]) -> None:
        problems = self.problems(known_keys)
        if problems:
            raise TemplateError(problems)

    def render(self, values: Mapping[str, Any]) -> str:
        """Render with ``values`` (key → value); empty values take the fallback, or nothing."""
        out: list[str] = []
        for p in self.parts:
            if isinstance(p, str):
                out.append(p)
                continue
            value = values.get(p.key)
            text = "" if value is None else str(value).strip()
            if not text and p.fallback is not None:
                text = p.fallback
            out.append(text)
        return "".join(out)

    def missing(self, values: Mapping[str, Any]) -> list[str]:
        """Keys without a fallback whose value is empty for this recipient."""
        return [
            key for key in self.keys_without_fallback if values.get(key) is None or not str(values.get(key)).strip()
        ]

    @cached_property
    def keys_without_fallback(self) -> list[str]:
        """Keys used at least once without a fallback (a recipient without a value gets an empty string)."""
        return list(dict.fromkeys(p.key for p in self.placeholders if p.fallback is None))

    def sample(self) -> str:
        """The text with every placeholder shown as its fallback or ``[key]`` (for previews without contacts)."""
        return "".join(p if isinstance(p, str) else (p.fallback if p.fallback else f"[{p.key}]") for p in self.parts)


def _stray_braces(literal: str) -> list[str]:
    if "{" not in literal and "}" not in literal:
        return []
    snippet = literal.strip()
    if len(snippet) > 30:
        idx = min(i for i in (literal.find("{"), literal.find("}")) if i >= 0)
        snippet = literal[max(0, idx - 10) : idx + 20].strip()
    return [
        f"Unrecognised brace in “{snippet}”: placeholders look like {{first_name}} or {{first_name|there}}; "
        "write {{ and }} for literal braces."
    ]


def contact_values(contact) -> dict[str, Any]:
    """Placeholder values of a Contact instance (or any object with the same attributes)."""
    values = dict(getattr(contact, "attributes", None) or {})
    values["first_name"] = getattr(contact, "first_name", "")
    values["last_name"] = getattr(contact, "last_name", "")
    return values


def row_values(first_name: str, last_name: str, attributes: Mapping[str, Any] | None) -> dict[str, Any]:
    values = dict(attributes or {})
    values["first_name"] = first_name
    values["last_name"] = last_name
    return values


def declared_keys() -> list[str]:
    from contacts.models import ContactField

    return list(ContactField.objects.values_list("key", flat=True))
