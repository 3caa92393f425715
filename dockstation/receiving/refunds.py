"""An RMA's refund decision, made once it is final (docs/receiving.md, "The refund decision").

A unit's refund is recommended when it is first disposed (policy/refund.py, `refund_recommended`).
The RMA's decision is final when its parcel is closed — `CMD:DONE` (lines not received become
missing), or every line received — and every unit received against it (not voided) has its
recommendation. Then one `refund_decided` event carries the whole decision: full / partial /
none, the amount and currency, the reason, the rules, the policy version, its units and its
missing lines. That event is what HQ's refund feed serves (sync/hq/refunds): nothing else needs
to be folded there.

- units on the RMA's lines add up their recommended amounts;
- missing lines withhold their value (`[refund] missing_reason`);
- an item on no line (`undeclared_item`) is listed, never refunded;
- a parcel closed with nothing in it: none (`[refund] empty_reason`).

Plain Python, in the caller's write transaction (close_parcel, and policy.dispose.carry_out).
"""

from __future__ import annotations

import json
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlmodel import Session

from dockstation import events, rows
from dockstation.models import Parcel, Unit
from dockstation.receiving.core import rma_lines

UNDECLARED = "undeclared_item"
CENT = Decimal("0.01")


def _money(value: Any) -> Decimal:
    return Decimal(str(value or 0)).quantize(CENT)


def _reasons(session: Session, lpns: list[str]) -> dict[str, tuple[str, list[str]]]:
    """Each unit's refund reason and rules, from its first `refund_recommended` event (plain SQL:
    only the payload is needed, not Event objects; this runs in every first disposition)."""
    if not lpns:
        return {}
    marks = ", ".join("?" * len(lpns))
    session.flush()  # an event or unit written earlier in this transaction counts (what autoflush did)
    found = rows.execute(
        session, f"SELECT lpn, payload FROM event WHERE lpn IN ({marks}) AND kind = 'refund_recommended' ORDER BY seq",
        tuple(lpns))
    out: dict[str, tuple[str, list[str]]] = {}
    for lpn, raw in found:
        if lpn is not None and lpn not in out:
            p = json.loads(raw) if raw else {}
            out[lpn] = (str(p.get("reason") or ""), [str(r) for r in p.get("rules") or []])
    return out


_UNITS = f"SELECT {rows.columns(Unit, 'u')} FROM unit u WHERE u.rma_id = ? ORDER BY u.lpn"


def decide_if_final(session: Session, station_id: str, policy: Any, rma_id: str | None, at: datetime,
                    operator: str | None = None) -> dict[str, Any] | None:
    """Record the RMA's `refund_decided` event if its decision is final now and was not made
    before; return its payload (None: not final yet, or decided already)."""
    if not rma_id:
        return None
    # Plain rows (same attribute names and types, dockstation/rows.py), not ORM objects: this runs
    # in every unit's first disposition (bench_flow.py).
    parcel = rows.get(session, Parcel, rma_id)
    if parcel is not None and parcel.refund_decided_at is not None:
        return None
    lines = rma_lines(session, rma_id)
    units: list[Any] = [u for u in (rows.from_raw(session, Unit, r) for r in rows.execute(session, _UNITS, (rma_id,)))
                        if u.state != "voided"]
    if any(u.refund is None for u in units):
        return None  # a unit still to be disposed
    all_in = bool(lines) and all(l.received_qty >= l.qty for l in lines)
    if parcel is None:
        if not all_in:
            return None
        parcel = rows.insert(session, Parcel, rma_id=rma_id, state="closed", opened_at=at, closed_at=at,
                             closed_by="auto", refund_decided_at=at)
    else:
        if parcel.state != "closed":
            if not all_in:
                return None
            parcel.state, parcel.closed_at, parcel.closed_by = "closed", at, "auto"
        parcel.refund_decided_at = at
        rows.save(session, parcel)
    payload = decision(session, policy, rma_id, lines, units, parcel, at)
    events.record(session, station_id, "refund_decided", operator=operator, rma_id=rma_id, at=at, payload=payload)
    return payload


def decision(session: Session, policy: Any, rma_id: str, lines: list[Any], units: list[Any],
             parcel: Any, at: datetime) -> dict[str, Any]:
    """The decision's payload; `lines` and `units`: rows of rma_line and unit (plain rows or objects)."""
    refund_cfg = policy.refund
    reasons = _reasons(session, [u.lpn for u in units])
    declared = [u for u in units if UNDECLARED not in (u.risk_flags or [])]
    missing = list(parcel.missing or [])
    currency = lines[0].currency if lines else (units[0].currency if units else "USD")
    amount = sum((_money(u.refund_amount) for u in declared), Decimal("0.00"))
    withheld = sum((_money(m.get("value")) for m in missing), Decimal("0.00"))
    expected = sum((_money(l.unit_price) * l.qty for l in lines), Decimal("0.00"))
    rules: list[str] = []
    for u in declared:
        rules += [r for r in reasons.get(u.lpn, ("", []))[1] if r not in rules]
    why: list[str] = []
    if parcel.empty or (not declared and missing):
        kind, amount, why, rules = "none", Decimal("0.00"), [refund_cfg.empty_reason], ["parcel-empty"]
    else:
        if missing:
            what = ", ".join(f"{m.get('sku')} x{m.get('qty')}" for m in missing)
            why.append(f"{refund_cfg.missing_reason}: {what} ({withheld} {currency} withheld)")
            rules.append("missing-lines")
        for u in declared:
            if u.refund != "full":
                reason = reasons.get(u.lpn, ("", []))[0]
                if reason and reason not in why:
                    why.append(reason)
        if not missing and all(u.refund == "full" for u in declared):
            kind, why = "full", [refund_cfg.full_reason]
        else:
            kind = "partial" if amount > 0 else "none"
    units_out = [{"lpn": u.lpn, "line_no": u.line_no, "sku": u.sku, "refund": u.refund,
                  "amount": str(_money(u.refund_amount)), "reason": reasons.get(u.lpn, ("", []))[0],
                  "undeclared": UNDECLARED in (u.risk_flags or []), "path": u.disposition} for u in units]
    return {
        "refund": kind, "amount": str(amount), "currency": currency, "reason": "; ".join(why),
        "rules": rules, "policy_version": policy.version, "decided_at": at.isoformat(),
        "expected_value": str(expected), "withheld": str(withheld + sum(
            (_money(u.unit_price) - _money(u.refund_amount) for u in declared), Decimal("0.00"))),
        "empty": bool(parcel.empty), "units": units_out, "missing_lines": missing,
        "lpns": [u.lpn for u in units],
    }
