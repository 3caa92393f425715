"""Containers after the label: open, put (and move), close, reopen; a unit leaving its container.

Every use case is one write transaction: the container row, the unit's `container_unit` row and
the event commit together, or nothing does. A put that cannot be done (unknown container, another
path or vendor, full, closed, a unit not disposed) raises `ContainerRefused` before anything is
written, so the bench plays the error sound with nothing stored. See docs/containers.md.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from sqlmodel import Session, select

from dockstation import events
from dockstation.config import Operator
from dockstation.models import Container, ContainerUnit, Unit
from dockstation.policy.config import PATHS, PolicyConfig
from dockstation.policy.decide import destination as path_destination
from dockstation.policy.vendors import vendor_of
from dockstation.store import Store
from dockstation.types import utcnow

KINDS = ("tote", "gaylord", "pallet", "rtv_box")
SORTABLE = ("disposed", "quarantined")
ID_RE = re.compile(r"[A-Z0-9][A-Z0-9_-]{0,31}", re.ASCII)  # a Code 128 payload (scan.py)
AUTH_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9/_.-]{0,39}", re.ASCII)


class ContainerError(Exception):
    """A container command that cannot be done; `code` says which rule (for the screen and tests)."""

    def __init__(self, message: str, code: str = "error") -> None:
        super().__init__(message)
        self.code = code


class ContainerRefused(ContainerError):
    """A put refused before anything was stored (wrong path, vendor, full, closed, unknown)."""


@dataclass(frozen=True)
class PutOutcome:
    status: str  # sorted | moved | already
    lpn: str
    container: Container
    previous: str | None = None  # the container it left (a move)

    @property
    def message(self) -> str:
        c = self.container
        fill = f"{c.units}/{c.capacity}"
        if self.status == "moved":
            return f"{self.lpn} moved {self.previous} → {c.id} ({fill})"
        if self.status == "already":
            return f"{self.lpn} is already in {c.id} ({fill})"
        return f"{self.lpn} → {c.id} ({fill})"


def _payload(c: Container) -> dict[str, object]:
    return {"container": c.id, "kind": c.kind, "paths": list(c.paths), "vendor": c.vendor,
            "destination": c.destination, "capacity": c.capacity}


def _check_id(container_id: str) -> str:
    if not isinstance(container_id, str) or not ID_RE.fullmatch(container_id):
        raise ContainerError(f"{container_id[:40]!r} cannot be a container id: 1-32 of A-Z 0-9 - _", "bad_id")
    return container_id


# -- open -------------------------------------------------------------------------------------
def open_container(store: Store, station_id: str, operator: str, *, policy: PolicyConfig,
                   paths: list[str], kind: str | None = None, vendor: str | None = None,
                   destination: str | None = None, capacity: int | None = None,
                   container_id: str | None = None, queue_label: bool = True,
                   now: datetime | None = None) -> Container:
    """Open a container for `paths` (the first decides its default kind, capacity, destination).

    `container_id`: a site's preprinted label; else the bench's next `CT-<station>-<6 digits>`.
    The container's label is queued with it (`queue_label`)."""
    if not paths:
        raise ContainerError("a container takes at least one path", "no_path")
    for p in paths:
        if p not in PATHS or p not in policy.paths:
            raise ContainerError(f"unknown path {p!r}: one of {', '.join(policy.paths)}", "bad_path")
    kind = kind or policy.containers.kind_for(paths[0])
    if kind not in KINDS:
        raise ContainerError(f"unknown container kind {kind!r}: one of {', '.join(KINDS)}", "bad_kind")
    if vendor is not None and vendor not in policy.vendors:
        known = ", ".join(policy.vendors) or "none in policy.toml"
        raise ContainerError(f"unknown vendor {vendor!r} ([vendors] in policy.toml: {known})", "bad_vendor")
    if capacity is not None and not 1 <= capacity <= 100_000:
        raise ContainerError("capacity must be 1-100000 units", "bad_capacity")
    at = now or utcnow()
    with store.write() as session:
        if container_id is None:
            container_id = f"CT-{station_id}-{events.bump(session, 'container'):06d}"
        _check_id(container_id)
        if session.get(Container, container_id) is not None:
            raise ContainerError(f"container {container_id} exists already", "exists")
        c = Container(id=container_id, station_id=station_id, kind=kind, paths=list(paths), vendor=vendor,
                      destination=destination or (path_destination(policy, paths[0], "") if len(paths) == 1
                                                  else " / ".join(paths)),
                      capacity=capacity or policy.containers.capacity_of(kind), opened_at=at,
                      opened_by=operator, updated_at=at)
        session.add(c)
        session.flush()
        events.record(session, station_id, "container_opened", operator=operator, at=at, payload=_payload(c))
        if queue_label:
            from dockstation.containers.printing import enqueue

            enqueue(session, c, operator, "label")
        return c


