"""The container label: a tote, gaylord, pallet or vendor-return box, 4 x 6 in (docs/containers.md).

The container id as Code 128 (scan it to put a unit in, or after CMD:CLOSE to close it), the
path(s) in large letters, where it goes (destination, or the vendor and its return
authorisation), the unit count, the total recovery value and the lot grade (the lowest grade
inside). Same rules as the unit labels: every text field cleaned (labels/model.py), ZPL fields
`^FH` hex-escaped (labels/zpl.py), the barcode payload validated, never escaped data.
"""

from __future__ import annotations

import io
import re
from dataclasses import dataclass
from datetime import UTC, datetime

from PIL import Image, ImageDraw

from labels.image import _fitted_size, code128_modules, draw_code128, font, image_pdf
from labels.layout import Line
from labels.model import LabelError, clean_text, clip, get_template
from labels.zpl import _FONT0_EM, _text

__all__ = ["ContainerLabel", "container_layout", "render_container", "validate_container_id"]

ID_RE = re.compile(r"[A-Z0-9][A-Z0-9_-]{0,31}", re.ASCII)
# 203-dpi dots on the 812 x 1218 label: (x, y, height, width).
_SLOTS = {
    "title": (24, 22, 110, 764), "state": (24, 140, 40, 764), "rule": (24, 188, 4, 764),
    "barcode": (54, 210, 200, 0), "id": (54, 420, 60, 734),
    "where": (24, 500, 44, 764), "ra": (24, 552, 44, 764),
    "units": (24, 620, 60, 764), "value": (24, 690, 60, 764),
    "grade": (24, 780, 110, 764), "station": (24, 1160, 32, 764),
}


def validate_container_id(value: object) -> str:
    if not isinstance(value, str) or not ID_RE.fullmatch(value):
        raise LabelError(f"invalid container id {clean_text(repr(value), 40)}: 1-32 of A-Z 0-9 - _")
    return value


@dataclass(frozen=True)
class ContainerLabel:
    container_id: str
    kind: str
    paths: tuple[str, ...]
    station_id: str
    date: datetime
    destination: str | None = None
    vendor: str | None = None
    units: int = 0
    value: str = "0.00"
    lot_grade: str | None = None
    authorisation: str | None = None
    state: str = "open"

    def __post_init__(self) -> None:
        validate_container_id(self.container_id)
        if not isinstance(self.date, datetime) or self.date.tzinfo is None:
            raise LabelError("label date must be a timezone-aware datetime")
        set_ = object.__setattr__
        set_(self, "date", self.date.astimezone(UTC))
        for name in ("kind", "station_id", "destination", "vendor", "value", "lot_grade", "authorisation", "state"):
            value = getattr(self, name)
            if value is not None:
                set_(self, name, clean_text(value, 64) or None)
        set_(self, "paths", tuple(clean_text(p, 32) for p in self.paths))

    @property
    def title(self) -> str:
        paths = " + ".join(p.replace("_", " ").upper() for p in self.paths) or "?"
        return f"{paths} {(self.kind or '').replace('_', ' ').upper()}".strip()

    @property
    def lpn(self) -> str:  # image_pdf's title
        return self.container_id


def container_layout(label: ContainerLabel, dpi: int = 203) -> list[Line]:
    k = dpi / 203
    out: list[Line] = []

    def slot(name: str, kind: str, value: str = "") -> None:
        x, y, h, w = (round(v * k) for v in _SLOTS[name])
        chars = max(1, int(w / (0.602 * h))) if w and h else 0
        out.append(Line(name, kind, x, y, h, w, clip(value, chars) if kind == "text" else value))

    slot("title", "fit", label.title)
    slot("state", "text", f"{(label.state or '').upper()}  {label.date:%Y-%m-%d %H:%M} UTC")
    slot("rule", "rule")
    slot("barcode", "barcode", label.container_id)
    slot("id", "text", label.container_id)
    if label.vendor:
        slot("where", "text", f"VENDOR {label.vendor}")
        slot("ra", "text", f"RA {label.authorisation}" if label.authorisation else "RA: needed to close")
    elif label.destination:
        slot("where", "text", f"TO {label.destination}")
    slot("units", "text", f"UNITS {label.units}")
    slot("value", "text", f"VALUE {label.value}")
    slot("grade", "fit", f"LOT GRADE {label.lot_grade or '-'}")
    slot("station", "text", f"{label.station_id}")
    return out


