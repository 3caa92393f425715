"""A lead's actions on the exception queue: match to an RMA line by hand, quarantine, void.

Each runs in one write transaction that changes the exception row, writes `exception_resolved`
(and for a match, receives the unit with its `unit_received`), and returns only after the commit.
A refused action changes nothing and raises `LeadActionError` with a one-line reason.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlmodel import Session, select

from dockstation import events
from dockstation.config import Operator
from dockstation.models import Rma, RmaLine, ScanException
from dockstation.receiving.core import Bench, LineChoice, receive_in
from dockstation.store import Store
from dockstation.text import bounded
from dockstation.types import utcnow

MAX_REASON = 200


class LeadActionError(Exception):
    """The action was refused; nothing changed."""


@dataclass(frozen=True)
class Resolution:
    exception_id: int
    action: str  # matched | quarantined | voided
    lpn: str | None
    message: str


def _open_exception(session: Session, lead: Operator | None, exception_id: int) -> ScanException:
    if lead is None or lead.role != "lead":
        raise LeadActionError("Only a lead may resolve exceptions: scan a lead's badge")
    exc = session.get(ScanException, exception_id)
    if exc is None:
        raise LeadActionError(f"No exception #{exception_id}")
    if exc.state != "open":
        raise LeadActionError(f"Exception #{exception_id} is already {exc.state}")
    return exc


def _resolve(session: Session, bench: Bench, lead: Operator, exc: ScanException, action: str,
             reason: str, lpn: str | None, now: datetime) -> None:
    exc.state = action
    exc.resolved_by = lead.badge
    exc.resolved_at = now
    exc.resolution = reason
    exc.lpn = lpn
    session.add(exc)
    events.record(session, bench.station_id, "exception_resolved", operator=lead.badge, lpn=lpn,
                  rma_id=exc.rma_id, at=now,
                  payload={"id": exc.id, "action": action, "reason": reason, "lpn": lpn, "kind": exc.kind})


def _reason(reason: str, required: bool) -> str:
    reason = bounded(" ".join((reason or "").split()), MAX_REASON)
    if required and not reason:
        raise LeadActionError("A reason is needed")
    return reason


def match_exception(store: Store, bench: Bench, lead: Operator | None, exception_id: int, rma_id: str,
                    line_no: int, reason: str = "") -> Resolution:
    """Receive a unit for RMA line `line_no` on the lead's word, and mark the exception matched.

    The lead's match overrides what made the scan an exception (unknown code, window, cancelled
    RMA); only a line that has nothing left to receive is refused.
    """
    reason = _reason(reason, required=False)
    with store.write() as session:
        exc = _open_exception(session, lead, exception_id)
        assert lead is not None
        rma = session.get(Rma, rma_id)
        line = session.get(RmaLine, (rma_id, line_no))
        if rma is None or line is None:
            raise LeadActionError(f"{rma_id} has no line {line_no}")
        if line.received_qty >= line.qty:
            raise LeadActionError(f"{rma_id} line {line_no} is already fully received")
        now = utcnow()
        lpn = receive_in(session, bench, lead.badge, rma, line, code=exc.code, source="lead-match",
                         extra={"exception_id": exc.id}, now=now).lpn
        exc.rma_id = rma_id
        _resolve(session, bench, lead, exc, "matched", reason or f"matched to {rma_id} line {line_no}", lpn, now)
    return Resolution(exception_id, "matched", lpn, f"Exception #{exception_id} matched: received {lpn}")


def quarantine_exception(store: Store, bench: Bench, lead: Operator | None, exception_id: int,
                         reason: str = "") -> Resolution:
    """Send the parcel of an exception to the quarantine cage (no unit is created)."""
    reason = _reason(reason, required=False) or "sent to quarantine"
    with store.write() as session:
        exc = _open_exception(session, lead, exception_id)
        assert lead is not None
        _resolve(session, bench, lead, exc, "quarantined", reason, None, utcnow())
    return Resolution(exception_id, "quarantined", None, f"Exception #{exception_id} sent to quarantine")


def void_exception(store: Store, bench: Bench, lead: Operator | None, exception_id: int,
                   reason: str) -> Resolution:
    """Void an exception (a mis-scan, a test label): a reason is required."""
    reason = _reason(reason, required=True)
    with store.write() as session:
        exc = _open_exception(session, lead, exception_id)
        assert lead is not None
        _resolve(session, bench, lead, exc, "voided", reason, None, utcnow())
    return Resolution(exception_id, "voided", None, f"Exception #{exception_id} voided")


def rma_lines(store: Store, code: str) -> tuple[str, tuple[LineChoice, ...]] | None:
    """The RMA a lead typed or scanned (its id, or a tracking number on one of its lines) and its
    lines, for `match_exception`; None if the manifest has neither."""
    code = code.strip()
    with store.read() as session:
        rma = session.get(Rma, code)
        if rma is None:
            rma_id = session.exec(select(RmaLine.rma_id).where(RmaLine.tracking_number == code).limit(1)).first()
            rma = session.get(Rma, rma_id) if rma_id else None
        if rma is None:
            return None
        lines = session.exec(select(RmaLine).where(RmaLine.rma_id == rma.rma_id).order_by(RmaLine.line_no)).all()
        return rma.rma_id, tuple(LineChoice(l.line_no, l.sku, l.gtin, l.description, l.qty, l.received_qty)
                                 for l in lines)
