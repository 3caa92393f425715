"""PNG and PDF labels, drawn with Pillow from the same layout as the ZPL.

Images are 1-bit at the template's dpi: a thermal printer has no grey, a 1-bit PNG is small, and
Pillow stores a 1-bit image in a PDF losslessly (CCITT G4) where it would use JPEG for grey.

python-barcode encodes the Code 128 symbol (subset switching, check character); the bars are
drawn here, one module = an exact whole number of pixels. Its ImageWriter places bars at
millimetre positions converted to pixels, and those round differently bar by bar: measured here,
every one of 900 renders had bars a pixel off at 3-4 px modules -- a 25-33 % bar-width error that
costs scan reliability on a 203-dpi label.
"""

from __future__ import annotations

import io
import os
from functools import lru_cache
from typing import TYPE_CHECKING

import barcode
from PIL import Image, ImageDraw, ImageFont

from labels.layout import layout
from labels.model import CHAR_EM, Label, LabelError, LabelSize, get_template, validate_lpn
from labels.receipt import ReceiptLabel

if TYPE_CHECKING:
    from PIL.ImageFont import FreeTypeFont, ImageFont as BitmapFont

__all__ = ["code128_modules", "draw_code128", "font", "render_image", "render_pdf", "render_png"]

# DejaVu Sans Mono ships inside python-barcode (a dependency), so it is on every machine that
# can render a label; it draws Latin, Greek and Cyrillic, which Pillow's built-in Aileron does not
# (no "ö"). Pillow's default font is the fallback; glyphs neither has come out as boxes.
_MONO = os.path.join(os.path.dirname(barcode.__file__), "fonts", "DejaVuSansMono.ttf")


@lru_cache(maxsize=64)
def font(size: int) -> FreeTypeFont | BitmapFont:
    try:
        return ImageFont.truetype(_MONO, size)
    except OSError:
        return ImageFont.load_default(size=size)


def code128_modules(data: str) -> str:
    """The symbol as a string of modules, "1" a bar and "0" a space, without quiet zones."""
    try:
        return barcode.get("code128", data).build()[0]
    except Exception as exc:  # python-barcode raises its own error types for bad characters
        raise LabelError(f"cannot encode {data!r} as Code 128: {exc}") from exc


def draw_code128(draw: ImageDraw.ImageDraw, x: int, y: int, data: str, module: int, height: int,
                 ink: int = 0) -> int:
    """Draw the bars with their top-left corner at (x, y); returns the symbol's width in pixels."""
    modules = code128_modules(data)
    i = 0
    while i < len(modules):
        if modules[i] == "1":
            j = i
            while j < len(modules) and modules[j] == "1":
                j += 1
            draw.rectangle((x + i * module, y, x + j * module - 1, y + height - 1), fill=ink)
            i = j
        else:
            i += 1
    return len(modules) * module


def _fitted_size(text: str, h: int, w: int) -> int:
    return max(8, min(h, int(w / (CHAR_EM * max(1, len(text))))))


def render_image(label: Label | ReceiptLabel, template: LabelSize | str = "4x6-203") -> Image.Image:
    """The label as a 1-bit Pillow image, `template.width` x `template.height` pixels."""
    size = get_template(template)
    im = Image.new("1", (size.width, size.height), 1)
    draw = ImageDraw.Draw(im)
    for line in layout(label, size):
        if line.kind == "rule":
            draw.rectangle((line.x, line.y, line.x + line.w - 1, line.y + line.h - 1), fill=0)
        elif line.kind == "barcode":
            draw_code128(draw, line.x, line.y, validate_lpn(line.text), size.module, line.h)
        elif line.kind == "fit":
            px = _fitted_size(line.text, line.h, line.w)
            # DejaVu Sans Mono has no bold: a stroke gives the title the weight of ZPL font 0.
            draw.text((line.x, line.y), line.text, font=font(px), fill=0,
                      stroke_width=max(1, px // 24), stroke_fill=0)
        else:
            draw.text((line.x, line.y), line.text, font=font(line.h), fill=0)
    return im


def render_png(label: Label | ReceiptLabel, template: LabelSize | str = "4x6-203") -> bytes:
    size = get_template(template)
    buf = io.BytesIO()
    render_image(label, size).save(buf, "PNG", dpi=(size.dpi, size.dpi), optimize=False)
    return buf.getvalue()


def render_pdf(label: Label | ReceiptLabel, template: LabelSize | str = "4x6-203") -> bytes:
    """One page of exactly the label's size (4 x 6 in is 288 x 432 pt), the image at the dpi."""
    size = get_template(template)
    return image_pdf([render_image(label, size)], size.dpi, title=label.lpn,
                     when=label.date.utctimetuple())


def image_pdf(pages: list[Image.Image], dpi: int, *, title: str, when: object) -> bytes:
    """Pages as a PDF. The date is given (the label's) or left out, never "now": the same
    label then gives the same bytes, which keeps reprints and spool files comparable."""
    buf = io.BytesIO()
    pages[0].save(buf, "PDF", resolution=float(dpi), save_all=True, append_images=pages[1:],
                  title=title, creationDate=when, modDate=when)
    return buf.getvalue()
