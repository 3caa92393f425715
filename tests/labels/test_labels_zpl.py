from __future__ import annotations

import dataclasses
import re
from datetime import UTC, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from labels_support import FD_RE, HOSTILE, decode, ink_box, unicode_printer_preamble, zpl_commands, zpl_image

from labels.model import MAX_CHARS, TEMPLATES, Label, clean_text, clip
from labels.zpl import escape_field, render_zpl, unescape_field

# Field data as our renderer writes it: plain printable ASCII without ^ ~ _ \, or _XX escapes.
SAFE_FD = re.compile(rb"(?:[\x20-\x5b\x5d\x60-\x7d]|_[0-9A-F]{2})*")
OUR_COMMANDS = {b"XA", b"CI", b"PW", b"LL", b"LH", b"FO", b"A0", b"TB", b"FH", b"FD", b"FS", b"GB",
                b"BY", b"BC", b"XZ"}
TEXT_FIELDS = ("grade", "lane", "destination", "sku", "description", "station_id", "rma_id")


@pytest.fixture(scope="module")
def preamble() -> bytes:
    return unicode_printer_preamble()


def fields(zpl: bytes) -> list[str]:
    return [unescape_field(m) for m in FD_RE.findall(zpl)]


def placed(zpl: bytes) -> dict[tuple[int, int], str]:
    """Text fields by their ^FO position."""
    return {(int(x), int(y)): unescape_field(d) for x, y, d in
            re.findall(rb"\^FO(\d+),(\d+)\^A0N[^\^]*\^TB[^\^]*\^FH\^FD(.*?)\^FS", zpl)}


def barcode_payload(zpl: bytes) -> bytes:
    (payload,) = re.findall(rb"\^BC[^\^]*\^FH\^FD(.*?)\^FS", zpl)
    return payload


def assert_well_formed(zpl: bytes) -> None:
    assert zpl.startswith(b"^XA") and zpl.rstrip().endswith(b"^XZ")
    assert zpl.count(b"^XA") == 1 and zpl.count(b"^XZ") == 1
    assert b"~" not in zpl
    payloads = re.findall(rb"\^FD(.*?)\^FS", zpl, re.S)
    assert len(payloads) == zpl.count(b"^FD") == zpl.count(b"^FH^FD")  # every ^FD after ^FH
    for p in payloads:
        assert SAFE_FD.fullmatch(p), p
    # zplkit's parser, independently: one format, only the commands we mean to send.
    cmds = [c.strip() for c in zpl_commands(zpl)]
    names = {c[1:3] for c in cmds}
    assert [c for c in cmds if c.startswith(b"^XA")] == [b"^XA"]
    assert [c for c in cmds if c.startswith(b"^XZ")] == [b"^XZ"]
    assert names <= OUR_COMMANDS, names - OUR_COMMANDS


def test_escape_field():
    assert escape_field("Größe") == b"Gr_C3_B6_C3_9Fe"
    assert escape_field("^~_\\") == b"_5E_7E_5F_5C"
    assert escape_field("a\x1bb\x00") == b"a_1Bb_00"
    assert escape_field("日") == b"_E6_97_A5"
    assert escape_field("B07-00012345 <>") == b"B07-00012345 <>"
    assert unescape_field(escape_field("x^_~日\\")) == "x^_~日\\"


def test_label_fields(label):
    zpl = render_zpl(dataclasses.replace(label, reprint=3), "4x6-203")
    assert_well_formed(zpl)
    assert b"^CI28" in zpl and b"^PW812" in zpl and b"^LL1218" in zpl
    assert b"^BY3^BCN,200,N,N,N,A^FH^FDB07-00012345^FS" in zpl
    assert fields(zpl) == [
        "OPEN BOX", "REPRINT 3", "GRADE B", "LANE express", "TO Aisle 12 / Bay 4", "B07-00012345",
        "B07-00012345", "SKU SKU-4711-BLK-XL", "Wireless headphones, black, with", "charging case",
        "RMA-2026-000123", "B07  2026-11-23 18:16 UTC",
    ]


def test_no_reprint_line_on_a_first_print(label):
    assert not any("REPRINT" in f for f in fields(render_zpl(label)))


@pytest.mark.parametrize("name", TEMPLATES)
def test_round_trip_through_a_zpl_rasteriser(label, name):
    t = TEMPLATES[name]
    zpl = render_zpl(dataclasses.replace(label, reprint=1), name)
    img = zpl_image(zpl, t)
    assert img.size == (t.width, t.height)
    assert decode(img) == ["B07-00012345"]


