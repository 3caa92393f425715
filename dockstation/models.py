"""Bench store tables (SQLModel). One schema for every bench; HQ has its own in sync/.

States of a unit: received → inspecting → graded → (awaiting_approval) → disposed;
side exits: quarantined, voided. `awaiting_approval`: the grader moved on from a decision that needs
a lead; it waits in the lead's queue (`ApprovalRequest`) and is never dropped. Every change to these rows is made together with an `Event`
row in the same transaction (see dockstation.events).
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Column, Index, LargeBinary, text
from sqlmodel import Field, SQLModel

from dockstation.types import DecimalText, JSONText, UTCDateTime, utcnow


def _utc(**kw: Any) -> Any:
    if "default" not in kw:
        kw["default_factory"] = utcnow  # rows get "now" unless told otherwise
    return Field(sa_type=UTCDateTime, **kw)


def _dec(**kw: Any) -> Any:
    return Field(sa_type=DecimalText, **kw)


def _json(default_factory: Any = None, **kw: Any) -> Any:
    if default_factory is not None:
        kw["default_factory"] = default_factory
    return Field(sa_type=JSONText, **kw)


class Rma(SQLModel, table=True):
    rma_id: str = Field(primary_key=True)
    order_id: str = ""
    created_at: datetime = _utc()
    expires_at: datetime = _utc()
    status: str = "open"  # open | cancelled
    updated_at: datetime = _utc()
    # Optional manifest columns (store migration v9): customer data, for the bench's search only
    # (dockstation/search.py; names through the rma_fts index). Never logged.
    customer_name: str | None = None
    customer_email: str | None = None


class RmaLine(SQLModel, table=True):
    __tablename__ = "rma_line"
    __table_args__ = (
        Index("ix_rma_line_tracking", "tracking_number"),
        Index("ix_rma_line_gtin", "gtin"),
        Index("ix_rma_line_sku", "sku"),  # search by SKU (store migration v9)
    )
    rma_id: str = Field(primary_key=True, foreign_key="rma.rma_id")
    line_no: int = Field(primary_key=True)
    sku: str = ""
    gtin: str | None = None
    description: str = ""
    category: str = ""
    qty: int = 1
    unit_price: Decimal = _dec(default=Decimal("0"))
    currency: str = "USD"
    expected_serial: str | None = None
    reason_code: str = ""
    carrier: str | None = None
    tracking_number: str | None = None
    received_qty: int = 0


class Unit(SQLModel, table=True):
    __table_args__ = (
        Index("ix_unit_rma", "rma_id", "line_no"),
        Index("ix_unit_received_at", "received_at"),
    )
    lpn: str = Field(primary_key=True)
    # None: a blind receipt, held until it is matched or its hold's deadline passes (`held`,
    # dockstation/receiving/holds.py); store migration v9 let it be NULL.
    rma_id: str | None = Field(default=None, foreign_key="rma.rma_id")
    line_no: int  # 0: on no line (held, or an undeclared item of its RMA)
    station_id: str
    sku: str = ""
    category: str = ""
    description: str = ""
    unit_price: Decimal = _dec(default=Decimal("0"))
    currency: str = "USD"
    state: str = "received"
    lane: str = "standard"
    sla_due_at: datetime | None = _utc(default=None)
    risk_flags: list[str] = _json(default_factory=list)
    grade: str | None = None
    disposition: str | None = None  # the path: restock, open_box, refurbish, ...
    rule_id: str | None = None
    policy_version: str | None = None
    destination: str | None = None
    recovery_value: Decimal | None = _dec(default=None)
    refund: str | None = None  # full | partial | none (a recommendation; HQ finance refunds)
    refund_amount: Decimal | None = _dec(default=None)
    received_at: datetime = _utc()
    inspected_at: datetime | None = _utc(default=None)
    disposed_at: datetime | None = _utc(default=None)
    received_by: str = ""
    inspected_by: str | None = None
    source: str = ""
    reprints: int = 0
    updated_at: datetime = _utc()


class Parcel(SQLModel, table=True):
    """A parcel of an RMA as the bench saw it: open while items are received, closed by CMD:DONE
    (lines not received then are missing) or when every line is in; its refund decision once
    final (dockstation/receiving/parcels.py, refunds.py)."""

    rma_id: str = Field(primary_key=True, foreign_key="rma.rma_id")
    state: str = "open"  # open | closed
    opened_at: datetime = _utc()
    closed_at: datetime | None = _utc(default=None)
    closed_by: str | None = None
    empty: bool = False
    missing: list[dict[str, Any]] = _json(default_factory=list)  # [{line_no, sku, qty, unit_price, value}]
    refund_decided_at: datetime | None = _utc(default=None)


class Hold(SQLModel, table=True):
    """A blind receipt: a unit that matched no RMA, kept until a manifest matches it or its
    deadline passes and a lead confirms the default action (dockstation/receiving/holds.py)."""

    __table_args__ = (Index("ix_hold_state", "state", "deadline_at"),)
    lpn: str = Field(primary_key=True, foreign_key="unit.lpn")
    code: str = ""  # what was scanned (a torn label's tracking number, as data)
    tracking: str | None = None  # normalised, matched against later manifests
    order_id: str | None = None  # read off a packing slip, if any
    gtin: str | None = None  # the item's barcode, if it has one
    note: str = ""
    exception_id: int | None = None  # the exception the parcel raised first, resolved by the hold
    deadline_at: datetime = _utc()
    default_path: str = "liquidate"
    state: str = "open"  # open | matched | defaulted
    matched_rma_id: str | None = None
    resolved_at: datetime | None = _utc(default=None)
    resolved_by: str | None = None  # a lead, or "auto" (a manifest matched it)


class Inspection(SQLModel, table=True):
    __table_args__ = (Index("ix_inspection_lpn", "lpn", "status"),)
    id: int | None = Field(default=None, primary_key=True)
    lpn: str = Field(foreign_key="unit.lpn")
    checklist: str  # category key of the checklist used
    checklist_version: str
    status: str = "open"  # open | done | cancelled
    step_index: int = 0
    answers: dict[str, Any] = _json(default_factory=dict)  # step id -> {"value", "at", "by"}
    flags: list[str] = _json(default_factory=list)
    grade_cap: str | None = None
    suggested_grade: str | None = None
    grade: str | None = None
    note: str | None = None
    # CMD:ALLPASS was given: every check and choice passed; the scan of the last value it still
    # needs (serial, IMEI, GTIN, a required number) grades the unit (dockstation/inspection/fastpath.py).
    all_pass: bool = False
    started_at: datetime = _utc()
    started_by: str = ""
    finished_at: datetime | None = _utc(default=None)
    finished_by: str | None = None


class Decision(SQLModel, table=True):
    """Every disposition decision of a unit, in order: the first by policy, later overrides."""

    __table_args__ = (Index("ix_decision_lpn", "lpn"),)
    id: int | None = Field(default=None, primary_key=True)
    lpn: str = Field(foreign_key="unit.lpn")
    kind: str = "policy"  # policy | override | redisposition
    path: str
    rule_id: str
    reason: str = ""
    policy_version: str = ""
    destination: str | None = None
    recovery_value: Decimal = _dec(default=Decimal("0"))
    decided_at: datetime = _utc()
    decided_by: str = ""
    approved_by: str | None = None
    approval_reason: str | None = None


class ApprovalRequest(SQLModel, table=True):
    """A decision that needs a lead, parked when the grader moved on (the "awaiting approval" queue).

    Open until a lead approves it (`approved`) or changes its path (`changed`), or the unit is
    disposed another way (`withdrawn`); always together with the unit's state and an event."""

    __tablename__ = "approval_request"
    __table_args__ = (Index("ix_approval_request_lpn", "lpn", "state"),)
    id: int | None = Field(default=None, primary_key=True)
    lpn: str = Field(foreign_key="unit.lpn")
    path: str  # the path asked for
    policy_path: str  # what the policy chose (differs for an override)
    rule_id: str = ""
    kind: str = "policy"  # policy | override
    why: list[str] = _json(default_factory=list)  # why a lead is needed (policy.approvals)
    requested_at: datetime = _utc()
    requested_by: str = ""
    state: str = "open"  # open | approved | changed | withdrawn
    resolved_at: datetime | None = _utc(default=None)
    resolved_by: str | None = None


