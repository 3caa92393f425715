"""ZPL II for Zebra (and compatible) printers.

Injection safety, by construction:
- Every field is `^FH^FD<data>^FS` and the data is hex-escaped: only printable ASCII other than
  `^`, `~`, `_` and `\\` is sent as itself; everything else (those four, every control byte, every
  byte of a non-ASCII character's UTF-8) goes as `_XX`. So no `^` or `~` from a field can reach
  the printer's parser, and the output holds exactly one `^XA` and one `^XZ` whatever the text.
  (`~` commands run the moment the printer reads them, even inside a format; `\\` is escaped
  because ^TB/^FB blocks treat `\\&` as a line break.)
- `^CI28` makes the printer read the unescaped bytes as UTF-8, so `Größe` prints as such with a
  font that has the glyphs.
- The Code 128 payload is the LPN, validated against `[A-Z0-9]{1,8}-[0-9]{8}`, so it can never
  hold `>` (which starts ^BC invocation codes) nor anything else that changes the barcode.
"""

from __future__ import annotations

import re

from labels.layout import layout
from labels.model import Label, LabelError, LabelSize, get_template, validate_lpn
from labels.receipt import ReceiptLabel

__all__ = ["escape_field", "render_zpl", "unescape_field"]

# Bytes that may go through unescaped: printable ASCII minus the ZPL prefixes, the ^FH
# indicator and the block line-break backslash.
_PLAIN = frozenset(range(0x20, 0x7F)) - set(b"^~_\\")
_ESCAPED = [bytes([b]) if b in _PLAIN else b"_%02X" % b for b in range(256)]

# Width of the ZPL font 0 relative to its height for the path title: 0.56 em per character on
# average for upper case (measured), so a long title gets a narrower font rather than a cut.
_FONT0_EM = 0.56


def escape_field(text: str) -> bytes:
    """`text` as ^FH field data: UTF-8, with every byte that is not plain ASCII as `_XX`."""
    return b"".join(_ESCAPED[b] for b in text.encode("utf-8"))


def unescape_field(data: bytes) -> str:
    """The inverse of `escape_field` (for tests and tools reading our own ZPL)."""
    return re.sub(rb"_([0-9A-Fa-f]{2})", lambda m: bytes([int(m.group(1), 16)]), data).decode("utf-8")


def _text(x: int, y: int, h: int, w: int, data: str, font_w: int | None = None) -> bytes:
    # ^TB bounds the field to its box: one line (the height allows no second line), cut at the
    # box's right edge by the printer if a proportional font still overflows.
    return b"^FO%d,%d^A0N,%d,%d^TBN,%d,%d^FH^FD%s^FS" % (
        x, y, h, font_w or h, w, h + h // 3, escape_field(data))


def render_zpl(label: Label | ReceiptLabel, template: LabelSize | str = "4x6-203") -> bytes:
    """One label as one ZPL format (`^XA ... ^XZ`), UTF-8, every field hex-escaped."""
    size = get_template(template)
    out = [b"^XA", b"^CI28", b"^PW%d" % size.width, b"^LL%d" % size.height, b"^LH0,0"]
    for line in layout(label, size):
        if line.kind == "rule":
            out.append(b"^FO%d,%d^GB%d,%d,%d^FS" % (line.x, line.y, line.w, line.h, line.h))
        elif line.kind == "barcode":
            lpn = validate_lpn(line.text)  # again, here: the one field that is not escaped data
            # ^BC o,h,f,g,e,m: no interpretation line (we print our own), automatic subset
            # selection (A) so the digits pack as subset C.
            out.append(b"^FO%d,%d^BY%d^BCN,%d,N,N,N,A^FH^FD%s^FS" % (
                line.x, line.y, size.module, line.h, lpn.encode("ascii")))
        elif line.kind == "fit":
            font_w = min(line.h, int(line.w / (_FONT0_EM * max(1, len(line.text)))))
            out.append(_text(line.x, line.y, line.h, line.w, line.text, font_w))
        else:
            out.append(_text(line.x, line.y, line.h, line.w, line.text))
    out += [b"^XZ", b""]  # one copy: the default, so no ^PQ (zplkit does not render ^PQ)
    zpl = b"\n".join(out)
    # Cheap proof of the promise above, on every label: a failure here is a bug in this module.
    if zpl.count(b"^XA") != 1 or zpl.count(b"^XZ") != 1 or b"~" in zpl:
        raise LabelError("internal error: ZPL framing check failed")
    return zpl
