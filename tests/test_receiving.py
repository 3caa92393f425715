"""Receiving core, without Textual."""

from __future__ import annotations

from sqlmodel import select

from dockstation.models import Event, ScanException, Unit
from dockstation.receiving import handle_scan, receive_line, sign_in
from dockstation.receiving.core import line_for_gtin
from dockstation.scan import ScanEvent, classify
from dockstation.types import utcnow


def scan(bench, store, op, code):
    ev = ScanEvent(code, "test", None, utcnow())
    return handle_scan(store, bench, op, ev, classify(code, bench.codes.patterns))


def signed_in(bench, store, badge="1001"):
    out = sign_in(store, bench, ScanEvent(f"OP-{badge}", "test", None, utcnow()), badge)
    assert out.status == "signed_in"
    return out.operator


def test_single_line_rma_receives_at_once_with_lpn_and_event(bench, manifest):
    op = signed_in(bench, manifest)
    out = scan(bench, manifest, op, "RMA-2026-000001")
    assert out.status == "received"
    assert out.unit.lpn == "B07-00000001"
    assert out.unit.sku == "PHN-1" and out.unit.lane == "standard"
    with manifest.read() as s:
        unit = s.get(Unit, "B07-00000001")
        assert unit.received_by == "1001" and unit.received_at.tzinfo is not None
        kinds = [e.kind for e in s.exec(select(Event).order_by(Event.seq))]
    assert kinds == ["operator_signed_in", "unit_received"]


def test_tracking_number_finds_the_rma(bench, manifest):
    op = signed_in(bench, manifest)
    assert scan(bench, manifest, op, "1Z999AA10123456784").unit.rma_id == "RMA-2026-000001"


def test_multi_line_rma_asks_which_line_then_gtin_picks_it(bench, manifest):
    op = signed_in(bench, manifest)
    out = scan(bench, manifest, op, "RMA-2026-000002")
    assert out.status == "choose_line" and [l.sku for l in out.lines] == ["TSH-M", "SHO-42"]
    line = line_for_gtin(out.lines, "4012345678901")
    assert line.line_no == 2
    ev = ScanEvent("4012345678901", "test", None, utcnow())
    got = receive_line(manifest, bench, op, out.rma_id, line.line_no, ev)
    assert got.unit.sku == "SHO-42"
    # The remaining line is received at once on the next scan.
    assert scan(bench, manifest, op, "RMA-2026-000002").unit.sku == "TSH-M"
    dup = scan(bench, manifest, op, "RMA-2026-000002")
    assert dup.exception_kind == "duplicate"


def test_each_exception_kind_is_recorded_with_its_message(bench, manifest):
    assert scan(bench, manifest, None, "RMA-2026-000001").exception_kind == "signed_out"
    op = signed_in(bench, manifest)
    cases = {
        "RMA-9999-000404": "unknown_rma",
        "RMA-2026-000003": "cancelled",
        "RMA-2026-000004": "outside_window",
        "1Z999AA10000000006": "unknown_tracking",
        "1Z999AA10123456785": "invalid_code",
        "hello world": "unknown_code",
    }
    for code, kind in cases.items():
        out = scan(bench, manifest, op, code)
        assert (out.status, out.exception_kind) == ("exception", kind), code
    with manifest.read() as s:
        rows = s.exec(select(ScanException).order_by(ScanException.id)).all()
        assert [r.kind for r in rows] == ["signed_out", *cases.values()]
        assert s.exec(select(Unit)).all() == []


def test_unknown_badge_is_refused_and_recorded(bench, store):
    out = sign_in(store, bench, ScanEvent("OP-4242", "test", None, utcnow()), "4242")
    assert out.status == "exception" and out.exception_kind == "unknown_badge"


def test_hostile_codes_change_nothing_but_an_exception_row(bench, manifest):
    op = signed_in(bench, manifest)
    hostile = ["[bold]x[/]", "[@click=app.quit]", "\x1b]2;title\x07", "A" * 10_000, "AB\x00CD"]
    for code in hostile:
        assert scan(bench, manifest, op, code).status == "exception"
    with manifest.read() as s:
        rows = s.exec(select(ScanException)).all()
        assert len(rows) == len(hostile)
        assert all(len(r.code) < 1000 for r in rows)  # bounded, kept as data
        assert s.exec(select(Unit)).all() == []


