"""A bench store seeded by hand at a fixed 'now' (Wednesday 2026-03-04 12:00 UTC), with the lead
screen's answers worked out in test_bench_aggregates.py."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from dockstation import events
from dockstation.models import Counter, Decision, Rma, RmaLine, ScanException, Unit

NOW = datetime(2026, 3, 4, 12, 0, tzinfo=UTC)
H = timedelta(hours=1)
D = timedelta(days=1)
LANES = {"express": 8.0, "standard": 24.0, "bulk": 72.0}
STATION = "B07"


def seed(store, now: datetime = NOW) -> None:
    with store.write() as s:
        s.add(Rma(rma_id="RMA-SEED-1", order_id="O1", created_at=now - 60 * D, expires_at=now + 30 * D,
                  updated_at=now))
        s.add(RmaLine(rma_id="RMA-SEED-1", line_no=1, sku="SKU-1", description="Thing", category="phones", qty=99,
                      unit_price=Decimal("100")))
        s.add(Counter(name=f"lpn:{STATION}", value=100))  # the seeded LPNs are taken
        s.flush()

        def unit(lpn, lane, state, received, sla_due, **kw):
            s.add(Unit(lpn=lpn, rma_id="RMA-SEED-1", line_no=1, station_id=STATION, sku="SKU-1", category="phones",
                       description=kw.pop("description", "Thing"), unit_price=Decimal("100"), state=state, lane=lane,
                       sla_due_at=sla_due, received_at=received, received_by="1001", updated_at=now, **kw))
            s.flush()
            events.record(s, STATION, "unit_received", operator="1001", lpn=lpn, at=received,
                          payload={"line_no": 1, "category": "phones", "lane": lane, "unit_price": "100"})

        def disposed(lpn, at, path, value, kind="policy", by="2001"):
            s.add(Decision(lpn=lpn, kind=kind, path=path, rule_id="r", recovery_value=Decimal(value),
                           decided_at=at, decided_by=by))
            events.record(s, STATION, "unit_disposed", operator=by, lpn=lpn, at=at,
                          payload={"kind": kind, "path": path, "recovery_value": value, "category": "phones",
                                   "unit_price": "100", "flags": []})

        unit("B07-00000001", "express", "received", now - 2 * H, now + 6 * H)
        unit("B07-00000002", "express", "inspecting", now - 9 * H, now - 1 * H)
        unit("B07-00000003", "standard", "received", now - 4 * H, now + 20 * H)
        unit("B07-00000004", "standard", "graded", now - 30 * H, now - 6 * H)
        unit("B07-00000005", "bulk", "received", now - 50 * H, now + 22 * H)
        unit("B07-00000006", "standard", "quarantined", now - 31 * D, now - 30 * D,
             description="[@click=app.quit]evil\x1b]2;PWNED\x07")
        unit("B07-00000007", "standard", "awaiting_approval", now - 25 * H, None)
        today = now.replace(hour=0)
        disposed("B07-00000006", today + 7 * H, "quarantine", "0")  # a hold: a decision, not a disposal
        unit("B07-00000011", "standard", "disposed", today + 8 * H, None, disposition="restock",
             recovery_value=Decimal("90"), disposed_at=today + 10 * H)
        disposed("B07-00000011", today + 10 * H, "restock", "90")
        unit("B07-00000012", "standard", "disposed", today - 12 * H, None, disposition="open_box",
             recovery_value=Decimal("30"), disposed_at=today + 9 * H)
        disposed("B07-00000012", today + 9 * H, "open_box", "30")
        monday = today - 2 * D
        unit("B07-00000013", "standard", "disposed", monday, None, disposition="liquidate",
             recovery_value=Decimal("20"), disposed_at=today + 11 * H)
        disposed("B07-00000013", monday + 5 * H, "refurbish", "50")
        disposed("B07-00000013", today + 11 * H, "liquidate", "20", kind="override", by="9001")
        unit("B07-00000014", "standard", "disposed", monday - 5 * D, None, disposition="restock",
             recovery_value=Decimal("95"), disposed_at=monday - 4 * D)
        disposed("B07-00000014", monday - 4 * D, "restock", "95")
        unit("B07-00000015", "standard", "voided", now - 3 * H, now + 21 * H)
        events.record(s, STATION, "unit_voided", operator="9001", lpn="B07-00000015", at=now - 2 * H,
                      payload={"reason": "duplicate label"})

        for at, kind, value, state in [(now - 3 * H, "unknown_rma", Decimal("25"), "open"),
                                       (now - 1 * H, "duplicate", None, "open"),
                                       (now - 5 * H, "invalid_code", None, "voided")]:
            s.add(ScanException(kind=kind, code=f"CODE-{kind}", station_id=STATION, at=at, operator="1001",
                                value=value, state=state))