# -- put / move -------------------------------------------------------------------------------
def refusal(session: Session, policy: PolicyConfig, unit: Unit | None, c: Container | None,
            lpn: str, container_id: str) -> ContainerRefused | None:
    """Why `unit` cannot go into `c`, or None. Reads only."""
    if c is None:
        return ContainerRefused(f"no container {container_id} at this bench: open it first", "unknown")
    if unit is None:
        return ContainerRefused(f"no unit {lpn} at this bench", "no_unit")
    if unit.state not in SORTABLE or not unit.disposition:
        return ContainerRefused(f"{lpn} is {unit.state.replace('_', ' ')}: only a disposed unit is sorted",
                                "not_disposed")
    if c.state != "open":
        return ContainerRefused(f"{c.id} is closed: it takes nothing more (a lead may reopen it)", "closed")
    if unit.disposition not in c.paths:
        return ContainerRefused(f"{c.id} takes {', '.join(c.paths)}, not {unit.disposition} ({lpn})", "path")
    if c.vendor is not None or unit.disposition == "vendor_return":
        vendor = vendor_of(policy, unit.category, unit.sku)
        if c.vendor is not None and vendor != c.vendor:
            return ContainerRefused(f"{c.id} is {c.vendor}'s box; {lpn} is {vendor or 'no vendor'}'s", "vendor")
    if c.units >= c.capacity:
        return ContainerRefused(f"{c.id} is full ({c.units}/{c.capacity}): close it and open another", "full")
    return None


def put(store: Store, station_id: str, operator: str, lpn: str, container_id: str, *,
        policy: PolicyConfig, now: datetime | None = None) -> PutOutcome:
    """Put the disposed unit `lpn` into `container_id` (a move if it is in another one)."""
    at = now or utcnow()
    with store.write() as session:
        unit = session.get(Unit, lpn)
        c = session.get(Container, container_id)
        row = session.get(ContainerUnit, lpn)
        if row is not None and c is not None and row.container_id == c.id:
            return PutOutcome("already", lpn, c)
        problem = refusal(session, policy, unit, c, lpn, container_id)
        if problem is not None:
            raise problem
        assert unit is not None and c is not None
        value = Decimal(unit.recovery_value or 0)
        if c.vendor is None and unit.disposition == "vendor_return" and c.kind == "rtv_box":
            c.vendor = vendor_of(policy, unit.category, unit.sku)  # an RTV box takes its first unit's vendor
        previous = None
        if row is not None:
            old = session.get(Container, row.container_id)
            if old is not None:
                old.units, old.value = max(0, old.units - 1), Decimal(old.value) - value
                old.updated_at = at
                session.add(old)
            previous = row.container_id
            row.container_id, row.sorted_at, row.sorted_by = c.id, at, operator
        else:
            row = ContainerUnit(lpn=lpn, container_id=c.id, sorted_at=at, sorted_by=operator)
        session.add(row)
        c.units, c.value, c.updated_at = c.units + 1, Decimal(c.value) + value, at
        session.add(c)
        payload = {"container": c.id, "path": unit.disposition, "vendor": c.vendor,
                   "recovery_value": value, "units": c.units}
        if previous is not None:
            payload["from"] = previous
        if previous is not None:
            events.record(session, station_id, "unit_moved", operator=operator, lpn=lpn, rma_id=unit.rma_id,
                          at=at, payload=payload)
        else:
            events.record(session, station_id, "unit_sorted", operator=operator, lpn=lpn, rma_id=unit.rma_id,
                          at=at, payload=payload)
        return PutOutcome("moved" if previous else "sorted", lpn, c, previous)


def take_out(session: Session, station_id: str, operator: str, unit: Unit, at: datetime,
             reason: str) -> str | None:
    """Take `unit` out of its container in the caller's transaction (a lead's redisposition):
    the container it left, or None if it was in none. Works on a closed container too."""
    row = session.get(ContainerUnit, unit.lpn)
    if row is None:
        return None
    c = session.get(Container, row.container_id)
    if c is not None:
        c.units = max(0, c.units - 1)
        c.value = Decimal(c.value) - Decimal(unit.recovery_value or 0)
        c.updated_at = at
        session.add(c)
    session.delete(row)
    session.flush()
    events.record(session, station_id, "unit_unsorted", operator=operator, lpn=unit.lpn, rma_id=unit.rma_id,
                  at=at, payload={"container": row.container_id, "reason": reason})
    return row.container_id


