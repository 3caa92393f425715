"""Unit and RMA look-up: by LPN, RMA id or order id; a unit's whole event history (who, when,
what, which rule and policy version), the audit trail head office answers disputes from.

A unit's events are those of the station that created it (its LPN's prefix), in seq order, the
same the API's `GET /api/v1/units/{lpn}` folds (sync/hq/units.py); its state here is that fold.
An RMA's units are found by their receipts (index `ix_hq_event_rma_received`); an order's RMAs by
`hq_rma.order_id`. Every value on these pages came from a bench or a manifest: shown as text.
"""

from __future__ import annotations

import io
import json
import re
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.concurrency import run_in_threadpool
from sqlalchemy import select, text
from starlette.responses import RedirectResponse, Response

from dockstation import csv_out
from dockstation.types import as_utc, iso, utcnow
from sync.hq.console.auth import ConsoleUser, console_user
from sync.hq.console.web import page, secured
from sync.hq.db import HQDatabase, HqEvent, HqRma, HqRmaLine
from sync.hq.scope import LPN_PATTERN, lpn_owner
from sync.hq.units import unit_view

router = APIRouter(include_in_schema=False)
User = Annotated[ConsoleUser, Depends(console_user)]
EVENTS, RMAS, LINES = HqEvent.__table__, HqRma.__table__, HqRmaLine.__table__
_LPN = re.compile(LPN_PATTERN, re.ASCII)
MAX_UNITS = 200  # units listed for one RMA or order
# What the history's "what" column shows of each kind's payload (docs/events.md has them all;
# the whole payload is one click away on the page).
SHOWN = {
    "unit_received": ("line_no", "sku", "category", "lane", "unit_price", "currency", "code", "source"),
    "inspection_started": ("checklist", "checklist_version"),
    "inspection_answered": ("step", "value", "result", "flags"),
    "inspection_step_back": ("from", "to"),
    "inspection_note": ("note",),
    "inspection_cancelled": ("step_index", "answered"),
    "unit_graded": ("grade", "suggested_grade", "flags", "checklist_version"),
    "unit_disposed": ("kind", "path", "destination", "recovery_value", "reason", "approved_by", "approval_reason",
                      "previous_path"),
    "approval_requested": ("path", "policy_path", "why"),
    "approval_refused": ("badge", "reason", "path"),
    "unit_quarantined": ("reason",),
    "refund_recommended": ("refund", "amount", "currency", "reason"),
    "label_queued": ("label", "kind", "reprint"),
    "label_printed": ("printer",),
    "label_failed": ("error",),
    "exception_resolved": ("kind", "action", "reason"),
}


def _payload(value: Any) -> dict[str, Any]:
    if isinstance(value, dict):
        return value
    try:
        got = json.loads(value or "{}")
    except ValueError:
        return {}
    return got if isinstance(got, dict) else {}


def _shown(value: Any) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list):
        return ", ".join(str(v) for v in value) or "none"
    return "" if value is None else str(value)


def unit_history(db: HQDatabase, lpn: str) -> tuple[dict[str, Any] | None, list[dict[str, Any]]]:
    owner = lpn_owner(lpn)
    t = EVENTS
    with db.read() as conn:
        rows = conn.execute(select(t.c.station_id, t.c.seq, t.c.kind, t.c.at, t.c.operator, t.c.lpn, t.c.rma_id,
                                   t.c.payload, t.c.received_at)
                            .where(t.c.lpn == lpn, t.c.station_id == owner).order_by(t.c.seq)).all()
        events = [dict(r._mapping, payload=_payload(r.payload)) for r in rows]
        names = _names(conn, owner, {e["operator"] for e in events if e["operator"]})
    unit = unit_view(events, utcnow())
    for e in events:
        p = e["payload"]
        e["who"] = e["operator"] and (f"{e['operator']} ({names[e['operator']]})" if e["operator"] in names
                                      else e["operator"])
        e["what"] = [(k, _shown(p[k])) for k in SHOWN.get(e["kind"], ()) if k in p and p[k] not in (None, "", [])]
        e["rule"], e["policy"] = p.get("rule_id"), p.get("policy_version")
        e["json"] = json.dumps(p, indent=2, ensure_ascii=False, sort_keys=True, default=str)
    return unit, events


