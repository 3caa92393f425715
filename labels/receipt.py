"""The receipt label (`ReceiptLabel`): the unit's licence plate, printed the moment it is received.

A unit waits for grading on a shelf; the receipt label gives it a barcode of its own from the
start (scan it to open the unit) and says where it goes and by when: the LPN as Code 128, the RMA
and its line, the triage lane in large letters, the SLA due time, the category, the SKU and the
description. 4 x 2 in only (the LPN label stock); the disposition label follows after grading.

Like `Label`, the constructor validates the LPN and cleans every text field (scanner, manifest
and HQ text is untrusted): see labels/model.py. ZPL escaping is the same `^FH` hex as every field.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from labels.model import MAX_CHARS, LabelError, Slot, clean_text, validate_lpn

__all__ = ["RECEIPT_SLOTS", "RECEIPT_TEMPLATES", "ReceiptLabel", "receipt_slots", "receipt_template",
           "sample_receipt"]

# The receipt label prints on 4x2 stock only: a template name picks the resolution.
RECEIPT_TEMPLATES = ("4x2-203", "4x2-300")

# 203-dpi dots on a 812 x 406 label, scaled for 300 dpi like the disposition layouts. The lane is
# what the person holding the unit acts on (which shelf), so it is the large text; the barcode
# keeps a 10-module quiet zone from the margin.
RECEIPT_SLOTS = {
    "lane": Slot(20, 10, 56, 440), "due": Slot(480, 12, 26, 312), "reprint": Slot(480, 42, 22, 312),
    "rule": Slot(20, 72, 3, 772),
    "rma": Slot(20, 84, 30, 480), "category": Slot(520, 84, 30, 272),
    "barcode": Slot(50, 124, 110), "lpn": Slot(50, 242, 38, 742),
    "sku": Slot(20, 292, 26, 300), "description": Slot(330, 292, 26, 462),
    "station": Slot(20, 340, 24, 772),
}


def receipt_template(template: str, configured: str | None = None) -> str:
    """The receipt label's template: the one configured, else 4x2 at the resolution of the
    printer's (disposition label) `template`, e.g. 4x6-300 → 4x2-300."""
    return configured or f"4x2-{template.rsplit('-', 1)[-1]}"


def receipt_slots(dpi: int) -> dict[str, Slot]:
    k = dpi / 203
    return {key: Slot(round(s.x * k), round(s.y * k), round(s.h * k), round(s.w * k), s.lines,
                      round(s.pitch * k), s.chars) for key, s in RECEIPT_SLOTS.items()}


@dataclass(frozen=True)
class ReceiptLabel:
    """One receipt label. Construct it with raw values; they are validated and cleaned."""

    lpn: str
    rma_id: str
    line_no: int
    lane: str
    category: str
    station_id: str
    date: datetime  # received at
    sla_due: datetime | None = None
    sku: str = ""
    description: str = ""
    reprint: int = 0

    def __post_init__(self) -> None:
        validate_lpn(self.lpn)
        for name in ("date", "sla_due"):
            value = getattr(self, name)
            if value is None and name == "sla_due":
                continue
            if not isinstance(value, datetime) or value.tzinfo is None:
                raise LabelError(f"receipt label {name} must be a timezone-aware datetime")
            object.__setattr__(self, name, value.astimezone(UTC))
        if isinstance(self.line_no, bool) or not isinstance(self.line_no, int) or self.line_no < 0:
            raise LabelError(f"line_no must be an int >= 0, not {self.line_no!r}")
        if isinstance(self.reprint, bool) or not isinstance(self.reprint, int) or self.reprint < 0:
            raise LabelError(f"reprint must be an int >= 0, not {self.reprint!r}")
        limits = {**MAX_CHARS, "category": 32}
        for name in ("rma_id", "lane", "category", "station_id", "sku", "description"):
            object.__setattr__(self, name, clean_text(getattr(self, name), limits[name]))

    @property
    def title(self) -> str:
        """The lane as printed in large letters, e.g. `EXPRESS`."""
        return (self.lane or "NO LANE").replace("_", " ").upper()


def sample_receipt(station_id: str = "B07", *, reprint: int = 0, date: datetime | None = None) -> ReceiptLabel:
    """A realistic receipt label for test prints and benchmarks (sequence 00000000: a test)."""
    from datetime import timedelta

    when = date or datetime.now(UTC)
    return ReceiptLabel(
        lpn=f"{station_id}-00000000", rma_id="RMA-2026-000123", line_no=2, lane="express",
        category="headphones", station_id=station_id, date=when, sla_due=when + timedelta(hours=24),
        sku="SKU-4711-BLK-XL", description="Test print - Wireless headphones, black, with charging case",
        reprint=reprint,
    )
