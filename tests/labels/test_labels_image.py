from __future__ import annotations

import dataclasses
import io

import pytest
from labels_support import decode, ink_box, pdf_image
from PIL import Image, PdfParser

from labels import render
from labels.image import code128_modules, render_image, render_pdf, render_png
from labels.model import TEMPLATES, LabelError


def png_image(data: bytes) -> Image.Image:
    img = Image.open(io.BytesIO(data))
    img.load()
    return img


@pytest.mark.parametrize("name", TEMPLATES)
def test_png_round_trip(label, name):
    t = TEMPLATES[name]
    data = render_png(dataclasses.replace(label, reprint=1), name)
    assert data.startswith(b"\x89PNG\r\n\x1a\n")
    img = png_image(data)
    assert img.size == (t.width, t.height) and img.mode == "1"
    assert round(img.info["dpi"][0]) == t.dpi
    assert decode(img) == ["B07-00012345"]


@pytest.mark.parametrize("name", TEMPLATES)
def test_pdf_round_trip(label, name):
    pytest.importorskip("pypdfium2", reason="PDF rasteriser for tests (pip install pypdfium2)")
    t = TEMPLATES[name]
    data = render_pdf(label, name)
    img = pdf_image(data, t.dpi)
    assert abs(img.width - t.width) <= 1 and abs(img.height - t.height) <= 1
    assert decode(img) == ["B07-00012345"]


@pytest.mark.parametrize("name", TEMPLATES)
def test_pdf_page_is_the_label_size(label, name):
    """Without a rasteriser: one page of the label's size in points, the image at full dpi."""
    t = TEMPLATES[name]
    pdf = PdfParser.PdfParser(buf=render_pdf(label, name))
    (page,) = pdf.pages
    box = [float(v) for v in pdf.read_indirect(page)[b"MediaBox"]]
    assert box == [0, 0, t.width_in * 72, t.height_in * 72]
    xobjects = pdf.read_indirect(page)[b"Resources"][b"XObject"]
    (image,) = [pdf.read_indirect(ref) for ref in xobjects.values()]
    assert image.dictionary[b"Subtype"] == PdfParser.PdfName(b"Image")
    assert (image.dictionary[b"Width"], image.dictionary[b"Height"]) == (t.width, t.height)
    assert image.dictionary[b"BitsPerComponent"] == 1  # lossless 1-bit, not a JPEG


def test_same_label_same_pdf_bytes(label):
    assert render_pdf(label) == render_pdf(label)
    assert render_pdf(label) != render_pdf(dataclasses.replace(label, reprint=1))


def test_barcode_bars_are_whole_modules(label):
    """Each bar and space is exactly `module` pixels per module, as python-barcode encoded it."""
    t = TEMPLATES["4x6-203"]
    img = render_image(label, t)
    bar = t.slots["barcode"]
    row = "".join("1" if img.getpixel((x, bar.y + 5)) == 0 else "0" for x in range(bar.x, t.width))
    expected = "".join(c * t.module for c in code128_modules("B07-00012345"))
    assert row.startswith(expected) and "1" not in row[len(expected):]
    assert img.getpixel((bar.x - 1, bar.y + 5)) == 1  # quiet zone before the first bar


@pytest.mark.parametrize("name", TEMPLATES)
def test_hostile_text_renders_and_scans(label, name):
    hostile = dataclasses.replace(
        label, grade="^XZ^XA", lane="~JA\x1b[31m", destination="_\\&", sku="Größe 日本語 Ελλάδα",
        description="W" * 300, rma_id="%" * 300, reprint=99)
    t = TEMPLATES[name]
    img = png_image(render_png(hostile, name))
    assert decode(img) == ["B07-00012345"]
    # Cut to fit: nothing drawn into the right margin.
    right = max(s.x + s.w for s in t.slots.values())
    assert ink_box(img)[2] <= right < t.width
    assert render_pdf(hostile, name).startswith(b"%PDF")


def test_render_dispatches_by_format(label):
    assert render(label, "zpl").startswith(b"^XA")
    assert render(label, "png", "4x2-300").startswith(b"\x89PNG")
    assert png_image(render(label, "png", "4x2-300")).size == (1200, 600)
    assert render(label, "pdf").startswith(b"%PDF-")
    with pytest.raises(LabelError, match="unknown label format 'svg'"):
        render(label, "svg")
    with pytest.raises(LabelError, match="unknown label template"):
        render(label, "zpl", "A4")


def test_png_is_small(label):
    # 1-bit: a 4x6 label at 300 dpi stays far below what a grey image would weigh.
    data = render_png(label, "4x6-300")
    assert len(data) < 40_000