def _names(conn: Any, station: str, badges: set[str]) -> dict[str, str]:
    """Operators' names as their station last signed them in (`operator_signed_in`)."""
    if not badges:
        return {}
    t = EVENTS
    rows = conn.execute(select(t.c.operator, t.c.payload).where(
        t.c.kind == "operator_signed_in", t.c.station_id == station, t.c.operator.in_(sorted(badges)))
        .order_by(t.c.at)).all()
    return {r.operator: str(_payload(r.payload).get("name")) for r in rows if _payload(r.payload).get("name")}


def find_rmas(db: HQDatabase, q: str) -> list[dict[str, Any]]:
    """The RMAs `q` names (an RMA id, or an order's), each with its lines and its units' state."""
    with db.read() as conn:
        rmas = conn.execute(select(RMAS).where((RMAS.c.rma_id == q) | (RMAS.c.order_id == q))
                            .order_by(RMAS.c.rma_id).limit(50)).all()
        ids = [r.rma_id for r in rmas] or [q]  # an RMA a bench received that HQ's manifest lacks
        out = []
        for rma_id in ids:
            lines = conn.execute(select(LINES).where(LINES.c.rma_id == rma_id).order_by(LINES.c.line_no)).all()
            lpns = conn.execute(text("SELECT DISTINCT lpn FROM hq_event WHERE kind = 'unit_received' AND rma_id = :r "
                                     "AND lpn IS NOT NULL ORDER BY lpn LIMIT :n"), {"r": rma_id, "n": MAX_UNITS}).scalars()
            out.append({"rma_id": rma_id, "rma": next((dict(r._mapping) for r in rmas if r.rma_id == rma_id), None),
                        "lines": [dict(line._mapping) for line in lines], "lpns": list(lpns)})
    for found in out:
        found["units"] = [u for u in (_unit(db, lpn) for lpn in found["lpns"]) if u is not None]
    return [f for f in out if f["rma"] is not None or f["units"]]


def _unit(db: HQDatabase, lpn: str) -> dict[str, Any] | None:
    t = EVENTS
    with db.read() as conn:
        rows = conn.execute(select(t.c.station_id, t.c.seq, t.c.kind, t.c.at, t.c.operator, t.c.lpn, t.c.rma_id,
                                   t.c.payload).where(t.c.lpn == lpn, t.c.station_id == lpn_owner(lpn))).all()
    return unit_view((dict(r._mapping, payload=_payload(r.payload)) for r in rows), utcnow())


@router.get("/units")
async def units(request: Request, user: User, q: str = "") -> Response:
    q = q.strip()[:64]
    if not q:
        return page(request, "units.html", q="", found=[], searched=False)
    if _LPN.fullmatch(q.upper()):
        return secured(RedirectResponse(f"/units/{q.upper()}", status_code=303))
    found = await run_in_threadpool(find_rmas, request.app.state.db, q)
    return page(request, "units.html", q=q, found=found, searched=True)


@router.get("/units/{lpn}")
async def unit(request: Request, user: User, lpn: str) -> Response:
    if not _LPN.fullmatch(lpn):
        raise HTTPException(404, "not an LPN (STATION-00012345)")
    got, events = await run_in_threadpool(unit_history, request.app.state.db, lpn)
    if got is None:
        return page(request, "units.html", q=lpn, found=[], searched=True, status=404)
    return page(request, "unit.html", unit=got, events=events)


@router.get("/units/{lpn}/history.csv")
async def unit_csv(request: Request, user: User, lpn: str) -> Response:
    if not _LPN.fullmatch(lpn):
        raise HTTPException(404, "not an LPN (STATION-00012345)")
    got, events = await run_in_threadpool(unit_history, request.app.state.db, lpn)
    if got is None:
        raise HTTPException(404, f"no unit {lpn} at HQ")
    buf = io.StringIO()
    w = csv_out.writer(buf)
    w.writerow(["at", "station_id", "seq", "kind", "operator", "rule_id", "policy_version", "received_at", "payload"])
    for e in events:
        w.writerow([iso(as_utc(e["at"])), e["station_id"], e["seq"], e["kind"], e["operator"], e["rule"], e["policy"],
                    iso(as_utc(e["received_at"])), json.dumps(e["payload"], ensure_ascii=False, sort_keys=True)])
    return secured(Response(buf.getvalue(), media_type="text/csv; charset=utf-8",
                            headers={"Content-Disposition": f'attachment; filename="{lpn}-history.csv"'}))
