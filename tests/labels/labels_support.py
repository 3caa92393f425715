"""Test helpers: rasterise ZPL (zplkit) and PDF, decode barcodes (zxing-cpp), a box font.

zplkit refuses to draw a character its font has no glyph for (a real printer prints a blank or
a box), and its font 0 strike is ASCII-only; no font on a CI machine has CJK glyphs. To rasterise
labels holding "Größe 日本語" the tests load, as a site would load a Unicode font onto its
printer, a TrueType font whose every character is a hollow box (`box_font`), and map font 0 to it
with `^CW` in a separate format sent first. The label's own bytes are sent unchanged.
"""

from __future__ import annotations

import io
import re
import struct

import zplkit
import zplkit.parse
import zplkit.rendering
import zxingcpp
from PIL import Image

from labels.model import LabelSize

FD_RE = re.compile(rb"\^FH\^FD(.*?)\^FS", re.S)

# Text that tries to be something other than text on a label.
HOSTILE = [
    "^XZ^XA^FDpwned^FS",        # close the format, open another
    "~JA",                      # a control command: cancels all queued labels the moment it is read
    "~DGR:X.GRF,1,1,FF",        # download a graphic
    "_",                        # the ^FH escape character itself
    "_5E_7E",                   # pre-escaped bytes must not be unescaped twice
    ">",                        # Code 128 invocation in ^BC data
    ">:>5>8",
    "\x1b[31mred\x1b[0m\x1b]2;title\x07",  # terminal escapes
    "\\&line\\&break",          # ^FB/^TB line break
    "Größe 日本語",               # non-Latin text: kept
    "x" * 300,                  # too long
    "a\r\nb\tc\x00d\x7fe\x85f\x9bg",  # controls, C1 included
    "\u202eevil\u202c",         # bidi override
    "^FS~JR^XZ~JA^XA",
]


def decode(img: Image.Image) -> list[str]:
    """Every barcode zxing-cpp finds, as exact text (Plain mode adds nothing)."""
    return [b.text for b in zxingcpp.read_barcodes(img, text_mode=zxingcpp.TextMode.Plain)]


def zpl_image(zpl: bytes, size: LabelSize, preamble: bytes = b"") -> Image.Image:
    """The last label of `preamble + zpl`, rasterised at the template's size and dpi."""
    limits = zplkit.rendering.Limits(input_bytes=8_000_000, font_bytes=8_000_000)
    doc = zplkit.render(preamble + zpl, zplkit.Options(dpi=size.dpi, width=size.width,
                                                       height=size.height), limits=limits)
    raster = doc.labels[-1].rasterize()
    return Image.frombytes("L", (raster.width, raster.height), raster.pixels)


def pdf_image(pdf: bytes, dpi: int, page: int = 0) -> Image.Image:
    """A PDF page rendered by PDFium (pypdfium2) at `dpi`."""
    import pypdfium2

    doc = pypdfium2.PdfDocument(pdf)
    try:
        return doc[page].render(scale=dpi / 72).to_pil()
    finally:
        doc.close()


def zpl_commands(zpl: bytes) -> list[bytes]:
    """The format/control commands of a ZPL stream, framed by zplkit's own parser."""
    return [bytes(e) for e in zplkit.parse.parse(zpl).elements]


def ink_box(img: Image.Image) -> tuple[int, int, int, int] | None:
    """Bounding box of the dark pixels."""
    return img.convert("L").point(lambda p: 255 if p < 128 else 0).getbbox()


# -- a TrueType font of boxes -----------------------------------------------------------------
def _table_checksum(data: bytes) -> int:
    data += b"\0" * (-len(data) % 4)
    return sum(struct.unpack(f">{len(data) // 4}L", data)) & 0xFFFFFFFF


def _glyph_box() -> bytes:
    # Two contours: outer square clockwise, inner counter-clockwise (a hollow box, like tofu).
    outer = [(50, 0), (50, 700), (550, 700), (550, 0)]
    inner = [(120, 70), (480, 70), (480, 630), (120, 630)]
    pts = outer + inner
    out = struct.pack(">hhhhh", 2, 50, 0, 550, 700) + struct.pack(">HH", 3, 7) + struct.pack(">H", 0)
    out += bytes([0x01] * len(pts))  # on-curve, 16-bit coordinates
    x = y = 0
    xs, ys = b"", b""
    for px, py in pts:
        xs += struct.pack(">h", px - x)
        ys += struct.pack(">h", py - y)
        x, y = px, py
    return out + xs + ys


