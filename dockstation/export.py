"""Export units, exceptions and events as CSV or JSON (the Export JSON contract, ARCHITECTURE.md).

Rows are streamed from one read transaction (a consistent snapshot) straight to the output, a
few thousand at a time, so a million units never sit in memory. Times are ISO 8601 in UTC with
an explicit offset, decimals are strings (exact), lists/objects are JSON (JSON text in CSV).
CSV cells are neutralised against formula injection (dockstation.csv_out); JSON is exact.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime
from decimal import Decimal
from typing import Any, Literal, TextIO

from sqlalchemy import and_, func, or_, select
from sqlalchemy.orm import aliased

from dockstation import csv_out
from dockstation.models import (
    ApprovalRequest,
    Container,
    ContainerUnit,
    Decision,
    Event,
    Photo,
    ScanException,
    Unit,
)
from dockstation.store import Store
from dockstation.types import as_utc, dumps, iso

What = Literal["units", "exceptions", "events", "photos", "containers"]
Format = Literal["csv", "json"]
KINDS: tuple[str, ...] = ("units", "exceptions", "events", "photos", "containers")
FORMATS: tuple[str, ...] = ("csv", "json")
CHUNK = 2000

# The contract's keys first, in the contract's order; then the rest of the row.
UNIT_COLUMNS = (
    "lpn", "rma_id", "line_no", "sku", "category", "station_id", "state", "lane", "grade",
    "disposition", "recovery_value", "received_at", "inspected_at", "disposed_at", "received_by",
    "inspected_by",
    "description", "unit_price", "currency", "sla_due_at", "risk_flags", "rule_id", "policy_version",
    "destination", "refund", "refund_amount", "source", "reprints", "updated_at",
)
OVERRIDE_COLUMNS = ("override_by", "override_reason", "override_at", "approved_by", "approval_reason")
# A unit in state awaiting_approval: the decision it waits with in the lead's queue (else empty).
AWAITING_COLUMNS = ("awaiting_path", "awaiting_since", "awaiting_requested_by")
EXCEPTION_COLUMNS = (
    "kind", "code", "station_id", "at", "operator", "detail",
    "id", "source", "rma_id", "value", "state", "resolution", "resolved_by", "resolved_at", "lpn",
)
EVENT_COLUMNS = ("station_id", "seq", "kind", "at", "operator", "lpn", "rma_id", "payload")
# Photo evidence (docs/photos.md): the columns first (`file` relative to the home, `uploaded`
# whether HQ holds it), then the rest. `step` is empty for a photo of the unit itself.
PHOTO_COLUMNS = ("lpn", "step", "taken_at", "operator", "file", "sha256", "uploaded",
                 "uploaded_at", "camera", "width", "height", "bytes", "inspection_id", "event_seq", "upload_error")


# Containers (docs/containers.md): the columns first (`path`: the paths it takes, joined by
# "+"; `units`: the LPNs inside, sorted), then the rest.
CONTAINER_COLUMNS = ("id", "kind", "path", "vendor", "state", "opened_at", "closed_at", "authorisation",
                     "lot_grade", "value", "units", "unit_count", "capacity", "destination", "station_id",
                     "opened_by", "closed_by", "reopened")


def columns(what: What) -> tuple[str, ...]:
    if what == "containers":
        return CONTAINER_COLUMNS
    if what == "units":
        return UNIT_COLUMNS + OVERRIDE_COLUMNS + AWAITING_COLUMNS
    if what == "photos":
        return PHOTO_COLUMNS
    return EXCEPTION_COLUMNS if what == "exceptions" else EVENT_COLUMNS


def _units(since: datetime | None) -> Any:
    # The last approved decision of each unit, if any (an override, a redisposition, or a
    # high-value policy decision): who decided, why, and which lead approved it.
    last = (select(Decision.lpn, func.max(Decision.id).label("id"))
            .where(Decision.approved_by.is_not(None)).group_by(Decision.lpn).subquery())
    d = aliased(Decision)
    ar = aliased(ApprovalRequest)
    cols = [getattr(Unit, c) for c in UNIT_COLUMNS] + [
        d.decided_by.label("override_by"), d.reason.label("override_reason"),
        d.decided_at.label("override_at"), d.approved_by, d.approval_reason,
        ar.path.label("awaiting_path"), ar.requested_at.label("awaiting_since"),
        ar.requested_by.label("awaiting_requested_by"),
    ]
    q = (select(*cols).select_from(Unit)
         .outerjoin(last, last.c.lpn == Unit.lpn).outerjoin(d, d.id == last.c.id)
         .outerjoin(ar, and_(ar.lpn == Unit.lpn, ar.state == "open")))  # at most one is open
    if since is not None:
        q = q.where(or_(Unit.received_at >= since, Unit.updated_at >= since))
    return q.order_by(Unit.received_at, Unit.lpn)


def _containers(since: datetime | None) -> Any:
    inside = (select(func.json_group_array(ContainerUnit.lpn))
              .where(ContainerUnit.container_id == Container.id).scalar_subquery())  # type: ignore[arg-type]
    q = select(Container.id, Container.kind, Container.paths, Container.vendor, Container.state,
               Container.opened_at, Container.closed_at, Container.authorisation, Container.lot_grade,
               Container.value, inside, Container.units, Container.capacity, Container.destination,
               Container.station_id, Container.opened_by, Container.closed_by, Container.reopened)
    if since is not None:
        q = q.where(Container.updated_at >= since)
    return q.order_by(Container.opened_at, Container.id)


def _container_row(row: dict[str, Any]) -> dict[str, Any]:
    row["path"] = "+".join(row["path"] or [])
    row["units"] = sorted(json.loads(row["units"] or "[]"))
    return row


def _query(what: What, since: datetime | None) -> Any:
    if what == "units":
        return _units(since)
    if what == "containers":
        return _containers(since)
    if what == "photos":
        q = select(Photo.lpn, Photo.step, Photo.taken_at, Photo.taken_by, Photo.file, Photo.sha256,
                   Photo.uploaded_at.is_not(None), Photo.uploaded_at, Photo.camera, Photo.width,  # type: ignore[union-attr]
                   Photo.height, Photo.bytes, Photo.inspection_id, Photo.event_seq, Photo.upload_error)
        if since is not None:
            q = q.where(or_(Photo.taken_at >= since, and_(Photo.uploaded_at.is_not(None),  # type: ignore[union-attr]
                                                           Photo.uploaded_at >= since)))  # type: ignore[operator]
        return q.order_by(Photo.id)
    if what == "exceptions":
        q = select(*[getattr(ScanException, c) for c in EXCEPTION_COLUMNS])
        if since is not None:
            q = q.where(or_(ScanException.at >= since,
                            and_(ScanException.resolved_at.is_not(None), ScanException.resolved_at >= since)))
        return q.order_by(ScanException.id)
    q = select(*[getattr(Event, c) for c in EVENT_COLUMNS])
    if since is not None:
        q = q.where(Event.at >= since)
    return q.order_by(Event.station_id, Event.seq)


def _plain(value: Any) -> Any:
    """A JSON value: times ISO 8601 UTC, decimals as exact strings."""
    if isinstance(value, datetime):
        return iso(value)
    if isinstance(value, Decimal):
        return str(value)
    return value


def _cell(value: Any) -> str:
    """A CSV cell: like JSON, with lists/objects as compact JSON text and None empty."""
    if value is None:
        return ""
    if isinstance(value, (list, dict)):
        return dumps(value)
    return str(_plain(value))


def rows(store: Store, what: What, *, since: datetime | None = None) -> Iterator[dict[str, Any]]:
    """The rows of an export as dicts (values as in the database: datetimes, Decimals, lists)."""
    if what not in KINDS:
        raise ValueError(f"cannot export {what!r}: choose one of {', '.join(KINDS)}")
    names = columns(what)
    since = as_utc(since) if since is not None else None
    with store.read() as session:
        result = session.execute(_query(what, since).execution_options(yield_per=CHUNK))
        for row in result:
            out = dict(zip(names, row, strict=True))
            yield _container_row(out) if what == "containers" else out


def export(store: Store, what: What, fmt: Format, out: TextIO, *, since: datetime | None = None) -> int:
    """Write the export to `out`; return the number of rows written."""
    if fmt not in FORMATS:
        raise ValueError(f"unknown format {fmt!r}: choose csv or json")
    count = 0
    if fmt == "csv":
        writer = csv_out.writer(out)
        writer.writerow(columns(what))
        for row in rows(store, what, since=since):
            writer.writerow([_cell(v) for v in row.values()])
            count += 1
        return count
    out.write("[")
    for row in rows(store, what, since=since):
        out.write(",\n" if count else "\n")
        out.write(json.dumps({k: _plain(v) for k, v in row.items()}, ensure_ascii=False))
        count += 1
    out.write("\n]\n" if count else "]\n")
    return count