@pytest.mark.parametrize("hostile", HOSTILE)
@pytest.mark.parametrize("field", TEXT_FIELDS)
def test_hostile_text_stays_data(label, hostile, field):
    zpl = render_zpl(dataclasses.replace(label, **{field: hostile}), "4x6-203")
    assert_well_formed(zpl)
    assert barcode_payload(zpl) == b"B07-00012345"  # the barcode payload is untouched
    decoded = fields(zpl)
    cleaned = clean_text(hostile, MAX_CHARS[field])
    slots = TEMPLATES["4x6-203"].slots
    if field == "description":
        d = slots["description"]
        lines = [t for (x, y), t in sorted(placed(zpl).items(), key=lambda kv: kv[0][1])
                 if x == d.x and d.y <= y < d.y + d.lines * d.pitch]
        assert 1 <= len(lines) <= d.lines and all(len(t) <= d.chars for t in lines)
        joined = "".join(lines).replace(" ", "")
        if joined.endswith("..."):  # cut: what is left is the start of the text
            assert len(cleaned) > 2 * d.chars
            assert cleaned.replace(" ", "").startswith(joined.removesuffix("..."))
        else:
            assert joined == cleaned.replace(" ", "")
    else:
        prefix, slot = {"grade": ("GRADE ", "grade"), "lane": ("LANE ", "lane"),
                        "destination": ("TO ", "destination"), "sku": ("SKU ", "sku"),
                        "station_id": ("", "station"), "rma_id": ("", "rma")}[field]
        text = cleaned + ("  2026-11-23 18:16 UTC" if field == "station_id" else "")
        assert clip(prefix + text, slots[slot].chars) in decoded


def test_specific_hostile_values_read_back_exactly(label):
    zpl = render_zpl(dataclasses.replace(
        label, lane="^XZ^XA^FDpwned", destination="~JA", sku="Größe 日本語", rma_id="_5E>"), "4x6-203")
    assert_well_formed(zpl)
    assert b"^FH^FDLANE _5EXZ_5EXA_5EFDpwned^FS" in zpl
    assert b"^FH^FDTO _7EJA^FS" in zpl
    assert b"^FH^FDSKU Gr_C3_B6_C3_9Fe _E6_97_A5_E6_9C_AC_E8_AA_9E^FS" in zpl
    assert b"^FH^FD_5F5E>^FS" in zpl
    assert {"LANE ^XZ^XA^FDpwned", "TO ~JA", "SKU Größe 日本語", "_5E>"} <= set(fields(zpl))


@settings(max_examples=200, deadline=None)
@given(sku=st.text(), description=st.text(), lane=st.text(max_size=40))
def test_any_text_stays_data(sku, description, lane):
    label = Label(lpn="X1-00000001", path="restock", sku=sku, description=description, lane=lane,
                  station_id="X1", date=datetime(2026, 1, 1, tzinfo=UTC))
    zpl = render_zpl(label, "4x2-203")
    assert_well_formed(zpl)
    decoded = fields(zpl)
    assert decoded.count("X1-00000001") == 2
    sku_clean = clean_text(sku, MAX_CHARS["sku"])
    if sku_clean:
        assert clip("SKU " + sku_clean, TEMPLATES["4x2-203"].slots["sku"].chars) in decoded


@pytest.mark.parametrize("name", TEMPLATES)
def test_hostile_label_still_scans(label, preamble, name):
    """Every field hostile at once, rasterised on a 'printer' with a Unicode (box) font."""
    hostile = dataclasses.replace(
        label, grade="^XZ^XA^FDpwned", lane="~JA>", destination="_ \x1b[31m\\&", sku="Größe 日本語",
        description="日本語 " * 60, rma_id="x" * 300, reprint=2)
    zpl = render_zpl(hostile, name)
    assert_well_formed(zpl)
    assert decode(zpl_image(zpl, TEMPLATES[name], preamble)) == ["B07-00012345"]


def test_ascii_hostile_label_scans_with_the_resident_font(label):
    hostile = dataclasses.replace(label, grade="^XZ^XA", lane="~JA", destination="_5E_",
                                  sku=">:>5" * 10, description="%" * 200, rma_id="W" * 64)
    t = TEMPLATES["4x6-203"]
    img = zpl_image(render_zpl(hostile, t), t)
    assert decode(img) == ["B07-00012345"]
    # ^TB keeps even the widest glyphs inside the text boxes (right edge at x + w = 788).
    assert ink_box(img)[2] <= t.slots["sku"].x + t.slots["sku"].w


def test_long_path_title_is_narrowed_not_cut(label):
    zpl = render_zpl(dataclasses.replace(label, path="vendor_return"), "4x6-203")
    assert fields(zpl)[0] == "VENDOR RETURN"
    m = re.search(rb"\^A0N,120,(\d+)\^TBN,764,\d+\^FH\^FDVENDOR RETURN", zpl)
    assert m and int(m.group(1)) < 120
