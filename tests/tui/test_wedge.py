"""WedgeDetector: the pure rule that tells a scanner's burst from a person typing (no Textual)."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from dockstation.config import WedgeConfig
from dockstation.scanners.wedge import MAX_HELD, Release, ScanCode, WedgeDetector

GS = "\x1d"
KEYS = {"\r": ("enter", "\r"), "\n": ("ctrl+j", "\n"), "\t": ("tab", "\t"),
        GS: ("ctrl+right_square_bracket", GS), "\x1b": ("escape", "\x1b"), "\x00": ("ctrl+@", "\x00"),
        "\x11": ("ctrl+q", "\x11"), "\x03": ("ctrl+c", "\x03")}


def key_of(ch: str) -> tuple[str, str]:
    return KEYS.get(ch, (ch, ch))


def feed_text(det: WedgeDetector, text: str, start: float = 0.0, gap: float = 0.002) -> list:
    """Keys of `text` `gap` seconds apart; returns all actions (plus a final flush)."""
    actions = []
    at = start
    for ch in text:
        key, char = key_of(ch)
        actions += det.feed(key, char, at)
        at += gap
    actions += det.flush(at + 10)
    return actions


def scans(actions: list) -> list[str]:
    return [a.code for a in actions if isinstance(a, ScanCode)]


def released(actions: list) -> str:
    return "".join(k.character if k.character and k.character.isprintable() else f"<{k.key}>"
                   for a in actions if isinstance(a, Release) for k in a.keys)


def det(**kw) -> WedgeDetector:
    return WedgeDetector(WedgeConfig(**kw))


def test_a_burst_with_enter_is_one_scan_and_nothing_is_typed():
    actions = feed_text(det(), "RMA-2026-000001\r")
    assert scans(actions) == ["RMA-2026-000001"]
    assert released(actions) == ""


def test_two_codes_in_one_burst_give_two_scans_in_order():
    actions = feed_text(det(), "ABC123\rXYZ789\r")
    assert scans(actions) == ["ABC123", "XYZ789"]
    assert released(actions) == ""


def test_gs_survives_inside_a_gs1_code():
    code = "0104012345678901" + GS + "21SER42" + GS + "10LOT7"
    assert scans(feed_text(det(), code + "\r")) == [code]


def test_tab_and_lf_terminate_when_configured_and_not_otherwise():
    assert scans(feed_text(det(), "ABCD\tEFGH\n")) == ["ABCD", "EFGH"]
    only_enter = det(terminators=["enter"])
    actions = feed_text(only_enter, "ABCD\tEFGH\r")
    assert scans(actions) == ["ABCD\tEFGH"]  # recorded downstream as an invalid code


def test_person_typing_with_human_gaps_is_released_key_by_key():
    d = det(max_gap_ms=60)
    actions = feed_text(d, "RMA-1\r", gap=0.12)
    assert scans(actions) == []
    assert released(actions) == "RMA-1<enter>"


def test_held_keys_wait_for_the_gap_then_flush_releases_them():
    d = det(max_gap_ms=60)
    assert d.feed("a", "a", 1.0) == []  # held: might be the start of a scan
    assert d.held == 1 and d.deadline == 1.0 + 0.06
    assert d.flush(1.05) == []  # not yet: a scanner's next key could still come
    out = d.flush(1.07)
    assert released(out) == "a" and d.held == 0


def test_a_slow_key_releases_what_was_held_before_it():
    d = det(max_gap_ms=60)
    d.feed("a", "a", 0.0)
    out = d.feed("b", "b", 0.2)
    assert released(out) == "a"
    assert d.held == 1  # "b" may itself start a scan


def test_min_length_short_burst_is_typing():
    d = det(min_length=4)
    actions = feed_text(d, "AB\r")
    assert scans(actions) == [] and released(actions) == "AB<enter>"
    assert scans(feed_text(det(min_length=4), "ABCD\r")) == ["ABCD"]


def test_a_lone_enter_passes_straight_through():
    d = det()
    assert released(d.feed("enter", "\r", 0.0)) == "<enter>"
    assert d.held == 0


def test_an_f_key_on_its_own_is_a_persons_after_the_gap():
    d = det(max_gap_ms=60)
    assert d.feed("f2", None, 0.0) == []
    assert released(d.flush(0.07)) == "<f2>"


def test_an_f_key_inside_a_burst_is_an_escape_sequence_a_scanner_typed_never_a_key():
    # ESC O S typed by a scanner (a hostile QR code) is parsed by the terminal into F4 (sign out)
    d = det()
    d.feed("a", "a", 0.0)
    d.feed("f4", None, 0.001)
    assert released(d.flush(1.0)) == "a"
    actions = []
    for i, (key, char) in enumerate([("R", "R"), ("M", "M"), ("A", "A"), ("-", "-"), ("1", "1"), ("f4", None)]):
        actions += d.feed(key, char, 2.0 + i * 0.002)
    actions += d.feed("enter", "\r", 2.02)
    assert scans(actions) == ["RMA-1\x1b"]  # recorded as an invalid code, not received as RMA-1


def test_arrows_pass_at_once_even_auto_repeated():
    d = det(max_gap_ms=60)
    out = [a for i in range(5) for a in d.feed("down", None, i * 0.03)]
    assert released(out) == "<down>" * 5 and d.held == 0


def test_a_control_key_on_its_own_is_a_persons_after_the_gap():
    d = det(max_gap_ms=60)
    assert d.feed("ctrl+q", "\x11", 0.5) == [] and d.held == 1  # a burst could follow
    assert released(d.flush(0.57)) == "<ctrl+q>"
    d.feed("escape", "\x1b", 1.0)
    assert released(d.flush(1.07)) == "<escape>"


def test_backspace_passes_at_once_even_auto_repeated():
    d = det(max_gap_ms=60)
    out = [a for i in range(5) for a in d.feed("backspace", "\x7f", i * 0.03)]
    assert released(out) == "<backspace>" * 5 and d.held == 0


def test_control_characters_of_a_short_burst_are_never_keys():
    # issue 14: `ab\x11` was replayed as keys and its DC1 quit the bench
    assert released(feed_text(det(), "ab\x11")) == "ab"
    assert released(feed_text(det(), "\x11")) == "<ctrl+q>"  # alone: a person's (or the same)
    assert released(feed_text(det(min_length=4), "\x11y\r")) == "y<enter>"  # the terminator stays
    assert released(feed_text(det(), "\x1b\x11\x03")) == ""
    assert released(feed_text(det(), "\x11\r")) == "<enter>"  # with its terminator: a burst


def test_a_burst_that_starts_with_a_control_character_is_one_code():
    actions = feed_text(det(), "\x11RMA-2026-000002\r")
    assert scans(actions) == ["\x11RMA-2026-000002"] and released(actions) == ""


def test_control_characters_inside_a_burst_stay_in_the_code():
    code = "AB\x00CD\x1b]2;x\x07"
    assert scans(feed_text(det(), code + "\r")) == [code]


def test_burst_longer_than_max_duration_is_not_a_scan():
    d = det(max_duration_ms=100, max_gap_ms=60)
    actions = feed_text(d, "ABCDEFGHIJKLMNOPQRSTUVWXYZ\r", gap=0.01)  # 260 ms in all
    assert "ABCDEFGHIJKLMNOPQRSTUVWXYZ" not in scans(actions)
    assert released(actions).startswith("ABCDEFGHIJK")


def test_prefix_marks_scans_and_is_removed():
    d = det(prefix="~")
    actions = feed_text(d, "~RMA-1234\r")
    assert scans(actions) == ["RMA-1234"]
    # Without the prefix, even a fast burst is typing, and no key is held back.
    d2 = det(prefix="~")
    assert released(d2.feed("R", "R", 0.0)) == "R" and d2.held == 0
    assert scans(feed_text(det(prefix="~"), "RMA-1234\r")) == []


def test_multi_character_prefix_that_diverges_is_released():
    d = det(prefix="]X")
    actions = feed_text(d, "]Y1234\r")
    assert scans(actions) == [] and released(actions) == "]Y1234<enter>"
    assert scans(feed_text(det(prefix="]X"), "]X1234\r")) == ["1234"]


def test_min_length_counts_code_without_prefix():
    assert scans(feed_text(det(prefix="~", min_length=4), "~ABC\r")) == []
    assert scans(feed_text(det(prefix="~", min_length=4), "~ABCD\r")) == ["ABCD"]


def test_runaway_burst_is_cut_into_bounded_codes():
    d = det(max_duration_ms=1e9)
    actions = feed_text(d, "A" * (MAX_HELD + 10) + "\r", gap=0.0)
    got = scans(actions)
    assert [len(c) for c in got] == [MAX_HELD, 10]


def test_ten_kilobyte_burst_is_one_scan():
    assert [len(c) for c in scans(feed_text(det(), "x" * 10_000 + "\r", gap=0.00005))] == [10_000]


def test_reset_releases_everything_held():
    d = det()
    d.feed("a", "a", 0.0)
    d.feed("b", "b", 0.001)
    assert released(d.reset()) == "ab" and d.held == 0


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(list("abcXYZ019-\r")), st.floats(0.061, 0.5)), max_size=30))
def test_people_typing_is_never_a_scan_and_every_key_comes_out_in_order(keys):
    """Property: with gaps longer than max_gap, no scan, and all keys released in order."""
    d = det(max_gap_ms=60)
    actions, at = [], 0.0
    for ch, gap in keys:
        at += gap
        key, char = key_of(ch)
        actions += d.feed(key, char, at)
    actions += d.flush(at + 1)
    assert scans(actions) == []
    assert [k.character if k.key != "enter" else "\r" for a in actions for k in a.keys] == [c for c, _ in keys]


@settings(max_examples=200, deadline=None)
@given(st.lists(st.text(alphabet=st.characters(whitelist_categories=["Lu", "Nd"]) | st.just(GS),
                        min_size=4, max_size=40), min_size=1, max_size=5))
def test_any_burst_of_codes_comes_out_as_the_same_codes(codes):
    actions = feed_text(det(), "".join(c + "\r" for c in codes), gap=0.001)
    assert scans(actions) == codes
    assert released(actions) == ""