# -- close / reopen ---------------------------------------------------------------------------
def close(store: Store, station_id: str, operator: Operator, container_id: str, *,
          authorisation: str | None = None, grade_order: Sequence[str] = (), queue: bool = True,
          now: datetime | None = None) -> Container:
    """Close a container: refused when empty, already closed, or an RTV box without the vendor's
    return authorisation. Fixes its lot grade (the lowest grade inside) and value, lists its
    units in the `container_closed` event, and queues its label and manifest. `grade_order`: the
    grade scale best first (codes.toml), which says which grade is the lowest."""
    from dockstation.containers.queries import lot_grade, units_in

    if authorisation is not None:
        authorisation = authorisation.strip()
        if not AUTH_RE.fullmatch(authorisation):
            raise ContainerError("a return authorisation is 1-40 of A-Z a-z 0-9 / _ . -", "bad_authorisation")
    at = now or utcnow()
    with store.write() as session:
        c = session.get(Container, container_id)
        if c is None:
            raise ContainerError(f"no container {container_id} at this bench", "unknown")
        if c.state == "closed":
            raise ContainerError(f"{c.id} is closed already", "closed")
        if c.units <= 0:
            raise ContainerError(f"{c.id} is empty: nothing to close", "empty")
        is_rtv = c.kind == "rtv_box" or "vendor_return" in c.paths
        if is_rtv and not (authorisation or c.authorisation):
            raise ContainerError(f"{c.id} is a vendor return: it closes only with {c.vendor or 'the vendor'}'s "
                                 "return authorisation number (RA)", "needs_authorisation")
        units = units_in(session, c.id)
        c.lot_grade = lot_grade([u.grade for u in units], grade_order)
        c.value = sum((Decimal(u.recovery_value or 0) for u in units), Decimal("0.00"))
        c.units = len(units)
        c.state, c.closed_at, c.closed_by, c.updated_at = "closed", at, operator.badge, at
        if authorisation:
            c.authorisation = authorisation
        session.add(c)
        events.record(session, station_id, "container_closed", operator=operator.badge, at=at, payload={
            **_payload(c), "units": c.units, "value": c.value, "lot_grade": c.lot_grade,
            "authorisation": c.authorisation, "lpns": [u.lpn for u in units],
            "by_path": _by_path(units)})
        if queue:
            from dockstation.containers.printing import enqueue

            enqueue(session, c, operator.badge, "label")
            enqueue(session, c, operator.badge, "manifest")
        return c


def _by_path(units: list[Unit]) -> dict[str, list[object]]:
    out: dict[str, list[object]] = {}
    for u in units:
        row = out.setdefault(u.disposition or "?", [0, Decimal("0.00")])
        row[0] = int(row[0]) + 1  # type: ignore[call-overload]
        row[1] = Decimal(row[1]) + Decimal(u.recovery_value or 0)  # type: ignore[arg-type]
    return out


def reopen(store: Store, station_id: str, lead: Operator, container_id: str, reason: str, *,
           now: datetime | None = None) -> Container:
    """A lead reopens a closed container (audited: who, why)."""
    if lead.role != "lead":
        raise ContainerError(f"{lead.name} is a {lead.role}: only a lead reopens a container", "not_lead")
    reason = (reason or "").strip()
    if not reason:
        raise ContainerError("say why the container is reopened", "no_reason")
    at = now or utcnow()
    with store.write() as session:
        c = session.get(Container, container_id)
        if c is None:
            raise ContainerError(f"no container {container_id} at this bench", "unknown")
        if c.state != "closed":
            raise ContainerError(f"{c.id} is open", "open")
        c.state, c.reopened, c.updated_at = "open", c.reopened + 1, at
        c.closed_at = c.closed_by = c.lot_grade = None
        session.add(c)
        events.record(session, station_id, "container_reopened", operator=lead.badge, at=at,
                      payload={"container": c.id, "reason": reason[:200], "reopened": c.reopened})
        return c


def get(store: Store, container_id: str) -> Container | None:
    with store.read() as session:
        return session.get(Container, container_id)


def containers(store: Store, *, state: str | None = None) -> list[Container]:
    with store.read() as session:
        q = select(Container).order_by(Container.opened_at, Container.id)  # type: ignore[arg-type]
        if state is not None:
            q = q.where(Container.state == state)
        return list(session.exec(q))