class ScanException(SQLModel, table=True):
    """A scan that could not be received normally. Never dropped; a lead resolves it."""

    __tablename__ = "scan_exception"
    __table_args__ = (Index("ix_scan_exception_state", "state", "at"),)
    id: int | None = Field(default=None, primary_key=True)
    kind: str  # unknown_code, unknown_rma, cancelled, outside_window, duplicate, invalid_code, ...
    code: str  # the scanned text, as data (cut to a bounded length)
    station_id: str
    at: datetime = _utc()
    operator: str | None = None
    detail: str = ""
    source: str = ""
    rma_id: str | None = None
    value: Decimal | None = _dec(default=None)  # value at stake, for margin-leakage KPIs
    state: str = "open"  # open | matched | quarantined | voided
    resolved_by: str | None = None
    resolved_at: datetime | None = _utc(default=None)
    resolution: str | None = None
    lpn: str | None = None


class PrintJob(SQLModel, table=True):
    __tablename__ = "print_job"
    __table_args__ = (Index("ix_print_job_state", "state", "next_attempt_at"),)
    id: int | None = Field(default=None, primary_key=True)
    lpn: str = Field(foreign_key="unit.lpn")
    kind: str = "label"  # label | reprint | test
    label: str = "disposition"  # which label: disposition | receipt (store migration v6)
    reprint: int = 0
    fmt: str = "zpl"
    template: str = "4x6-203"
    data: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    state: str = "queued"  # queued | sent | failed
    attempts: int = 0
    last_error: str | None = None
    created_at: datetime = _utc()
    next_attempt_at: datetime = _utc()
    sent_at: datetime | None = _utc(default=None)


