import pytest

from campaigns.keywords import FLAGGED, HELP, NONE, OPT_IN, OPT_OUT, match_keyword, normalize


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ("stop", OPT_OUT),
        (" Stop! ", OPT_OUT),
        ("STOPP", OPT_OUT),
        ("Stopp.", OPT_OUT),
        ("stop all", OPT_OUT),
        ("STOPALL", OPT_OUT),
        ("unsubscribe", OPT_OUT),
        ("Σταμάτα", NONE),
        ("στοπ", OPT_OUT),
        ("Διαγραφή", OPT_OUT),
        ("baja", OPT_OUT),
        ("¡Baja!", OPT_OUT),
        ("стоп", OPT_OUT),
        ("Отписаться", OPT_OUT),
        ("тоқтату", OPT_OUT),
        ("start", OPT_IN),
        ("Unstop", OPT_IN),
        ("yes", OPT_IN),
        ("hjälp", HELP),
        ("HJALP", HELP),
        ("help?", HELP),
        ("info", HELP),
        ("stop sending me this rubbish", FLAGGED),
        ("please STOP", FLAGGED),
        ("thanks, see you", NONE),
        ("", NONE),
        ("!!!", NONE),
        ("stopwatch", NONE),
    ],
)
def test_whole_message_keywords(text, kind):
    assert match_keyword(text).kind == kind


def test_flagged_says_which_keyword():
    m = match_keyword("stop sending me this rubbish")
    assert m.flagged_kind == OPT_OUT and m.keyword == "stop"


def test_custom_rules_replace_defaults():
    rules = {OPT_OUT: {"en": ["HALT"]}}
    assert match_keyword("halt", rules).kind == OPT_OUT
    assert match_keyword("stop", rules).kind == NONE


def test_normalize():
    assert normalize("  Ä-Ö!! ") == "a-o"
    assert normalize("STOP\u00a0 ALL") == "stop all"
