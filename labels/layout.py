"""The lines of text a label prints, where, and cut to fit: one truth for ZPL, PNG and PDF.

Both renderers draw exactly these lines, so a label reads the same whatever the format, and the
tests can check each ZPL field against the text the layout decided on.
"""

from __future__ import annotations

import textwrap
from dataclasses import dataclass

from labels.model import Label, LabelSize, Slot, clip, get_template
from labels.receipt import ReceiptLabel, receipt_slots

__all__ = ["Line", "layout", "receipt_layout", "wrap"]


@dataclass(frozen=True)
class Line:
    """One thing to draw. `kind` is "text", "fit" (text whose font shrinks to fit the box
    instead of being cut: the path title, which is ours and short), "barcode" or "rule"."""

    name: str
    kind: str
    x: int
    y: int
    h: int
    w: int
    text: str = ""


def wrap(text: str, chars: int, lines: int) -> list[str]:
    """`text` in at most `lines` lines of at most `chars` characters; the last line ends in an
    ellipsis if the text did not fit."""
    parts = textwrap.wrap(text, chars, break_on_hyphens=False) or [""]
    if len(parts) > lines:
        parts = parts[: lines - 1] + [clip(" ".join(parts[lines - 1:]), chars)]
    return parts


def layout(label: Label | ReceiptLabel, size: LabelSize | str) -> list[Line]:
    size = get_template(size)
    if isinstance(label, ReceiptLabel):
        return receipt_layout(label, size)
    s = size.slots
    out: list[Line] = []

    def text(name: str, value: str | None, prefix: str = "") -> None:
        if not value:
            return
        slot = s[name]
        out.append(Line(name, "text", slot.x, slot.y, slot.h, slot.w, clip(prefix + value, slot.chars)))

    path = s["path"]
    out.append(Line("path", "fit", path.x, path.y, path.h, path.w, label.title))
    rule = s["rule"]
    out.append(Line("rule", "rule", rule.x, rule.y, rule.h, rule.w))
    if label.reprint:
        text("reprint", f"REPRINT {label.reprint}")
    text("grade", label.grade, "GRADE ")
    text("lane", label.lane, "LANE ")
    text("destination", label.destination, "TO ")
    bar = s["barcode"]
    out.append(Line("barcode", "barcode", bar.x, bar.y, size.barcode_h, 0, label.lpn))
    text("lpn", label.lpn)
    text("sku", label.sku, "SKU ")
    desc = s["description"]
    if label.description:
        for i, part in enumerate(wrap(label.description, desc.chars, desc.lines)):
            out.append(Line(f"description.{i + 1}", "text", desc.x, desc.y + i * desc.pitch,
                            desc.h, desc.w, part))
    text("rma", label.rma_id)
    text("station", f"{label.station_id}  {label.date:%Y-%m-%d %H:%M} UTC")
    return out


def receipt_layout(label: ReceiptLabel, size: LabelSize | str) -> list[Line]:
    """The receipt label (labels/receipt.py) on `size`'s resolution: 4 x 2 in of it."""
    size = get_template(size)
    s: dict[str, Slot] = receipt_slots(size.dpi)
    out: list[Line] = []

    def text(name: str, value: str | None) -> None:
        if value:
            slot = s[name]
            out.append(Line(name, "text", slot.x, slot.y, slot.h, slot.w, clip(value, slot.chars)))

    lane = s["lane"]
    out.append(Line("lane", "fit", lane.x, lane.y, lane.h, lane.w, label.title))
    if label.sla_due is not None:
        text("due", f"DUE {label.sla_due:%m-%d %H:%M} UTC")
    if label.reprint:
        text("reprint", f"REPRINT {label.reprint}")
    rule = s["rule"]
    out.append(Line("rule", "rule", rule.x, rule.y, rule.h, rule.w))
    text("rma", f"{label.rma_id} / LINE {label.line_no}" if label.rma_id else f"LINE {label.line_no}")
    text("category", label.category.replace("_", " ").upper())
    bar = s["barcode"]
    out.append(Line("barcode", "barcode", bar.x, bar.y, bar.h, 0, label.lpn))
    text("lpn", label.lpn)
    text("sku", label.sku and f"SKU {label.sku}")
    text("description", label.description)
    text("station", f"{label.station_id}  RECEIVED {label.date:%Y-%m-%d %H:%M} UTC")
    return out
