"""Receiving use cases over the store. Plain Python: no Textual, no serial, no HTTP.

Each function that changes state does it in one write transaction together with its event, and
returns an `Outcome` only after that transaction committed; the TUI shows and beeps on it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any, Literal

from sqlalchemy.orm.attributes import set_committed_value
from sqlmodel import Session

from dockstation import carriers, events, rows
from dockstation.config import CarrierRules, CodesConfig, Operator, OperatorsConfig
from dockstation.models import Rma, RmaLine, ScanException, Unit
from dockstation.scan import Classified, CodeKind, ScanEvent
from dockstation.store import Store
from dockstation.text import bounded, clean
from dockstation.types import as_utc, utcnow


@dataclass(frozen=True)
class Lane:
    name: str
    sla_hours: float
    flags: tuple[str, ...] = ()
    reason: str = ""


# Triage picks the lane of a unit at receipt (dockstation.policy provides the real one). It is
# given the receipt's transaction, a Session or (a parcel scan) a plain `rows.Tx`: the reads it
# makes go through `rows.first` / `rows.execute`, which take either.
Triage = Callable[[rows.Db, Rma, RmaLine], Lane]


def default_triage(session: rows.Db, rma: Rma, line: RmaLine) -> Lane:
    return Lane("standard", 48.0, reason="default lane")


@dataclass(frozen=True)
class Bench:
    """What the use cases need to know about this bench."""

    station_id: str
    codes: CodesConfig
    operators: OperatorsConfig
    grace_days: int = 0
    triage: Triage = default_triage
    receipt_label: bool = False  # queue the LPN label at receipt (station.toml [printer] receipt_label)


@dataclass(frozen=True)
class UnitView:
    lpn: str
    rma_id: str | None  # None: held (a blind receipt, receiving/holds.py)
    line_no: int
    sku: str
    description: str
    category: str
    lane: str
    sla_due_at: datetime | None
    received_at: datetime
    state: str
    unit_price: Decimal
    currency: str
    reason_code: str = ""
    risk_flags: tuple[str, ...] = ()

    @classmethod
    def of(cls, unit: Unit, reason_code: str = "") -> UnitView:
        return cls(
            lpn=unit.lpn, rma_id=unit.rma_id, line_no=unit.line_no, sku=unit.sku,
            description=unit.description, category=unit.category, lane=unit.lane,
            sla_due_at=unit.sla_due_at, received_at=unit.received_at, state=unit.state,
            unit_price=unit.unit_price, currency=unit.currency, reason_code=reason_code,
            risk_flags=tuple(unit.risk_flags or ()),
        )


@dataclass(frozen=True)
class LineChoice:
    line_no: int
    sku: str
    gtin: str | None
    description: str
    qty: int
    received_qty: int


Status = Literal["received", "choose_line", "exception", "signed_in", "ignored"]


@dataclass(frozen=True)
class Outcome:
    status: Status
    message: str
    unit: UnitView | None = None
    rma_id: str | None = None
    lines: tuple[LineChoice, ...] = ()
    exception_id: int | None = None
    exception_kind: str | None = None
    operator: Operator | None = None
    extra: dict[str, str] = field(default_factory=dict)
    progress: tuple[int, int] | None = None  # a parcel of several items: (received, expected)

    @property
    def ok(self) -> bool:
        return self.status != "exception"


# Clear messages, one per exception kind (shown big, in red, with an error sound).
MESSAGES = {
    "signed_out": "Nobody is signed in: scan your badge (OP-…) first",
    "unknown_badge": "Unknown badge: not in operators.toml",
    "unknown_rma": "Unknown RMA: not in the manifest",
    "unknown_tracking": "Unknown tracking number: no RMA has it",
    "cancelled": "RMA is cancelled: do not receive, set aside for the lead",
    "outside_window": "Outside the return window",
    "duplicate": "RMA already fully received",
    "invalid_code": "Unreadable or invalid code",
    "unknown_code": "Not a code the bench knows",
    "wrong_item": "Product does not match any line of this RMA",
    "not_permitted": "Your role may not do this",
}


def record_exception(
    session: rows.Db,
    bench: Bench,
    *,
    kind: str,
    code: str,
    operator: str | None,
    source: str,
    detail: str = "",
    rma_id: str | None = None,
    value: Decimal | None = None,
) -> Any:
    """Record a scan that could not be received, with its event, in the caller's transaction (a
    Session or a plain `rows.Tx`); the `scan_exception` row as a `rows.Row` (its `id` among them),
    stored as the model stores it."""
    exc = rows.insert(session, ScanException, kind=kind, code=bounded(code), station_id=bench.station_id,
                      at=utcnow(), operator=operator, detail=bounded(detail), source=source, rma_id=rma_id,
                      value=value)
    events.record(
        session, bench.station_id, "exception_recorded", operator=operator, rma_id=rma_id,
        payload={"id": exc.id, "kind": kind, "code": exc.code, "detail": exc.detail,
                 "source": source, "value": value},
    )
    return exc


def _exception(store: Store, bench: Bench, scan: ScanEvent, operator: str | None, kind: str,
               detail: str = "", rma_id: str | None = None, value: Decimal | None = None) -> Outcome:
    with store.plain_write() as tx:
        return _exception_in(tx, bench, scan, operator, kind, detail, rma_id, value)


def _exception_in(session: rows.Db, bench: Bench, scan: ScanEvent, operator: str | None, kind: str,
                  detail: str = "", rma_id: str | None = None, value: Decimal | None = None) -> Outcome:
    exc = record_exception(session, bench, kind=kind, code=scan.code, operator=operator,
                           source=scan.source, detail=detail, rma_id=rma_id, value=value)
    message = MESSAGES.get(kind, kind)
    if detail:
        message = f"{message} — {clean(detail, limit=120)}"
    return Outcome("exception", message, rma_id=rma_id, exception_id=exc.id, exception_kind=kind)


def sign_in(store: Store, bench: Bench, scan: ScanEvent, badge: str) -> Outcome:
    op = bench.operators.by_badge(badge)
    if op is None:
        return _exception(store, bench, scan, None, "unknown_badge", f"badge {badge!r}")
    with store.write() as session:
        events.record(session, bench.station_id, "operator_signed_in", operator=op.badge,
                      payload={"name": op.name, "role": op.role, "source": scan.source})
    return Outcome("signed_in", f"Signed in: {op.name} ({op.role})", operator=op)


def sign_out(store: Store, bench: Bench, operator: Operator) -> None:
    with store.write() as session:
        events.record(session, bench.station_id, "operator_signed_out", operator=operator.badge)


# The scan path (a parcel scan: its look-up, lines, unit, line count, events, label job and its
# exception, if any) is plain SQL through `rows` in a plain write transaction (Store.plain_write):
# no Session, no ORM objects, no SQLAlchemy statement per call. Through the Session and Core the
# same statements cost ~3x the SQLite work (issue 19, bench/README.md --pty). Rows are read as
# `rows.Row`: columns as attributes, converted by the columns' own types (dates, Decimal), and
# written by the same types' bind processors: stored byte for byte as the models store them
# (tests/receiving/test_plain_receipt.py).
# The RMA and its lines in order, in one statement (a LEFT JOIN: an RMA without lines is one row).
_RMA_WIDTH = rows.width(Rma)
_PARCEL = (f"SELECT {rows.columns(Rma, 'r')}, {rows.columns(RmaLine, 'l')} FROM rma r "
           "LEFT JOIN rma_line l ON l.rma_id = r.rma_id WHERE r.rma_id = {key} ORDER BY l.line_no")
_FIND_RMA = _PARCEL.format(key="?")
_FIND_TRACKING = _PARCEL.format(key="(SELECT rma_id FROM rma_line WHERE tracking_number = ? LIMIT 1)")
LINES = f"SELECT {rows.columns(RmaLine, 'l')} FROM rma_line l WHERE l.rma_id = ? ORDER BY l.line_no"
_COUNT_LINE = ("UPDATE rma_line SET received_qty = received_qty + 1 WHERE rma_id = ? AND line_no = ? "
               "RETURNING received_qty")


def _find_rma(db: rows.Db, c: Classified, rules: CarrierRules | None = None) -> tuple[Any, list[Any], str]:
    """The RMA a parcel code names and its lines in order (`rows.Row`s), or (None, [], why)."""
    if c.kind is CodeKind.RMA:
        sql, key, missing = _FIND_RMA, c.value, "unknown_rma"
    else:
        # Tracking numbers, normalised as the manifest's were at import (dockstation.carriers), and
        # digit-only codes that could be either a tracking number or a GTIN.
        sql, missing = _FIND_TRACKING, "unknown_tracking"
        key = carriers.normalise(c.raw, rules).number
        if c.kind is CodeKind.TRACKING and c.carrier == "sscc" and c.sscc:
            key = c.sscc
    found = rows.execute(db, sql, (key,)).fetchall()
    if not found:
        return None, [], missing
    rma = rows.from_raw(db, Rma, found[0][:_RMA_WIDTH])
    lines = [rows.from_raw(db, RmaLine, r[_RMA_WIDTH:]) for r in found if r[_RMA_WIDTH] is not None]
    return rma, lines, missing


def parcel_of_product_code(store: Store, bench: Bench, c: Classified) -> str | None:
    """The RMA whose tracking number a product barcode (GS1, digits only) also is, or None.

    A FedEx Express number is 12 digits like a UPC-A, and some codes pass both check digits:
    `classify` cannot tell them apart, the manifest can. While a parcel of several items is open,
    the receiving screen asks this before it takes such a code as an item of that parcel, so the
    next parcel's label is never received as an undeclared item of the last one."""
    if c.kind is not CodeKind.GS1 or not (c.raw.isascii() and c.raw.isdigit()):
        return None
    with store.read() as session:
        rma, _, _ = _find_rma(session, Classified(CodeKind.TRACKING, c.raw, value=c.raw), bench.codes.carriers)
    return rma.rma_id if rma is not None else None


