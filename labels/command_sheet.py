"""The command sheet: one Code 128 per bench command, with its meaning beside it.

Taped to the bench, it lets a grader answer the checklist with the scanner in hand. The page is
8.27 x 11 in: the width of A4 and the height of Letter, so it prints unscaled on either paper.
"""

from __future__ import annotations

import io
import re
from PIL import Image, ImageDraw

from labels.image import code128_modules, draw_code128, font, image_pdf
from labels.layout import wrap
from labels.model import CHAR_EM, LabelError, clean_text

__all__ = ["BASE_COMMANDS", "default_commands", "render_command_sheet"]

BASE_COMMANDS: list[tuple[str, str]] = [
    # First: a good unit is CMD:ALLPASS, the scan of its serial/IMEI/GTIN, then CMD:DONE.
    ("CMD:ALLPASS", "All pass: every check left passes; then scan what it asks for"),
    ("CMD:PASS", "Pass: the current check passed"),
    ("CMD:FAIL", "Fail: the current check failed"),
    ("CMD:NA", "N/A: the check does not apply"),
    ("CMD:BACK", "Back: return to the previous check"),
    *[(f"CMD:OPTION:{n}", f"Option {n} of a choice (e.g. packaging)") for n in range(1, 5)],
    ("CMD:PHOTO", "Photo: take one for the current step (or the unit in hand)"),
    ("CMD:DONE", "Done: confirm the grade / accept the disposition / close the parcel"),
    ("CMD:SEARCH", "Search: find the return of a parcel whose label cannot be read"),
    ("CMD:CLOSE", "Close: the container scanned next (label and manifest)"),
    ("CMD:CANCEL", "Cancel the current action"),
    ("CMD:REPRINT", "Reprint the unit's label"),
    ("CMD:LOGOUT", "Sign the operator out"),
]

# The `arg` group of the command pattern in config/codes.toml.
_GRADE_ARG = re.compile(r"[A-Za-z0-9_+-]{1,16}", re.ASCII)
_PRINTABLE = re.compile(r"[\x21-\x7e](?:[\x20-\x7e]{0,46}[\x21-\x7e])?", re.ASCII)

DPI = 300
PAGE_W, PAGE_H = round(8.27 * DPI), 11 * DPI
MARGIN = DPI // 2
HEADER_H = int(0.8 * DPI)
ROW_H = int(0.7 * DPI)
BAR_H = int(0.42 * DPI)
BAR_COLUMN = int(4.4 * DPI)  # widest quiet zone + bars; the meanings start after the widest
QUIET = 12  # modules of quiet zone, a little over the 10 Code 128 asks for
CODE_TEXT_H, MEANING_H, TITLE_H = 34, 48, 72


def default_commands(grades: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """The bench's commands (ARCHITECTURE: barcodes) followed by CMD:GRADE:<code> per grade."""
    out = list(BASE_COMMANDS)
    for code, name in grades:
        if not isinstance(code, str) or not _GRADE_ARG.fullmatch(code):
            raise LabelError(f"grade code {clean_text(repr(code), 30)} cannot be a command "
                             "barcode: use 1-16 of A-Z a-z 0-9 _ + -")
        out.append((f"CMD:GRADE:{code}", f"Grade {code}: {clean_text(name, 60)}"))
    return out


def _module_for(code: str) -> int:
    n = len(code128_modules(code)) + 2 * QUIET
    for module in (4, 3, 2):  # 0.34, 0.25, 0.17 mm at 300 dpi
        if n * module <= BAR_COLUMN:
            return module
    raise LabelError(f"command {code!r} is too long for the sheet")


def _pages(commands: list[tuple[str, str]], title: str) -> list[Image.Image]:
    rows_per_page = (PAGE_H - 2 * MARGIN - HEADER_H) // ROW_H
    chunks = [commands[i:i + rows_per_page] for i in range(0, len(commands), rows_per_page)]
    modules = {code: _module_for(code) for code, _ in commands}
    widest = max((len(code128_modules(c)) + 2 * QUIET) * m for c, m in modules.items())
    meaning_x = MARGIN + max(widest, int(2.4 * DPI)) + DPI // 10
    chars = int((PAGE_W - MARGIN - meaning_x) / (CHAR_EM * MEANING_H))
    pages = []
    for n, chunk in enumerate(chunks, 1):
        im = Image.new("1", (PAGE_W, PAGE_H), 1)
        draw = ImageDraw.Draw(im)
        head = title if len(chunks) == 1 else f"{title}  ({n}/{len(chunks)})"
        draw.text((MARGIN, MARGIN), head, font=font(TITLE_H), fill=0, stroke_width=1, stroke_fill=0)
        draw.text((MARGIN, MARGIN + TITLE_H + 20), "Scan a code to give the bench that command.",
                  font=font(CODE_TEXT_H), fill=0)
        y = MARGIN + HEADER_H
        for code, meaning in chunk:
            module = modules[code]
            draw_code128(draw, MARGIN + QUIET * module, y, code, module, BAR_H)
            draw.text((MARGIN + QUIET * module, y + BAR_H + 6), code, font=font(CODE_TEXT_H), fill=0)
            for i, part in enumerate(wrap(meaning, chars, 2)):
                draw.text((meaning_x, y + 20 + i * (MEANING_H + 12)), part, font=font(MEANING_H), fill=0)
            y += ROW_H
        pages.append(im)
    return pages


def render_command_sheet(commands: list[tuple[str, str]], fmt: str = "pdf", *,
                         title: str = "Dockstation command sheet") -> bytes:
    """The sheet as a PDF (13 commands a page) or a PNG (the pages stacked top to bottom).

    Codes must be printable ASCII (Code 128 set B), 1-48 characters, no leading/trailing space;
    meanings are untrusted text (they may come from HQ's grade names) and are cleaned and cut.
    """
    if fmt not in ("png", "pdf"):
        raise LabelError(f"unknown command sheet format {clean_text(repr(fmt), 20)}: expected png or pdf")
    if not commands:
        raise LabelError("no commands to print")
    rows = []
    for code, meaning in commands:
        if not isinstance(code, str) or not _PRINTABLE.fullmatch(code):
            raise LabelError(f"command {clean_text(repr(code), 60)} is not a printable ASCII "
                             "barcode (1-48 characters)")
        rows.append((code, clean_text(meaning, 120)))
    pages = _pages(rows, clean_text(title, 40))
    if fmt == "pdf":
        return image_pdf(pages, DPI, title=clean_text(title, 40), when=None)
    sheet = pages[0]
    if len(pages) > 1:
        sheet = Image.new("1", (PAGE_W, PAGE_H * len(pages)), 1)
        for i, page in enumerate(pages):
            sheet.paste(page, (0, i * PAGE_H))
    buf = io.BytesIO()
    sheet.save(buf, "PNG", dpi=(DPI, DPI))
    return buf.getvalue()
