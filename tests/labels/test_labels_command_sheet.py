from __future__ import annotations

import io

import pytest
from labels_support import decode, pdf_image
from PIL import Image

from labels.command_sheet import BASE_COMMANDS, default_commands, render_command_sheet
from labels.model import LabelError

GRADES = [("A", "Like new"), ("B", "Very good"), ("C", "Good"), ("D", "Poor"), ("F", "Not working / salvage")]


def test_default_commands():
    cmds = default_commands(GRADES)
    codes = [c for c, _ in cmds]
    assert codes == ["CMD:ALLPASS", "CMD:PASS", "CMD:FAIL", "CMD:NA", "CMD:BACK", "CMD:OPTION:1", "CMD:OPTION:2",
                     "CMD:OPTION:3", "CMD:OPTION:4", "CMD:PHOTO", "CMD:DONE", "CMD:SEARCH", "CMD:CLOSE", "CMD:CANCEL", "CMD:REPRINT",
                     "CMD:LOGOUT", "CMD:GRADE:A", "CMD:GRADE:B", "CMD:GRADE:C", "CMD:GRADE:D", "CMD:GRADE:F"]
    assert dict(cmds)["CMD:GRADE:F"] == "Grade F: Not working / salvage"


@pytest.mark.parametrize("code", ["", "A B", "A:B", "Ä", "X" * 17, "\x1b"])
def test_grade_codes_that_cannot_be_commands(code):
    with pytest.raises(LabelError, match="grade code"):
        default_commands([(code, "x")])


def test_png_sheet_scans_every_command():
    cmds = default_commands(GRADES)
    img = Image.open(io.BytesIO(render_command_sheet(cmds, "png")))
    # Two pages of 8.27 x 11 in at 300 dpi (fits A4 and Letter), stacked: 21 commands.
    assert img.size == (2481, 2 * 3300)
    assert sorted(decode(img)) == sorted(c for c, _ in cmds)


def test_pdf_sheet_scans_every_command_on_every_page():
    pytest.importorskip("pypdfium2", reason="PDF rasteriser for tests (pip install pypdfium2)")
    import pypdfium2

    cmds = BASE_COMMANDS + [(f"CMD:GRADE:G{i}", f"Grade G{i}") for i in range(12)]  # more than a page
    pdf = render_command_sheet(cmds, "pdf")
    pages = len(pypdfium2.PdfDocument(pdf))
    assert pages >= 2
    found = [code for page in range(pages) for code in decode(pdf_image(pdf, 200, page))]
    assert sorted(found) == sorted(c for c, _ in cmds)


def test_png_sheet_stacks_pages():
    cmds = [(f"CMD:GRADE:G{i}", "x") for i in range(14)]
    img = Image.open(io.BytesIO(render_command_sheet(cmds, "png")))
    assert img.size == (2481, 2 * 3300)
    assert len(decode(img)) == 14


def test_hostile_meaning_is_cleaned_and_long_codes_still_fit():
    cmds = [("CMD:GRADE:ABCDEFGHIJKLMNOP", "\x1b[31m" + "日本語 " * 100), ("CMD:NA", "^XA~JA")]
    img = Image.open(io.BytesIO(render_command_sheet(cmds, "png")))
    assert sorted(decode(img)) == ["CMD:GRADE:ABCDEFGHIJKLMNOP", "CMD:NA"]


@pytest.mark.parametrize(("cmds", "fmt", "message"), [
    ([("CMD:PASS", "x")], "svg", "format"),
    ([], "png", "no commands"),
    ([("CMD:\x1bPASS", "x")], "png", "printable ASCII"),
    ([("CMD:PÄSS", "x")], "png", "printable ASCII"),
    ([(" CMD:PASS", "x")], "png", "printable ASCII"),
    ([("C" * 49, "x")], "png", "printable ASCII"),
])
def test_bad_sheets_are_refused(cmds, fmt, message):
    with pytest.raises(LabelError, match=message):
        render_command_sheet(cmds, fmt)