def _dpi(template: str) -> int:
    return get_template(template).dpi  # 4x6 or 4x2 at 203/300: the container label is 4x6 at that dpi


def render_container(label: ContainerLabel, fmt: str, template: str = "4x6-203") -> bytes:
    dpi = _dpi(template)
    if fmt == "zpl":
        return _zpl(label, dpi)
    if fmt not in ("png", "pdf"):
        raise LabelError(f"unknown label format {clean_text(repr(fmt), 20)}: expected zpl, png, pdf")
    im = _image(label, dpi)
    if fmt == "pdf":
        return image_pdf([im], dpi, title=label.container_id, when=label.date.utctimetuple())
    buf = io.BytesIO()
    im.save(buf, "PNG", dpi=(dpi, dpi))
    return buf.getvalue()


def _module(dpi: int, payload: str) -> int:
    """3 dots at 203 dpi, 4 at 300; narrower for a long preprinted id, so it fits with its quiet zones."""
    n = len(code128_modules(payload)) + 20
    width = round(4 * dpi) - 2 * round(24 * dpi / 203)
    for module in ((3, 2, 1) if dpi < 300 else (4, 3, 2)):
        if n * module <= width:
            return module
    raise LabelError(f"container id {payload!r} is too long for the label's barcode")


def _zpl(label: ContainerLabel, dpi: int) -> bytes:
    w, h = round(4 * dpi), round(6 * dpi)
    out = [b"^XA", b"^CI28", b"^PW%d" % w, b"^LL%d" % h, b"^LH0,0"]
    for line in container_layout(label, dpi):
        if line.kind == "rule":
            out.append(b"^FO%d,%d^GB%d,%d,%d^FS" % (line.x, line.y, line.w, line.h, line.h))
        elif line.kind == "barcode":
            payload = validate_container_id(line.text).encode("ascii")
            out.append(b"^FO%d,%d^BY%d^BCN,%d,N,N,N,A^FH^FD%s^FS" % (line.x, line.y, _module(dpi, line.text), line.h, payload))
        elif line.kind == "fit":
            font_w = min(line.h, int(line.w / (_FONT0_EM * max(1, len(line.text)))))
            out.append(_text(line.x, line.y, line.h, line.w, line.text, font_w))
        else:
            out.append(_text(line.x, line.y, line.h, line.w, line.text))
    out += [b"^XZ", b""]
    zpl = b"\n".join(out)
    if zpl.count(b"^XA") != 1 or zpl.count(b"^XZ") != 1 or b"~" in zpl:
        raise LabelError("internal error: ZPL framing check failed")
    return zpl


def _image(label: ContainerLabel, dpi: int) -> Image.Image:
    im = Image.new("1", (round(4 * dpi), round(6 * dpi)), 1)
    draw = ImageDraw.Draw(im)
    for line in container_layout(label, dpi):
        if line.kind == "rule":
            draw.rectangle((line.x, line.y, line.x + line.w - 1, line.y + line.h - 1), fill=0)
        elif line.kind == "barcode":
            draw_code128(draw, line.x, line.y, validate_container_id(line.text), _module(dpi, line.text), line.h)
        elif line.kind == "fit":
            px = _fitted_size(line.text, line.h, line.w)
            draw.text((line.x, line.y), line.text, font=font(px), fill=0, stroke_width=max(1, px // 24), stroke_fill=0)
        else:
            draw.text((line.x, line.y), line.text, font=font(line.h), fill=0)
    return im
