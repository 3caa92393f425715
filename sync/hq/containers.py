"""Containers at HQ (docs/containers.md): `GET /api/v1/containers/{id}` and the weekly figures.

Like units, HQ keeps no container table: a container is folded from its station's events when
asked (`container_opened`, `unit_sorted`, `unit_moved`, `unit_unsorted`, `container_closed`,
`container_reopened`), found through the (kind, at) index and filtered on the payload's
`container` (or a move's `from`). A station token reads only its own station's containers; a
reader token any.

The weekly report's `containers` section: the containers closed in the week (their last close
in it counts, a reopened one once), per path with units and recovery value (`by_path` of the
close), and the working capital they release: the value of those units on the capital paths.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Annotated, Any

from fastapi import FastAPI, HTTPException
from fastapi import Path as PathParam
from sqlalchemy import or_, select

from dockstation.kpis.stats import CAPITAL_PATHS
from dockstation.types import as_utc
from sync.hq.db import HQDatabase, HqEvent
from sync.hq.deps import AnyCaller, Db
from sync.hq.openapi import errors
from sync.protocol import API

KINDS = ("container_opened", "unit_sorted", "unit_moved", "unit_unsorted", "container_closed",
         "container_reopened")
ID_PATTERN = r"^[A-Z0-9][A-Z0-9_-]{0,31}$"


def _dec(value: Any) -> Decimal:
    try:
        return Decimal(str(value)) if value not in (None, "") else Decimal("0")
    except (InvalidOperation, ValueError):
        return Decimal("0")


def _iso(at: Any) -> str | None:
    return as_utc(at).isoformat() if isinstance(at, datetime) else None


def fold(container_id: str, events: Iterable[dict[str, Any]]) -> dict[str, Any] | None:
    """The container after its events (one station's, in seq order); None if never opened."""
    c: dict[str, Any] | None = None
    units: dict[str, Decimal] = {}
    for ev in sorted(events, key=lambda e: (e["station_id"], e["seq"])):
        p = ev.get("payload") or {}
        kind, lpn = ev["kind"], ev.get("lpn")
        if kind == "container_opened" and p.get("container") == container_id:
            c = {"id": container_id, "station_id": ev["station_id"], "kind": p.get("kind"),
                 "paths": p.get("paths") or [], "vendor": p.get("vendor"), "destination": p.get("destination"),
                 "capacity": p.get("capacity"), "state": "open", "opened_at": _iso(ev["at"]),
                 "opened_by": ev.get("operator"), "closed_at": None, "closed_by": None,
                 "authorisation": None, "lot_grade": None, "reopened": 0}
            continue
        if c is None:
            continue
        if kind in ("unit_sorted", "unit_moved") and lpn:
            if p.get("container") == container_id:
                units[lpn] = _dec(p.get("recovery_value"))
            elif p.get("from") == container_id:
                units.pop(lpn, None)
        elif kind == "unit_unsorted" and lpn and p.get("container") == container_id:
            units.pop(lpn, None)
        elif kind == "container_closed" and p.get("container") == container_id:
            c.update(state="closed", closed_at=_iso(ev["at"]), closed_by=ev.get("operator"),
                     authorisation=p.get("authorisation"), lot_grade=p.get("lot_grade"))
            lpns = p.get("lpns")
            if isinstance(lpns, list):  # the close lists what is inside: it is the truth then
                units = {lpn: units.get(lpn, Decimal("0")) for lpn in lpns if isinstance(lpn, str)}
        elif kind == "container_reopened" and p.get("container") == container_id:
            c.update(state="open", closed_at=None, closed_by=None, lot_grade=None,
                     reopened=int(p.get("reopened") or c["reopened"] + 1))
    if c is None:
        return None
    c["units"] = sorted(units)
    c["unit_count"] = len(units)
    c["value"] = str(sum(units.values(), Decimal("0.00")))
    return c


def events_of(db: HQDatabase, container_id: str, station_id: str | None) -> list[dict[str, Any]]:
    t = HqEvent.__table__
    q = (select(t.c.station_id, t.c.seq, t.c.kind, t.c.at, t.c.operator, t.c.lpn, t.c.payload)
         .where(t.c.kind.in_(KINDS),
                or_(t.c.payload["container"].as_string() == container_id,
                    t.c.payload["from"].as_string() == container_id)))
    if station_id is not None:
        q = q.where(t.c.station_id == station_id)
    with db.read() as conn:
        return [dict(r._mapping) for r in conn.execute(q)]


def container_view(db: HQDatabase, container_id: str, station_id: str | None) -> dict[str, Any] | None:
    rows = events_of(db, container_id, station_id)
    owners = {r["station_id"] for r in rows if r["kind"] == "container_opened"}
    if not owners:
        return None
    owner = sorted(owners)[0]  # ids are a station's own (CT-<station>-…); a preprinted id once per site
    return fold(container_id, [r for r in rows if r["station_id"] == owner])


def week_figures(conn: Any, start: datetime, end: datetime,
                 capital_paths: Sequence[str] = CAPITAL_PATHS) -> dict[str, Any]:
    """Containers closed in [start, end): per path (containers, units, value) and the capital
    they release (units on capital paths)."""
    t = HqEvent.__table__
    naive = [as_utc(x).replace(tzinfo=None) for x in (start, end)]
    rows = conn.execute(select(t.c.station_id, t.c.seq, t.c.payload)
                        .where(t.c.kind == "container_closed", t.c.at >= naive[0], t.c.at < naive[1])
                        .order_by(t.c.station_id, t.c.seq)).all()
    last: dict[tuple[str, str], dict[str, Any]] = {}
    for station, _seq, payload in rows:
        p = payload or {}
        last[(station, str(p.get("container")))] = p
    by_path: dict[str, dict[str, Any]] = {}
    capital = Decimal("0.00")
    units = 0
    for p in last.values():
        for path, pair in (p.get("by_path") or {}).items():
            n, value = (pair + [0, 0])[:2] if isinstance(pair, list) else (0, 0)
            row = by_path.setdefault(path, {"path": path, "containers": 0, "units": 0, "value": Decimal("0.00")})
            row["containers"] += 1
            row["units"] += int(n or 0)
            row["value"] += _dec(value)
            units += int(n or 0)
            if path in capital_paths:
                capital += _dec(value)
    return {"closed": len(last), "units": units,
            "shipped": [{**r, "value": str(r["value"])} for _, r in sorted(by_path.items())],
            "capital_released": str(capital)}


def install(app: FastAPI) -> None:
    @app.get(f"{API}/containers/{{container_id}}", tags=["head office"],
             responses=errors(400, 401, 404, 503, e404="no such container at HQ; for a station token, also any "
                                                       "container another station opened"))
    def get_container(container_id: Annotated[str, PathParam(pattern=ID_PATTERN, description="e.g. CT-B07-000004")],
                      caller: AnyCaller, db: Db) -> dict[str, Any]:
        """A container folded from its station's events: kind, paths, vendor, state, times, the
        return authorisation, lot grade, value and its units (LPNs). A reader token reads any
        container; a station token only its own station's."""
        view = container_view(db, container_id, None if caller.is_reader else caller.name)
        if view is None:
            raise HTTPException(404, f"no container {container_id} at HQ (yet)")
        return view
