"""One entry point for the CLI and the print queue: a label in a format, as bytes."""

from __future__ import annotations

from labels.image import render_pdf, render_png
from labels.model import Label, LabelError, LabelSize, clean_text, get_template
from labels.receipt import ReceiptLabel
from labels.zpl import render_zpl

__all__ = ["EXTENSIONS", "FORMATS", "render"]

FORMATS = ("zpl", "png", "pdf")
EXTENSIONS = {"zpl": ".zpl", "png": ".png", "pdf": ".pdf"}
_RENDERERS = {"zpl": render_zpl, "png": render_png, "pdf": render_pdf}


def render(label: Label | ReceiptLabel, fmt: str, template_name: str | LabelSize = "4x6-203") -> bytes:
    """The label as ZPL, PNG or PDF bytes on the named template (see `labels.TEMPLATES`).

    Raises LabelError for an unknown format or template. Pure and thread-safe: the print
    queue may render in a worker and store the bytes in the job row.
    """
    try:
        renderer = _RENDERERS[fmt]
    except (KeyError, TypeError):
        raise LabelError(f"unknown label format {clean_text(repr(fmt), 20)}: expected "
                         f"{', '.join(FORMATS)}") from None
    return renderer(label, get_template(template_name))
