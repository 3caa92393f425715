"""Reading containers: which one takes a unit, what is open, closed today, and what waits to be sorted.

`unsorted_units(session)` and `is_sorted(session, lpn)` are the plain questions other features ask
("is this disposed unit in a container yet?", e.g. age triggers): a disposed or quarantined unit
with no `container_unit` row is not sorted; its age is the time since its disposition.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import text
from sqlmodel import Session, select

from dockstation import rows
from dockstation.models import Container, ContainerUnit, Unit
from dockstation.policy.config import PolicyConfig
from dockstation.policy.vendors import vendor_of
from dockstation.types import as_utc, utcnow


def lot_grade(grades: Sequence[str | None], order: Sequence[str] = ()) -> str | None:
    """The lowest grade of `grades` on the scale `order` (best first, codes.toml); a grade not
    on the scale counts as the lowest; with no scale, the last in alphabetical order (A best)."""
    known = [g for g in grades if g]
    if not known:
        return None
    rank = {g: i for i, g in enumerate(order)}
    return max(known, key=lambda g: (rank.get(g, len(order)), g))


def units_in(session: Session, container_id: str) -> list[Unit]:
    """The units in a container, in the order they were put in."""
    return list(session.exec(
        select(Unit).join(ContainerUnit, ContainerUnit.lpn == Unit.lpn)  # type: ignore[arg-type]
        .where(ContainerUnit.container_id == container_id)
        .order_by(ContainerUnit.sorted_at, ContainerUnit.lpn)))  # type: ignore[arg-type]


def container_of(session: Session, lpn: str) -> str | None:
    row = session.get(ContainerUnit, lpn)
    return row.container_id if row is not None else None


def is_sorted(session: Session, lpn: str) -> bool:
    """True when the unit is in a container now."""
    return session.get(ContainerUnit, lpn) is not None


@dataclass(frozen=True)
class Unsorted:
    lpn: str
    path: str
    destination: str | None
    disposed_at: datetime
    sku: str
    description: str

    def age(self, now: datetime) -> timedelta:
        return as_utc(now) - as_utc(self.disposed_at)


# Units disposed since the bench's first container was opened: a bench that never sorted has
# nothing waiting, and its history from before the containers is not "unsorted". The partial
# index ix_unit_disposed_at (store v10) gives the range; its WHERE is this query's term.
_UNSORTED = """
FROM unit u INDEXED BY ix_unit_disposed_at WHERE u.state IN ('disposed', 'quarantined')
  AND u.disposed_at >= (SELECT min(opened_at) FROM container)
  AND NOT EXISTS (SELECT 1 FROM container_unit c WHERE c.lpn = u.lpn)
"""
_SINCE = " AND u.disposed_at >= :since"


def _since(since: datetime | None) -> dict[str, str]:
    return {} if since is None else {"since": as_utc(since).replace(tzinfo=None).strftime("%Y-%m-%d %H:%M:%S.%f")}


def unsorted_count(session: Session, *, since: datetime | None = None) -> int:
    """How many disposed units wait to be sorted (`since`: disposed since then only)."""
    sql = "SELECT count(*) " + _UNSORTED + (_SINCE if since else "")
    return int(session.connection().execute(text(sql), _since(since)).scalar_one())


def unsorted_units(session: Session, *, limit: int | None = 200, since: datetime | None = None) -> list[Unsorted]:
    """Disposed (or quarantined) units in no container, oldest disposition first (those disposed
    since the bench's first container; `since`: and since then)."""
    sql = ("SELECT u.lpn, u.disposition, u.destination, u.disposed_at, u.sku, u.description "
           + _UNSORTED + (_SINCE if since else "") + " ORDER BY u.disposed_at, u.lpn"
           + ("" if limit is None else f" LIMIT {int(limit)}"))
    out = []
    for lpn, path, dest, at, sku, desc in session.connection().execute(text(sql), _since(since)):
        when = at if isinstance(at, datetime) else datetime.fromisoformat(str(at))
        out.append(Unsorted(lpn, path or "?", dest, as_utc(when), sku or "", desc or ""))
    return out


def takes(policy: PolicyConfig, c: Any, unit: Any) -> bool:
    """Would `c` take `unit` now (open, its path, its vendor, room left)?"""
    if c.state != "open" or unit.disposition not in c.paths or c.units >= c.capacity:
        return False
    if c.vendor is not None:
        return vendor_of(policy, unit.category, unit.sku) == c.vendor
    return True


# Plain rows (dockstation/rows.py), read only: every disposition asks this (bench_flow.py).
_OPEN = (f"SELECT {rows.columns(Container, 'c')} FROM container c WHERE c.state = 'open' AND c.units < c.capacity "
         "ORDER BY c.units DESC, c.opened_at")


def suggest(session: Session, policy: PolicyConfig, unit: Any) -> Any:
    """The open container that takes `unit` (a read-only row of it): the fullest one of its path
    (fill it, close it, ship it), its vendor's for a vendor return; None when none is open."""
    session.flush()  # a container opened in this transaction counts (what autoflush did)
    found = (rows.from_raw(session, Container, raw)
             for raw in rows.execute(session, _OPEN).fetchall())
    return next((c for c in found if takes(policy, c, unit)), None)


def open_containers(session: Session) -> list[Container]:
    return list(session.exec(select(Container).where(Container.state == "open")
                             .order_by(Container.opened_at, Container.id)))  # type: ignore[arg-type]


def closed_since(session: Session, since: datetime) -> list[Container]:
    return list(session.exec(select(Container).where(Container.state == "closed",
                                                     Container.closed_at >= since)  # type: ignore[operator]
                             .order_by(Container.closed_at.desc())))  # type: ignore[union-attr]


@dataclass(frozen=True)
class Board:
    """The lead's Containers tab: open containers, closed today, units waiting to be sorted."""

    open: list[Container]
    closed_today: list[Container]
    unsorted: int
    oldest: list[Unsorted]
    at: datetime

    @property
    def open_value(self) -> Decimal:
        return sum((Decimal(c.value) for c in self.open), Decimal("0.00"))


def board(session: Session, *, now: datetime | None = None, limit: int = 50) -> Board:
    now = now or utcnow()
    midnight = as_utc(now).replace(hour=0, minute=0, second=0, microsecond=0)
    return Board(open_containers(session), closed_since(session, midnight), unsorted_count(session),
                 unsorted_units(session, limit=limit), now)