class Event(SQLModel, table=True):
    """Append-only audit trail and sync outbox: `(station_id, seq)` unique, seq gap-free."""

    __table_args__ = (Index("ix_event_kind_at", "kind", "at"), Index("ix_event_lpn", "lpn"))
    station_id: str = Field(primary_key=True)
    seq: int = Field(primary_key=True)
    kind: str
    at: datetime = _utc()
    operator: str | None = None
    lpn: str | None = None
    rma_id: str | None = None
    payload: dict[str, Any] = _json(default_factory=dict)


class Counter(SQLModel, table=True):
    """Named monotonic counters (the LPN sequence); bumped inside the caller's transaction."""

    name: str = Field(primary_key=True)
    value: int = 0


class KeyValue(SQLModel, table=True):
    """Small bench state: sync cursors, acked event seq, config version pulled from HQ."""

    __tablename__ = "key_value"
    key: str = Field(primary_key=True)
    value: str = ""


# Policy triage (dockstation/policy/triage.py) counts a SKU's and a customer's past flagged units
# on the receiving scan path. A partial index over flagged units only stays small; the order id
# finds a customer's RMAs. (Existing databases: store migration v3.)
Index("ix_unit_flagged_sku", Unit.__table__.c.sku, sqlite_where=text("risk_flags != '[]'"))  # type: ignore[attr-defined]
Index("ix_rma_order_id", Rma.__table__.c.order_id)  # type: ignore[attr-defined]

# KPI lead screen (dockstation/kpis/bench.py), with 100k open units: its pass over the open units
# (counts, breaches, aging buckets) reads only ix_unit_queue, never the table (which also serves
# what ix_unit_state_lane does); its page of the most urgent units walks the partial
# ix_unit_open_due, which holds open units only. (Existing databases: store migration v3.)
Index("ix_unit_queue", Unit.__table__.c.state, Unit.__table__.c.lane,  # type: ignore[attr-defined]
      Unit.__table__.c.received_at, Unit.__table__.c.sla_due_at)  # type: ignore[attr-defined]
Index("ix_unit_open_due", Unit.__table__.c.sla_due_at, Unit.__table__.c.received_at,  # type: ignore[attr-defined]
      sqlite_where=text("state NOT IN ('disposed', 'voided')"))