def rma_lines(db: rows.Db, rma_id: str) -> list[Any]:
    """The RMA's lines in order (`rows.Row`s: their columns as attributes)."""
    return [rows.from_raw(db, RmaLine, r) for r in rows.execute(db, LINES, (rma_id,))]


def _choices(lines: list[Any]) -> tuple[LineChoice, ...]:
    return tuple(LineChoice(l.line_no, l.sku, l.gtin, l.description, l.qty, l.received_qty) for l in lines)


def _check_rma(bench: Bench, rma: Any, now: datetime) -> tuple[str, str] | None:
    if rma.status == "cancelled":
        return "cancelled", f"{rma.rma_id}"
    deadline = as_utc(rma.expires_at) + timedelta(days=bench.grace_days)
    if now > deadline:
        return "outside_window", f"{rma.rma_id} expired {deadline:%Y-%m-%d %H:%M} UTC"
    return None


def handle_scan(store: Store, bench: Bench, operator: Operator | None, scan: ScanEvent,
                c: Classified) -> Outcome:
    """A parcel scan at the receiving screen: RMA, tracking number or unreadable code."""
    if c.kind is CodeKind.INVALID:
        return _exception(store, bench, scan, operator and operator.badge, "invalid_code", c.problem or "")
    if c.kind is CodeKind.UNKNOWN:
        return _exception(store, bench, scan, operator and operator.badge, "unknown_code")
    if operator is None:
        return _exception(store, bench, scan, None, "signed_out")
    if c.kind not in (CodeKind.RMA, CodeKind.TRACKING, CodeKind.GS1):
        return Outcome("ignored", f"{c.kind.value} code not used here")
    now = utcnow()
    # One write transaction for the look-up and the receipt (a parcel scan is one input: one
    # commit); a scan that receives nothing commits nothing but its exception, if any.
    with store.plain_write() as session:
        rma, lines, missing = _find_rma(session, c, bench.codes.carriers)
        if rma is None:
            if c.kind is CodeKind.GS1:
                return Outcome("ignored", "Product barcode: scan the RMA or the tracking label first")
            return _exception_in(session, bench, scan, operator.badge, missing, c.value)
        if problem := _check_rma(bench, rma, now):
            return _exception_in(session, bench, scan, operator.badge, problem[0], problem[1], rma.rma_id)
        remaining = [l for l in lines if l.received_qty < l.qty]
        if not remaining:
            return _exception_in(session, bench, scan, operator.badge, "duplicate", rma.rma_id, rma.rma_id)
        if len(lines) == 1 or len(remaining) == 1:
            return _receive_line_in(session, bench, operator, rma, remaining[0], scan, lines)
    return Outcome("choose_line", f"{rma.rma_id}: which item is this? Scan its barcode or pick a line",
                   rma_id=rma.rma_id, lines=_choices(lines))


