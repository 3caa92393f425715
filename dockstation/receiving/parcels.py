"""Parcels of several items (docs/receiving.md, "Parcels of several items").

An RMA with several lines, or a line with `qty > 1`, is one parcel holding several items: the
bench shows "N of M received", the item's GTIN receives its line, and `CMD:DONE` closes the
parcel: every line not fully received becomes missing (a `line_missing` event each), a parcel
closed with nothing received is recorded as empty (`parcel_closed` says so), and the RMA's refund
is decided once its units are disposed (receiving/refunds.py). An item whose GTIN is on no line
of the RMA is received as an extra unit flagged `undeclared_item`, routed by the policy like any
risk flag (config/policy.toml).

Plain Python: each use case is one write transaction with its events.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlmodel import Session, select

from dockstation import events
from dockstation.config import Operator
from dockstation.models import Parcel, Rma, RmaLine, Unit
from dockstation.receiving.core import MESSAGES, Bench, Outcome, _choices, receive_in, record_exception
from dockstation.receiving.refunds import UNDECLARED, decide_if_final
from dockstation.scan import ScanEvent
from dockstation.store import Store
from dockstation.types import utcnow


@dataclass(frozen=True)
class Closed:
    rma_id: str
    message: str
    ok: bool = True
    empty: bool = False
    missing: tuple[dict[str, Any], ...] = ()
    refund: dict[str, Any] | None = None  # the refund decision, if it was final at once
    progress: tuple[int, int] = (0, 0)
    extra: dict[str, Any] = field(default_factory=dict)


def progress(session: Session, rma_id: str) -> tuple[int, int]:
    """(items received, items expected) of the RMA's lines."""
    row = session.connection().exec_driver_sql(
        "SELECT coalesce(sum(min(received_qty, qty)), 0), coalesce(sum(qty), 0) FROM rma_line WHERE rma_id = ?",
        (rma_id,)).one()
    return int(row[0]), int(row[1])


def _gtin_variants(gtin: str) -> list[str]:
    core = gtin.lstrip("0")
    return sorted({gtin, *(core.zfill(n) for n in (8, 12, 13, 14) if len(core) <= n)})


def receive_undeclared(store: Store, bench: Bench, operator: Operator, rma_id: str, gtin: str,
                       scan: ScanEvent) -> Outcome:
    """An item in the parcel that is on no line of its RMA: an extra unit flagged
    `undeclared_item` (line 0, no refund for it). What the manifest knows of the product on
    other RMAs (SKU, description, category, price) describes it; else it is "other"."""
    now = utcnow()
    with store.write() as session:
        rma = session.get(Rma, rma_id)
        if rma is None:
            exc = record_exception(session, bench, kind="unknown_rma", code=scan.code, operator=operator.badge,
                                   source=scan.source, detail=rma_id)
            return Outcome("exception", MESSAGES["unknown_rma"], exception_id=exc.id, exception_kind="unknown_rma")
        known = session.exec(select(RmaLine).where(RmaLine.gtin.in_(_gtin_variants(gtin))).limit(1)).first()  # type: ignore[union-attr]
        line = RmaLine(rma_id=rma_id, line_no=0, sku=known.sku if known else "", gtin=gtin,
                       description=(known.description if known else f"Undeclared item (GTIN {gtin})"),
                       category=known.category if known else "other",
                       unit_price=known.unit_price if known else Decimal("0"),
                       currency=known.currency if known else "USD", reason_code="")
        view = receive_in(session, bench, operator.badge, rma, line, code=scan.code, source=scan.source,
                          extra={"undeclared": True, "gtin": gtin}, now=now, declared=False)
        done = progress(session, rma_id)
        lines = _choices(list(session.exec(select(RmaLine).where(RmaLine.rma_id == rma_id).order_by(RmaLine.line_no))))
    return Outcome("received", f"Received {view.lpn}: not on {rma_id} — flagged {UNDECLARED}", unit=view,
                   rma_id=rma_id, progress=done, lines=lines, extra={"undeclared": "1"})


def close_parcel(store: Store, bench: Bench, operator: Operator, rma_id: str, *, policy: Any,
                 now: datetime | None = None) -> Closed:
    """`CMD:DONE` on an open parcel: lines not received are missing (an event each), the parcel
    is closed (empty if nothing was received), and its refund decided if its units are disposed."""
    at = now or utcnow()
    with store.write() as session:
        rma = session.get(Rma, rma_id)
        if rma is None:
            return Closed(rma_id, f"No RMA {rma_id}", ok=False)
        parcel = session.get(Parcel, rma_id)
        if parcel is not None and parcel.state == "closed":
            return Closed(rma_id, f"{rma_id}: parcel already closed", ok=False, progress=progress(session, rma_id))
        lines = list(session.exec(select(RmaLine).where(RmaLine.rma_id == rma_id).order_by(RmaLine.line_no)))
        units = session.exec(select(Unit.lpn).where(Unit.rma_id == rma_id, Unit.state != "voided")).all()
        missing = []
        for l in lines:
            short = l.qty - l.received_qty
            if short > 0:
                value = (Decimal(l.unit_price) * short).quantize(Decimal("0.01"))
                missing.append({"line_no": l.line_no, "sku": l.sku, "description": l.description, "qty": short,
                                "unit_price": str(l.unit_price), "value": str(value), "currency": l.currency})
        empty = not units
        parcel = parcel or Parcel(rma_id=rma_id, opened_at=at)
        parcel.state, parcel.closed_at, parcel.closed_by = "closed", at, operator.badge
        parcel.empty, parcel.missing = empty, missing
        session.add(parcel)
        for m in missing:
            events.record(session, bench.station_id, "line_missing", operator=operator.badge, rma_id=rma_id, at=at,
                          payload=m)
        events.record(session, bench.station_id, "parcel_closed", operator=operator.badge, rma_id=rma_id, at=at,
                      payload={"empty": empty, "missing": len(missing), "units": len(units),
                               "items_missing": sum(m["qty"] for m in missing)})
        session.flush()
        refund = decide_if_final(session, bench.station_id, policy, rma_id, at, operator.badge)
        done = progress(session, rma_id)
    if empty:
        message = f"{rma_id}: recorded as an EMPTY parcel — {len(missing)} line(s) missing"
    elif missing:
        message = f"{rma_id}: closed, {done[0]} of {done[1]} items — {sum(m['qty'] for m in missing)} missing"
    else:
        message = f"{rma_id}: closed, all {done[1]} items received"
    return Closed(rma_id, message, empty=empty, missing=tuple(missing), refund=refund, progress=done)


def open_parcel(session: Session, rma_id: str, at: datetime) -> Parcel:
    """The parcel of an RMA the bench is receiving (created on its first scan)."""
    parcel = session.get(Parcel, rma_id)
    if parcel is None:
        parcel = Parcel(rma_id=rma_id, opened_at=at)
        session.add(parcel)
    return parcel