class Photo(SQLModel, table=True):
    """A photo of a unit (dockstation/photos): the file under the home, its SHA-256, which step.

    Written with its `photo_taken` event in one transaction, after the file is on disk (fsynced),
    so a row never points at a file that is not there. `uploaded_at`: HQ took it (hash verified)."""

    __table_args__ = (
        Index("ix_photo_lpn_step", "lpn", "step"),
        Index("ix_photo_lpn_sha", "lpn", "sha256", unique=True),
        Index("ix_photo_to_upload", "id", sqlite_where=text("uploaded_at IS NULL")),
    )
    id: int | None = Field(default=None, primary_key=True)
    lpn: str = Field(foreign_key="unit.lpn")
    sha256: str
    step: str = ""  # the checklist step id; "" = the unit itself (at the grade, at receipt)
    inspection_id: int | None = None
    file: str  # relative to the home: photos/<LPN>/<name>.jpg
    bytes: int = 0
    width: int = 0
    height: int = 0
    camera: str = ""
    taken_at: datetime = _utc()
    taken_by: str = ""
    event_seq: int = 0  # the photo_taken event: uploaded only after HQ acknowledged it
    uploaded_at: datetime | None = _utc(default=None)
    upload_error: str | None = None


class PhotoWaiver(SQLModel, table=True):
    """A lead let an inspection step go on without the photos its checklist asks for (audited:
    the `photo_waived` event)."""

    __tablename__ = "photo_waiver"
    __table_args__ = (Index("ix_photo_waiver_inspection", "inspection_id", "step"),)
    id: int | None = Field(default=None, primary_key=True)
    inspection_id: int = Field(foreign_key="inspection.id")
    lpn: str = Field(foreign_key="unit.lpn")
    step: str
    needed: int = 0
    had: int = 0
    waived_by: str = ""  # the lead's badge
    asked_by: str = ""  # the grader's badge
    at: datetime = _utc()


class Container(SQLModel, table=True):
    """A tote, gaylord, pallet or vendor-return box that disposed units are sorted into
    (dockstation/containers, docs/containers.md). `units` and `value` follow its `container_unit`
    rows in the same transactions (a put needs no count over the rows)."""

    __table_args__ = (Index("ix_container_state", "state", "opened_at"),)
    id: str = Field(primary_key=True)  # CT-<station>-<6 digits>, or a site's preprinted code
    station_id: str
    kind: str = "tote"  # tote | gaylord | pallet | rtv_box
    paths: list[str] = _json(default_factory=list)  # the paths whose units it takes
    destination: str | None = None
    vendor: str | None = None  # an RTV box: the one vendor whose units it holds
    capacity: int = 40
    state: str = "open"  # open | closed
    units: int = 0
    value: Decimal = _dec(default=Decimal("0"))  # total recovery value inside
    lot_grade: str | None = None  # the lowest grade inside, fixed when it closes
    authorisation: str | None = None  # the vendor's return authorisation (RTV)
    opened_at: datetime = _utc()
    opened_by: str = ""
    closed_at: datetime | None = _utc(default=None)
    closed_by: str | None = None
    reopened: int = 0
    updated_at: datetime = _utc()


class ContainerUnit(SQLModel, table=True):
    """Where a disposed unit is now: at most one container (a move replaces the row; a lead's
    redisposition deletes it). No row: the unit is not sorted yet (`unsorted_units`)."""

    __tablename__ = "container_unit"
    __table_args__ = (Index("ix_container_unit_container", "container_id", "sorted_at"),)
    lpn: str = Field(primary_key=True, foreign_key="unit.lpn")
    container_id: str = Field(foreign_key="container.id")
    sorted_at: datetime = _utc()
    sorted_by: str = ""


class ContainerPrintJob(SQLModel, table=True):
    """A container's label in the print queue (labels/queue.py sends these after the units'
    jobs): queued with the container's open or close, rendered by the print worker."""

    __tablename__ = "container_print_job"
    __table_args__ = (Index("ix_container_print_job_state", "state", "next_attempt_at"),)
    id: int | None = Field(default=None, primary_key=True)
    container_id: str = Field(foreign_key="container.id")
    fmt: str = ""
    template: str = ""
    data: bytes = Field(default=b"", sa_column=Column(LargeBinary, nullable=False))
    state: str = "queued"  # queued | sent | failed
    attempts: int = 0
    last_error: str | None = None
    created_at: datetime = _utc()
    next_attempt_at: datetime = _utc()
    sent_at: datetime | None = _utc(default=None)