def line_for_gtin(lines: tuple[LineChoice, ...], gtin: str) -> LineChoice | None:
    """The first line still open whose GTIN matches (GTIN-12/13/14 compared as 14 digits)."""
    want = gtin.zfill(14)
    return next((l for l in lines if l.gtin and l.gtin.zfill(14) == want and l.received_qty < l.qty), None)


def receive_in(session: rows.Db, bench: Bench, operator: str, rma: Any, line: Any, *, code: str,
               source: str, extra: dict[str, object] | None = None, now: datetime | None = None,
               declared: bool = True) -> UnitView:
    """Create one unit for `line` in the caller's transaction: LPN, lane, state rows and event,
    and its receipt label's print job when the bench prints one (`Bench.receipt_label`).
    `declared=False`: an item on no line of the RMA (receiving/parcels.py); `line` then only
    describes it (line 0, never stored) and the unit is flagged `undeclared_item`.
    `session`: a Session or a plain `rows.Tx`. `rma` and `line`: model objects or `rows.Row`s
    (only their attributes are read); a model line's `received_qty` is kept in step with the row
    (no second UPDATE at the session's flush).

    The one place a unit is born (a clerk's scan, or a lead matching an exception by hand)."""
    now = now or utcnow()
    lane = bench.triage(session, rma, line)
    flags = list(lane.flags) if declared else [*lane.flags, "undeclared_item"]
    lpn = f"{bench.station_id}-{events.bump(session, f'lpn:{bench.station_id}'):08d}"
    sla_due_at = now + timedelta(hours=lane.sla_hours)
    # Plain SQL, not the ORM (see _FIND_RMA above): the columns not given get the model's defaults.
    rows.insert(session, Unit, lpn=lpn, rma_id=rma.rma_id, line_no=line.line_no, station_id=bench.station_id,
                sku=line.sku, category=line.category, description=line.description, unit_price=line.unit_price,
                currency=line.currency, state="received", lane=lane.name, sla_due_at=sla_due_at,
                risk_flags=flags, received_at=now, received_by=operator, source=source, updated_at=now)
    if declared:
        counted = rows.first(session, _COUNT_LINE, (rma.rma_id, line.line_no))[0]
        if isinstance(line, RmaLine):
            set_committed_value(line, "received_qty", counted)
    events.record(
        session, bench.station_id, "unit_received", operator=operator, lpn=lpn, rma_id=rma.rma_id, at=now,
        payload={"line_no": line.line_no, "sku": line.sku, "category": line.category,
                 "lane": lane.name, "sla_hours": lane.sla_hours, "lane_reason": lane.reason,
                 "risk_flags": flags, "unit_price": line.unit_price,
                 "currency": line.currency, "code": code, "source": source, **(extra or {})},
    )
    if bench.receipt_label:  # the unit's own barcode from the start; rendered by the print worker
        from labels.queue import queue_job  # here: the receiving core needs no label code otherwise

        queue_job(session, lpn, bench.station_id, operator=operator, label="receipt")
    return UnitView(
        lpn=lpn, rma_id=rma.rma_id, line_no=line.line_no, sku=line.sku, description=line.description,
        category=line.category, lane=lane.name, sla_due_at=sla_due_at, received_at=now, state="received",
        unit_price=line.unit_price, currency=line.currency, reason_code=line.reason_code,
        risk_flags=tuple(flags),
    )