def box_font() -> bytes:
    """A TrueType font drawing Latin, Greek, Cyrillic, punctuation, kana and CJK ideographs as a
    hollow box (glyph 1) and U+0020 as an empty advance (glyph 2); 600/1000 em, monospaced."""
    box = _glyph_box()
    box += b"\0" * (-len(box) % 2)
    glyf = box
    loca = struct.pack(">HHHH", 0, 0, len(box) // 2, len(box) // 2)  # .notdef empty, box, space empty
    n_glyphs = 3
    head = struct.pack(">LLLLHHqqhhhhHHhhh", 0x00010000, 0x00010000, 0, 0x5F0F3CF5, 0x000B, 1000,
                       0, 0, 0, -200, 600, 800, 0, 8, 2, 0, 0)
    hhea = struct.pack(">LhhhHhhhhhhhhhhhH", 0x00010000, 800, -200, 0, 600, 0, 0, 600, 1, 0, 0,
                       0, 0, 0, 0, 0, n_glyphs)
    maxp = struct.pack(">LHHHHHHHHHHHHHH", 0x00010000, n_glyphs, 8, 2, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0, 0)
    hmtx = struct.pack(">HhHhHh", 600, 0, 600, 50, 600, 0)
    # cmap format 4 (16-bit lengths, so not the whole BMP): U+0020 -> glyph 2 by delta; the
    # ranges below -> glyph 1 through the glyph id array; the 0xFFFF segment ends the table.
    ranges = [(0x21, 0x24F), (0x370, 0x52F), (0x2000, 0x206F), (0x20A0, 0x20CF), (0x3000, 0x30FF),
              (0x4E00, 0x9FFF), (0xFF00, 0xFFEF)]
    seg = len(ranges) + 2
    ends, starts, deltas, offsets, glyph_ids = [0x20], [0x20], [(2 - 0x20) & 0xFFFF], [0], []
    for i, (lo, hi) in enumerate(ranges, 1):
        ends.append(hi)
        starts.append(lo)
        deltas.append(0)
        # idRangeOffset: bytes from this slot of the offsets array to this range's first id.
        offsets.append(2 * (seg - i) + 2 * len(glyph_ids))
        glyph_ids += [1] * (hi - lo + 1)
    ends.append(0xFFFF)
    starts.append(0xFFFF)
    deltas.append(1)
    offsets.append(0)
    search = 2 ** (seg.bit_length() - 1)
    sub = struct.pack(f">7H{seg}HH{seg}H{seg}H{seg}H{len(glyph_ids)}H", 4, 0, 0, 2 * seg,
                      2 * search, search.bit_length() - 1, 2 * seg - 2 * search, *ends, 0, *starts,
                      *deltas, *offsets, *glyph_ids)
    sub = sub[:2] + struct.pack(">H", len(sub)) + sub[4:]
    cmap = struct.pack(">HHHHL", 0, 1, 3, 1, 12) + sub
    post = struct.pack(">LLhhLLLLL", 0x00030000, 0, -100, 50, 1, 0, 0, 0, 0)
    name = struct.pack(">HHH", 0, 0, 6)
    tables = {b"cmap": cmap, b"glyf": glyf, b"head": head, b"hhea": hhea, b"hmtx": hmtx,
              b"loca": loca, b"maxp": maxp, b"name": name, b"post": post}
    n = len(tables)
    search = 2 ** (n.bit_length() - 1)
    out = io.BytesIO()
    out.write(struct.pack(">LHHHH", 0x00010000, n, search * 16, search.bit_length() - 1,
                          n * 16 - search * 16))
    offset = 12 + 16 * n
    body = b""
    for tag, data in sorted(tables.items()):
        out.write(struct.pack(">4sLLL", tag, _table_checksum(data), offset + len(body), len(data)))
        body += data + b"\0" * (-len(data) % 4)
    return out.getvalue() + body


def unicode_printer_preamble() -> bytes:
    """What a site sends once to a printer with a Unicode font: download it (~DY) and map
    font 0 to it (^CW, which lasts until the printer is switched off)."""
    font = box_font()
    return b"~DYE:BOXES,B,T,%d,,%s^XA^CW0,E:BOXES.TTF^XZ" % (len(font), font)
