"""What a disposition label says (`Label`) and how big it is (`LabelSize`, `TEMPLATES`).

Every text field on a label comes from outside the bench (scanners, the manifest, HQ), so the
`Label` constructor cleans it: control characters go (an ESC or a NUL means nothing on paper and
some printers act on them), text is NFC-normalised (printer fonts draw precomposed letters, not
combining marks) and cut to a sane length. Non-Latin text is kept: what a font cannot draw is the
printer's business, never a reason to lose data or to crash. The LPN is the one field that is
validated instead of cleaned: it is the barcode, and a wrong barcode is worse than no label.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from datetime import UTC, datetime

__all__ = [
    "ELLIPSIS", "LPN_RE", "PATHS", "PATH_TITLES", "TEMPLATES", "Label", "LabelError", "LabelSize",
    "Slot", "clean_text", "clip", "get_template", "sample_label", "validate_lpn",
]


class LabelError(ValueError):
    """A label that cannot be rendered as asked (bad LPN, unknown path, template or format)."""


# The contract pattern (ARCHITECTURE.md, config/codes.toml), written with [0-9] and fullmatch on
# purpose: `\d` also matches Arabic-Indic and other Unicode digits, and `$` matches before a
# trailing newline -- both would let a non-Code-128 payload through.
LPN_RE = re.compile(r"[A-Z0-9]{1,8}-[0-9]{8}", re.ASCII)

PATHS = (
    "restock", "open_box", "refurbish", "liquidate", "recycle",
    "vendor_return", "donate", "quarantine", "dispose",
)
PATH_TITLES = {p: p.replace("_", " ").upper() for p in PATHS}

# ASCII, not U+2026: every resident printer font and Pillow's fallback font have the full stop.
ELLIPSIS = "..."

# Upper bounds kept in the model whatever the template; templates cut further to what fits.
MAX_CHARS = {
    "grade": 16, "lane": 32, "destination": 64, "sku": 64, "description": 200,
    "station_id": 16, "rma_id": 64,
}

# Line breaks and tabs become spaces; every other C0/C1 control (category Cc: ESC, NUL, ...),
# lone surrogates (Cs: they cannot be encoded) and the bidi embeddings/overrides/isolates (which
# make printed text read differently from what is stored) are dropped. Regexes, not a loop per
# character: a 1 MB description from a bad manifest must not stall the print queue.
_BREAKS = re.compile(r"[\t\n\r\v\f\x85\u2028\u2029]")
_DROP = re.compile(r"[\x00-\x1f\x7f-\x9f\ud800-\udfff\u202a-\u202e\u2066-\u2069]")
_SPACES = re.compile(r"\s+")


def clean_text(value: object, limit: int | None = None) -> str:
    """One line of printable text: controls dropped (tabs/newlines become spaces), NFC, cut."""
    if value is None:
        return ""
    text = _DROP.sub("", _BREAKS.sub(" ", str(value)))
    text = _SPACES.sub(" ", unicodedata.normalize("NFC", text)).strip()
    return text if limit is None else clip(text, limit)


def clip(text: str, limit: int) -> str:
    """`text` cut to at most `limit` characters, ending in an ellipsis when something was cut."""
    if limit < 0:
        raise ValueError("limit must be >= 0")
    if len(text) <= limit:
        return text
    if limit <= len(ELLIPSIS):
        return text[:limit]
    return text[: limit - len(ELLIPSIS)].rstrip() + ELLIPSIS


def validate_lpn(lpn: object) -> str:
    """The LPN itself if it is a valid Code 128 payload `<STATION>-<8 digits>`, else LabelError."""
    if not isinstance(lpn, str) or not LPN_RE.fullmatch(lpn):
        shown = clean_text(repr(lpn), 40)
        raise LabelError(f"invalid LPN {shown}: expected <STATION>-<8 digits>, e.g. B07-00012345")
    return lpn


@dataclass(frozen=True)
class Label:
    """One disposition label. Construct it with raw values; they are validated and cleaned."""

    lpn: str
    path: str
    sku: str
    description: str
    station_id: str
    date: datetime
    grade: str | None = None
    lane: str | None = None
    destination: str | None = None
    rma_id: str | None = None
    reprint: int = 0

    def __post_init__(self) -> None:
        validate_lpn(self.lpn)
        if self.path not in PATHS:
            raise LabelError(f"unknown disposition path {clean_text(repr(self.path), 40)}: "
                             f"expected one of {', '.join(PATHS)}")
        if not isinstance(self.date, datetime) or self.date.tzinfo is None:
            raise LabelError("label date must be a timezone-aware datetime")
        if isinstance(self.reprint, bool) or not isinstance(self.reprint, int) or self.reprint < 0:
            raise LabelError(f"reprint must be an int >= 0, not {self.reprint!r}")
        set_ = object.__setattr__  # frozen: normalise in place once, here
        set_(self, "date", self.date.astimezone(UTC))
        for name in ("sku", "description", "station_id"):
            set_(self, name, clean_text(getattr(self, name), MAX_CHARS[name]))
        for name in ("grade", "lane", "destination", "rma_id"):
            value = getattr(self, name)
            if value is not None:
                set_(self, name, clean_text(value, MAX_CHARS[name]) or None)

    @property
    def title(self) -> str:
        """The path as printed in large letters, e.g. `VENDOR RETURN`."""
        return PATH_TITLES[self.path]


# -- sizes and layouts ---------------------------------------------------------------------------
# Characters are budgeted at 0.602 em: the advance of every glyph of DejaVu Sans Mono (PNG/PDF),
# and wider than the typical 0.55 em of ZPL font 0 (a proportional font: the ZPL renderer also
# bounds each field with ^TB so pathological text such as "%%%%" is cut by the printer).
CHAR_EM = 0.602


@dataclass(frozen=True)
class Slot:
    """Where a field goes: top-left corner, character height and box width in dots, and how many
    lines it may take (each line `pitch` dots below the previous one). `chars` is how many
    characters surely fit a line; longer text is cut with an ellipsis. It is computed once, on the
    203-dpi layout, so every resolution prints the same text."""

    x: int
    y: int
    h: int
    w: int = 0
    lines: int = 1
    pitch: int = 0
    chars: int = 0

    def __post_init__(self) -> None:
        if not self.chars and self.h and self.w:
            object.__setattr__(self, "chars", max(1, int(self.w / (CHAR_EM * self.h))))


@dataclass(frozen=True)
class LabelSize:
    """A label stock at a printer resolution. Coordinates are printer dots (pixels in PNG/PDF)."""

    name: str
    width_in: float
    height_in: float
    dpi: int
    slots: dict[str, Slot] = field(repr=False)
    module: int  # Code 128 narrow bar width, dots
    barcode_h: int  # bar height, dots

    @property
    def width(self) -> int:
        return round(self.width_in * self.dpi)

    @property
    def height(self) -> int:
        return round(self.height_in * self.dpi)


# Layouts are drawn in 203-dpi dots and scaled, so a 300-dpi label looks the same on paper.
# The barcode slot's x leaves a 10-module quiet zone from the margin (Code 128 needs >= 10X).
_BASE_4x6 = {
    "path": Slot(24, 22, 120, 764), "rule": Slot(24, 150, 4, 764),
    "reprint": Slot(24, 162, 44, 764),
    "grade": Slot(24, 214, 70, 764), "lane": Slot(24, 296, 44, 764),
    "destination": Slot(24, 348, 44, 764),
    "barcode": Slot(54, 420, 200), "lpn": Slot(54, 636, 56, 734),
    "sku": Slot(24, 720, 40, 764), "description": Slot(24, 774, 32, 764, lines=3, pitch=38),
    "rma": Slot(24, 910, 36, 764), "station": Slot(24, 1160, 32, 764),
}
_BASE_4x2 = {
    "path": Slot(20, 12, 64, 520), "rule": Slot(20, 78, 2, 772),
    "reprint": Slot(560, 24, 30, 232),
    "grade": Slot(20, 88, 30, 190), "lane": Slot(220, 88, 30, 240),
    "destination": Slot(470, 88, 30, 322),
    "barcode": Slot(50, 126, 96), "lpn": Slot(50, 230, 36, 742),
    "sku": Slot(20, 274, 26, 300), "description": Slot(330, 274, 26, 462),
    "rma": Slot(20, 310, 26, 772), "station": Slot(20, 346, 26, 772),
}


def _scaled(name: str, w_in: float, h_in: float, dpi: int, base: dict[str, Slot], module: int) -> LabelSize:
    k = dpi / 203
    slots = {key: Slot(round(s.x * k), round(s.y * k), round(s.h * k), round(s.w * k), s.lines,
                       round(s.pitch * k), s.chars) for key, s in base.items()}
    return LabelSize(name, w_in, h_in, dpi, slots, module, slots["barcode"].h)


# Module 3 dots at 203 dpi and 4 at 300 dpi: 0.375 / 0.339 mm, comfortably above the 0.25 mm
# that handheld imagers at a bench read from a hand's length.
TEMPLATES: dict[str, LabelSize] = {
    "4x6-203": _scaled("4x6-203", 4, 6, 203, _BASE_4x6, 3),
    "4x6-300": _scaled("4x6-300", 4, 6, 300, _BASE_4x6, 4),
    "4x2-203": _scaled("4x2-203", 4, 2, 203, _BASE_4x2, 3),
    "4x2-300": _scaled("4x2-300", 4, 2, 300, _BASE_4x2, 4),
}


def get_template(name: str | LabelSize) -> LabelSize:
    if isinstance(name, LabelSize):
        return name
    try:
        return TEMPLATES[name]
    except (KeyError, TypeError):
        raise LabelError(f"unknown label template {clean_text(repr(name), 40)}: "
                         f"expected one of {', '.join(TEMPLATES)}") from None


def sample_label(station_id: str = "B07", *, reprint: int = 0, date: datetime | None = None) -> Label:
    """A realistic label for test prints and benchmarks (sequence 00000000 marks it as a test)."""
    return Label(
        lpn=f"{station_id}-00000000", path="vendor_return", grade="B", lane="express",
        destination="Dock 3 / Vendor cage", sku="SKU-4711-BLK-XL",
        description="Test print - Wireless headphones, black, with charging case",
        station_id=station_id, date=date or datetime.now(UTC), rma_id="RMA-2026-000123",
        reprint=reprint,
    )