def receive_line(store: Store, bench: Bench, operator: Operator, rma_id: str, line_no: int,
                 scan: ScanEvent) -> Outcome:
    """Create the unit for one line of an RMA: LPN, lane, state rows and event in one transaction."""
    with store.write() as session:
        rma = session.get(Rma, rma_id)
        line = session.get(RmaLine, (rma_id, line_no))
        if rma is None or line is None:
            kind, detail = "unknown_rma", f"{rma_id} line {line_no}"
        elif line.received_qty >= line.qty:
            kind, detail = "duplicate", f"{rma_id} line {line_no} already received"
        else:
            kind = ""
        if kind:
            exc = record_exception(session, bench, kind=kind, code=scan.code, operator=operator.badge,
                                   source=scan.source, detail=detail, rma_id=rma_id)
            return Outcome("exception", f"{MESSAGES[kind]} — {detail}", rma_id=rma_id,
                           exception_id=exc.id, exception_kind=kind)
        assert rma is not None and line is not None
        return _receive_line_in(session, bench, operator, rma, line, scan)


def _receive_line_in(session: rows.Db, bench: Bench, operator: Operator, rma: Any, line: Any, scan: ScanEvent,
                     read: list[Any] | None = None) -> Outcome:
    """Receive one unit of `line` in the caller's transaction (`read`: the RMA's lines, if read)."""
    rma_id = rma.rma_id
    view = receive_in(session, bench, operator.badge, rma, line, code=scan.code, source=scan.source)
    lpn = view.lpn
    progress, lines = None, ()
    several = line.line_no > 1 or (any(r.line_no != 1 for r in read) if read is not None
                                   else _has_more_lines(session, rma_id))
    if line.qty > 1 or several:  # a parcel of several items: its lines as they are now, this one counted
        now_read = rma_lines(session, rma_id)
        progress = (sum(min(l.received_qty, l.qty) for l in now_read), sum(l.qty for l in now_read))
        lines = _choices(now_read)
    if progress is not None:
        return Outcome("received", f"Received {lpn} · {progress[0]} of {progress[1]} items", unit=view,
                       rma_id=rma_id, progress=progress, lines=lines)
    return Outcome("received", f"Received {lpn}", unit=view, rma_id=rma_id)


def _has_more_lines(db: rows.Db, rma_id: str) -> bool:
    return rows.first(db, "SELECT EXISTS (SELECT 1 FROM rma_line WHERE rma_id = ? AND line_no != 1)",
                      (rma_id,))[0] == 1
