"""Opt-out / opt-in / help keyword matching for inbound replies.

A reply counts as a keyword only when the WHOLE message is the keyword (``"stop"``, ``" Stop! "``,
``"STOPP"``); matching ignores case, accents, surrounding spaces and punctuation. A longer message that
contains a keyword as a word (``"stop sending me this rubbish"``) is not acted on but flagged for a human.

Default lists cover English plus the markets of our providers (Swedish, Greek, Spanish, Russian, Kazakh);
the workspace replaces any (kind, language) list with its own (``smsportal.models.KeywordRule``, merged here by
``merge_rules`` and passed as ``match_keyword(text, rules=...)``).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

OPT_OUT = "opt_out"
OPT_IN = "opt_in"
HELP = "help"
FLAGGED = "flagged"
NONE = "none"

DEFAULT_KEYWORDS: dict[str, dict[str, tuple[str, ...]]] = {
    OPT_OUT: {
        "en": ("STOP", "STOPALL", "STOP ALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT", "OPTOUT", "OPT OUT"),
        "sv": ("STOPP", "AVSLUTA", "AVREGISTRERA", "SLUTA"),
        "el": ("ΣΤΟΠ", "ΔΙΑΓΡΑΦΗ", "ΑΠΕΓΓΡΑΦΗ", "ΤΕΛΟΣ"),
        "es": ("BAJA", "ALTO", "PARAR", "CANCELAR", "DETENER"),
        "ru": ("СТОП", "ОТПИСАТЬСЯ", "ОТПИСКА", "ОТМЕНА"),
        "kk": ("ТОҚТАТУ", "ТОҚТА", "БАС ТАРТУ"),
    },
    OPT_IN: {
        "en": ("START", "UNSTOP", "YES", "SUBSCRIBE"),
        "sv": ("STARTA", "PRENUMERERA"),
        "el": ("ΕΝΑΡΞΗ", "ΕΓΓΡΑΦΗ"),
        "es": ("ALTA", "INICIAR", "SUSCRIBIR"),
        "ru": ("СТАРТ", "ПОДПИСАТЬСЯ"),
        "kk": ("БАСТАУ", "ЖАЗЫЛУ"),
    },
    HELP: {
        "en": ("HELP", "INFO"),
        "sv": ("HJÄLP",),
        "el": ("ΒΟΗΘΕΙΑ",),
        "es": ("AYUDA",),
        "ru": ("ПОМОЩЬ", "ИНФО"),
        "kk": ("КӨМЕК",),
    },
}

KIND_LABELS = {OPT_OUT: "Opt-out", OPT_IN: "Opt-in", HELP: "Help"}
LANGUAGE_NAMES = {
    "en": "English",
    "sv": "Swedish",
    "el": "Greek",
    "es": "Spanish",
    "ru": "Russian",
    "kk": "Kazakh",
}
KEYWORD_MAX_LENGTH = 50  # InboundMessage.matched_keyword

_PUNCT_EDGES = re.compile(r"^[\W_]+|[\W_]+$", re.UNICODE)
_SPACES = re.compile(r"[\s\u00a0]+", re.UNICODE)
_WORDS = re.compile(r"[^\W_]+", re.UNICODE)


def normalize(text: str) -> str:
    """Case-folded, accent-free, trimmed of surrounding spaces and punctuation, inner spaces collapsed."""
    decomposed = unicodedata.normalize("NFKD", text or "")
    stripped = "".join(c for c in decomposed if not unicodedata.combining(c))
    folded = unicodedata.normalize("NFC", stripped).casefold()
    return _SPACES.sub(" ", _PUNCT_EDGES.sub("", folded.strip())).strip()


@dataclass(frozen=True)
class KeywordMatch:
    kind: str  # opt_out, opt_in, help, flagged or none
    keyword: str = ""  # the normalized keyword matched (or mentioned, for flagged)
    language: str = ""
    flagged_kind: str = ""  # for FLAGGED: which kind of keyword the message mentions


def _index(rules: Mapping[str, Mapping[str, Iterable[str]]]) -> dict[str, tuple[str, str]]:
    index: dict[str, tuple[str, str]] = {}
    for kind in (OPT_OUT, OPT_IN, HELP):  # opt-out first: it wins any overlap
        for language, words in rules.get(kind, {}).items():
            for word in words:
                index.setdefault(normalize(word), (kind, language))
    return index


_DEFAULT_INDEX = _index(DEFAULT_KEYWORDS)


def match_keyword(text: str, rules: Mapping[str, Mapping[str, Iterable[str]]] | None = None) -> KeywordMatch:
    index = _DEFAULT_INDEX if rules is None else _index(rules)
    norm = normalize(text)
    if not norm:
        return KeywordMatch(NONE)
    hit = index.get(norm)
    if hit:
        return KeywordMatch(hit[0], norm, hit[1])
    words = _WORDS.findall(norm)
    # multi-word keywords ("stop all") and single words inside a longer message
    for size in (2, 1):
        for i in range(len(words) - size + 1):
            candidate = " ".join(words[i : i + size])
            hit = index.get(candidate)
            if hit and hit[0] in (OPT_OUT, OPT_IN):
                return KeywordMatch(FLAGGED, candidate, hit[1], flagged_kind=hit[0])
    return KeywordMatch(NONE)


def merge_rules(
    overrides: Iterable[tuple[str, str, Iterable[str], bool]],
    defaults: Mapping[str, Mapping[str, Iterable[str]]] = DEFAULT_KEYWORDS,
) -> dict[str, dict[str, tuple[str, ...]]]:
    """The lists in force: ``defaults`` with each (kind, language, words, active) override replacing its pair.
    An inactive override switches its pair off (no keyword of it is recognised)."""
    rules: dict[str, dict[str, tuple[str, ...]]] = {
        kind: {lang: tuple(words) for lang, words in langs.items()} for kind, langs in defaults.items()
    }
    for kind, language, words, active in overrides:
        rules.setdefault(kind, {})[language] = tuple(words) if active else ()
    return rules


_SPLIT = re.compile(r"[,;\n\r]+")


def parse_keywords(text: str) -> list[str]:
    """A typed list (comma, semicolon or one per line) → keywords as typed, upper-cased for display, without
    repeats (compared normalized). Raises ValueError naming a keyword that is empty once punctuation is gone
    or too long."""
    seen: dict[str, str] = {}
    for part in _SPLIT.split(text or ""):
        word = _SPACES.sub(" ", part).strip()
        if not word:
            continue
        norm = normalize(word)
        if not norm:
            raise ValueError(f"“{word}” has no letters or digits: it could never match a reply.")
        if len(norm) > KEYWORD_MAX_LENGTH:
            raise ValueError(f"“{word[:60]}” is longer than {KEYWORD_MAX_LENGTH} characters.")
        seen.setdefault(norm, word.upper())
    return list(seen.values())
