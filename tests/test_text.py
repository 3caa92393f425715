"""dockstation.text.clean: nothing from outside can drive the terminal, reorder or hide text (issue 14, item 9)."""

from __future__ import annotations

import unicodedata

from hypothesis import given, settings
from hypothesis import strategies as st

from dockstation.text import bounded, clean, escape_surrogates, hidden_chars

ANY_CHAR = st.characters(exclude_categories=())
# What an attacker reaches for: bidi controls, zero-width characters, separators, escapes.
TRICKS = st.sampled_from([
    "\u202e", "\u202d", "\u202a", "\u202b", "\u202c", "\u2066", "\u2067", "\u2068", "\u2069",
    "\u200e", "\u200f", "\u061c", "\u200b", "\u200c", "\u200d", "\u2060", "\ufeff", "\u00ad",
    "\u2028", "\u2029", "\U000e0041", "\u3164", "\x1b[2J", "\x1b]2;PWNED\x07", "\x9b31m", "\udce9",
])
HOSTILE = st.lists(st.one_of(st.text(ANY_CHAR, max_size=8), TRICKS), max_size=12).map("".join)
NEVER_SHOWN = {"Cc", "Cf", "Zl", "Zp", "Cs"}


def test_bidi_override_zero_width_and_separators_are_gone():
    assert clean("RMA-1\u202e321") == "RMA-1321"
    assert clean("LP\u200bN\u200d-\ufeff1") == "LPN-1"
    assert clean("line one\u2028line two\u2029end") == "line one line two end"
    assert clean("\u2066evil\u2069 \u00adsoft") == "evil soft"
    assert clean("name\u3164") == "name"


def test_lone_surrogates_are_shown_as_the_bytes_they_stand_for():
    raw = b"RMA-\xe9".decode("utf-8", "surrogateescape")
    assert clean(raw) == "RMA-\\xe9"
    assert escape_surrogates("a\ud800b") == "a\\ud800b"
    assert bounded(raw) == "RMA-\\xe9"


def test_ordinary_text_is_kept_as_it_is():
    for text in ["Café crème 128GB", "Ünïcödé ✓ ⚠", "日本語の説明", "שלום עולם", "مرحبا", "GS1 <GS> 01"]:
        assert clean(text) == text
    assert clean("01\x1d21ABC") == "01<GS>21ABC"


@settings(max_examples=500, deadline=None)
@given(HOSTILE)
def test_clean_never_lets_a_control_format_separator_or_surrogate_through(text):
    out = clean(text, limit=None)
    assert not [c for c in out if unicodedata.category(c) in NEVER_SHOWN]
    assert "\x1b" not in out and not hidden_chars(out)
    out.encode("utf-8")  # a UTF-8 terminal can take it
    assert clean(out, limit=None) == out  # stable: cleaning twice changes nothing


@settings(max_examples=200, deadline=None)
@given(HOSTILE, st.integers(1, 80))
def test_clean_is_one_bounded_line(text, limit):
    out = clean(text, limit=limit)
    assert len(out) <= limit and "\n" not in out and "\r" not in out