def test_event_seq_is_gap_free_across_rolled_back_transactions(bench, manifest):
    op = signed_in(bench, manifest)
    try:
        with manifest.write() as s:
            from dockstation import events
            events.record(s, "B07", "doomed")
            raise RuntimeError("boom")
    except RuntimeError:
        pass
    scan(bench, manifest, op, "RMA-2026-000001")
    with manifest.read() as s:
        seqs = [e.seq for e in s.exec(select(Event).order_by(Event.seq))]
    assert seqs == list(range(1, len(seqs) + 1))


def test_lookalike_digits_and_trailing_newline_are_not_lpns(bench):
    from dockstation.scan import CodeKind

    for code in ["B07-\u0660\u0660\u0660\u0661\u0662\u0663\u0664\u0665", "B07-00012345\n"]:
        assert classify(code, bench.codes.patterns).kind is not CodeKind.LPN
    assert classify("B07-00012345", bench.codes.patterns).kind is CodeKind.LPN


def test_a_parcel_scan_receives_without_orm_objects_and_writes_the_models_row(bench, manifest):
    """The scan path is plain SQL on a plain transaction (receiving/core.py, Store.plain_write): no
    model instance is loaded or flushed for a receipt — and the unit row is the one the model
    would write."""
    import sqlite3

    from sqlalchemy import event
    from sqlmodel import Session

    op = signed_in(bench, manifest)
    seen: list[str] = []

    def loaded(session, instance):  # any model object the ORM builds from a row
        seen.append(type(instance).__name__)

    def flushed(session, context, instances):
        seen.extend(type(o).__name__ for o in (*session.new, *session.dirty))

    event.listen(Session, "loaded_as_persistent", loaded)
    event.listen(Session, "before_flush", flushed)
    try:
        out = scan(bench, manifest, op, "1Z999AA10123456784")
    finally:
        event.remove(Session, "loaded_as_persistent", loaded)
        event.remove(Session, "before_flush", flushed)
    assert out.status == "received" and seen == []
    assert out.unit.reason_code == "defective" and out.unit.risk_flags == ()

    # The same values through the model, under another LPN: every column stored alike.
    with manifest.write() as s:
        s.add(Unit(lpn="B07-99999999", rma_id=out.unit.rma_id, line_no=1, station_id="B07", sku="PHN-1",
                   category="phones", description="Phone X 128GB", unit_price=out.unit.unit_price,
                   currency="USD", state="received", lane=out.unit.lane, sla_due_at=out.unit.sla_due_at,
                   risk_flags=[], received_at=out.unit.received_at, received_by="1001", source="test",
                   updated_at=out.unit.received_at))
    conn = sqlite3.connect(manifest.path)
    conn.row_factory = sqlite3.Row
    core, model = (dict(conn.execute("SELECT * FROM unit WHERE lpn = ?", (lpn,)).fetchone())
                   for lpn in (out.unit.lpn, "B07-99999999"))
    assert {**core, "lpn": None} == {**model, "lpn": None}
    assert conn.execute("SELECT received_qty FROM rma_line WHERE rma_id = ?", (out.unit.rma_id,)).fetchone()[0] == 1


def test_a_line_picked_by_hand_is_counted_once_and_its_parcel_progress_includes_it(bench, manifest):
    """receive_line reads the line as a model object: the UPDATE of its count is not repeated by
    the session's flush, and the progress shown counts the unit just received."""
    op = signed_in(bench, manifest)
    ev = ScanEvent("RMA-2026-000002", "test", None, utcnow())
    got = receive_line(manifest, bench, op, "RMA-2026-000002", 2, ev)
    assert got.progress == (1, 2) and [l.received_qty for l in got.lines] == [0, 1]
    from dockstation.models import RmaLine

    with manifest.read() as s:
        assert [l.received_qty for l in s.exec(select(RmaLine).where(RmaLine.rma_id == "RMA-2026-000002")
                                               .order_by(RmaLine.line_no))] == [0, 1]
