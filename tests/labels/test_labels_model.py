from __future__ import annotations

import dataclasses
from datetime import datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from labels.layout import layout, wrap
from labels.model import (
    CHAR_EM, ELLIPSIS, MAX_CHARS, PATHS, TEMPLATES, LabelError, clean_text, clip, get_template,
    validate_lpn,
)


@pytest.mark.parametrize("lpn", ["B07-00012345", "A-00000000", "ZZZZZZZZ-99999999", "1-12345678"])
def test_valid_lpns(lpn):
    assert validate_lpn(lpn) == lpn


@pytest.mark.parametrize("lpn", [
    "", "B07", "B07-1234567", "B07-123456789", "b07-00012345", "B07_00012345", "B07-0001234X",
    "ABCDEFGHI-00012345",      # station longer than 8
    "B07-00012345\n",          # `$` would accept this
    "B07-٠٠٠١٢٣٤٥",            # Arabic-Indic digits: `\d` would accept these
    "B07->0012345", "B07-0001234>", " B07-00012345", "B07-0001\x002345", None, 12345678,
])
def test_invalid_lpns_are_refused(lpn):
    with pytest.raises(LabelError, match="invalid LPN"):
        validate_lpn(lpn)


def test_label_refuses_bad_lpn_path_date_and_reprint(label, when):
    with pytest.raises(LabelError, match="invalid LPN"):
        dataclasses.replace(label, lpn="B07-1")
    with pytest.raises(LabelError, match="unknown disposition path 'resell'.*restock"):
        dataclasses.replace(label, path="resell")
    with pytest.raises(LabelError, match="timezone-aware"):
        dataclasses.replace(label, date=when.replace(tzinfo=None))
    for bad in (-1, True, 1.5, "2"):
        with pytest.raises(LabelError, match="reprint"):
            dataclasses.replace(label, reprint=bad)


def test_every_path_has_a_title(label):
    titles = {p: dataclasses.replace(label, path=p).title for p in PATHS}
    assert titles["vendor_return"] == "VENDOR RETURN"
    assert titles["open_box"] == "OPEN BOX"
    assert len(set(titles.values())) == 9


def test_date_is_converted_to_utc(label):
    cet = datetime(2026, 11, 23, 19, 16, tzinfo=timezone(timedelta(hours=1)))
    out = dataclasses.replace(label, date=cet)
    assert out.date.utcoffset() == timedelta(0) and out.date.hour == 18


def test_label_is_frozen(label):
    with pytest.raises(dataclasses.FrozenInstanceError):
        label.sku = "x"  # type: ignore[misc]


def test_text_fields_are_cleaned_and_bounded(label):
    out = dataclasses.replace(
        label, sku="\x1b[31mSKU\x00-1\x1b[0m", description="line1\r\nline2\tend" + "y" * 500,
        lane="  ", destination="\u202eevil\u202c", grade=None,
    )
    assert out.sku == "[31mSKU-1[0m"  # ESC and NUL dropped, the rest is kept as text
    assert out.description.startswith("line1 line2 end")
    assert len(out.description) == MAX_CHARS["description"] and out.description.endswith(ELLIPSIS)
    assert out.lane is None  # nothing left after cleaning
    assert out.destination == "evil"
    assert out.grade is None


def test_clean_text_keeps_non_latin_and_normalises():
    assert clean_text("Größe 日本語 Ελλάδα") == "Größe 日本語 Ελλάδα"
    assert clean_text("e\u0301") == "\u00e9"  # NFC: one character a printer font can draw
    assert clean_text("a\x85b\u2028c") == "a b c"
    assert clean_text("\ud800x") == "x"  # a lone surrogate cannot be encoded: dropped
    assert clean_text(None) == ""


@given(st.text())
def test_clean_text_never_leaves_a_control_character(text):
    out = clean_text(text)
    assert not any(0 <= ord(c) < 0x20 or 0x7F <= ord(c) <= 0x9F for c in out)
    assert out == out.strip() and "  " not in out
    assert clean_text(out) == out
    out.encode("utf-8")  # never raises


def test_clip():
    assert clip("abcdef", 6) == "abcdef"
    assert clip("abcdefg", 6) == "abc..."
    assert clip("ab   cdefg", 7) == "ab..."  # no dangling space before the ellipsis
    assert clip("abcdef", 2) == "ab"
    with pytest.raises(ValueError):
        clip("a", -1)


def test_wrap_cuts_the_last_line():
    assert wrap("aaa bbb ccc", 7, 2) == ["aaa bbb", "ccc"]
    assert wrap("aaa bbb ccc ddd eee", 7, 2) == ["aaa bbb", "ccc..."]
    assert wrap("", 7, 2) == [""]


@pytest.mark.parametrize(("name", "dots"), [
    ("4x6-203", (812, 1218)), ("4x6-300", (1200, 1800)), ("4x2-203", (812, 406)), ("4x2-300", (1200, 600)),
])
def test_templates_have_printer_dots(name, dots):
    t = TEMPLATES[name]
    assert (t.width, t.height) == dots
    assert t.module >= 3  # >= 0.33 mm whatever the resolution


def test_layouts_scale_with_dpi():
    a, b = TEMPLATES["4x6-203"], TEMPLATES["4x6-300"]
    for key, slot in a.slots.items():
        other = b.slots[key]
        assert abs(other.y / 300 - slot.y / 203) < 0.01, key  # same place on paper
        assert other.chars == slot.chars, key  # same text at both resolutions...
    for t in TEMPLATES.values():
        for key, slot in t.slots.items():
            if key in ("rule", "barcode"):
                continue
            assert slot.chars * CHAR_EM * slot.h <= slot.w, (t.name, key)  # ...and it fits


def test_every_line_stays_on_the_label(label):
    long = dataclasses.replace(label, sku="W" * 64, description="W" * 200, destination="W" * 64,
                               lane="W" * 32, grade="W" * 16, rma_id="W" * 64, reprint=12)
    for t in TEMPLATES.values():
        for line in layout(long, t):
            assert 0 <= line.x and line.x + line.w <= t.width, (t.name, line.name)
            assert 0 <= line.y and line.y + line.h <= t.height, (t.name, line.name)


def test_unknown_template():
    with pytest.raises(LabelError, match="unknown label template '4x4'.*4x6-203"):
        get_template("4x4")

