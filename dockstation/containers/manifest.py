"""A container's manifest: every unit inside (LPN, SKU, description, grade, path, recovery value),
as CSV (cells safe from formula injection, csv_out.py) or as a PDF (fpdf2, a Unicode font: the
DejaVu Sans Mono that ships with python-barcode, so descriptions in any Latin, Greek or Cyrillic
script print as they are). The PDF is real text, so it can be searched and read back.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

from sqlmodel import Session

from dockstation.containers.queries import units_in
from dockstation.csv_out import SafeWriter
from dockstation.models import Container
from dockstation.store import Store
from dockstation.text import clean

COLUMNS = ("lpn", "sku", "description", "grade", "path", "recovery_value")
FORMATS = ("csv", "pdf")


@dataclass(frozen=True)
class Manifest:
    container: Container
    rows: list[tuple[str, str, str, str, str, Decimal]]

    @property
    def total(self) -> Decimal:
        return sum((r[5] for r in self.rows), Decimal("0.00"))


def manifest_of(session: Session, container_id: str) -> Manifest | None:
    c = session.get(Container, container_id)
    if c is None:
        return None
    rows = [(u.lpn, u.sku, u.description, u.grade or "", u.disposition or "", Decimal(u.recovery_value or 0))
            for u in units_in(session, container_id)]
    return Manifest(c, rows)


def load(store: Store, container_id: str) -> Manifest | None:
    with store.read() as session:
        return manifest_of(session, container_id)


def to_csv(m: Manifest) -> bytes:
    out = io.StringIO()
    w = SafeWriter(out)
    w.writerow(COLUMNS)
    for row in m.rows:
        w.writerow([*row[:5], f"{row[5]:.2f}"])
    return out.getvalue().encode("utf-8")


def _font_path() -> str:
    from labels.image import _MONO

    return _MONO


def to_pdf(m: Manifest) -> bytes:
    from fpdf import FPDF  # here: only a manifest needs it

    c = m.container
    pdf = FPDF(format="letter", unit="pt")
    pdf.set_auto_page_break(True, margin=36)
    pdf.set_margins(36, 36, 36)
    pdf.add_font("mono", "", _font_path())
    pdf.set_title(f"Manifest {c.id}")
    pdf.set_creation_date(c.closed_at or c.opened_at)
    pdf.add_page()
    pdf.set_font("mono", size=14)
    paths = ", ".join(c.paths)
    pdf.cell(0, 18, f"Container {c.id}  {c.kind}  {paths}", new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("mono", size=9)
    where = f"vendor {c.vendor}  RA {c.authorisation or '-'}" if c.vendor else f"to {c.destination or '-'}"
    closed = f"{c.closed_at:%Y-%m-%d %H:%M} UTC" if c.closed_at else "open"
    pdf.cell(0, 12, clean(f"{where}  station {c.station_id}  closed {closed}"), new_x="LMARGIN", new_y="NEXT")
    pdf.cell(0, 12, f"units {len(m.rows)}  value {m.total:.2f}  lot grade {c.lot_grade or '-'}",
             new_x="LMARGIN", new_y="NEXT")
    pdf.ln(6)
    widths = (80, 110, 230, 30, 50, 40)
    pdf.set_font("mono", size=8)
    for text, w in zip(("LPN", "SKU", "DESCRIPTION", "GRADE", "PATH", "VALUE"), widths, strict=True):
        pdf.cell(w, 11, text)
    pdf.ln(11)
    for row in m.rows:
        cells = (row[0], row[1], row[2], row[3], row[4], f"{row[5]:.2f}")
        for text, w in zip(cells, widths, strict=True):
            limit = max(1, int(w / 4.9))  # 0.6 em at 8 pt
            pdf.cell(w, 10, clean(text, limit=limit))
        pdf.ln(10)
    return bytes(pdf.output())


def render(m: Manifest, fmt: str) -> bytes:
    if fmt == "csv":
        return to_csv(m)
    if fmt == "pdf":
        return to_pdf(m)
    raise ValueError(f"unknown manifest format {fmt!r}: csv or pdf")


def write_files(m: Manifest, folder: Path) -> list[Path]:
    """The manifest as `<id>.csv` and `<id>.pdf` in `folder` (the home's containers/ folder)."""
    folder.mkdir(parents=True, exist_ok=True)
    out = []
    for fmt in FORMATS:
        path = folder / f"{m.container.id}-manifest.{fmt}"
        tmp = path.with_suffix(path.suffix + ".tmp")
        tmp.write_bytes(render(m, fmt))
        tmp.replace(path)
        out.append(path)
    return out
