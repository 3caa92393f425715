"""The manifest at HQ: change cursor under concurrent writers, paging, the unit projection."""

from __future__ import annotations

import json
import threading
from datetime import UTC, datetime, timedelta

import pytest

from sync.hq import units as hq_units
from sync.hq.manifest_import import import_rmas
from sync.hq.manifest import manifest_page
from sync.protocol import ProtocolError, decode_cursor, encode_cursor

T = datetime(2026, 11, 1, tzinfo=UTC)


def rma(rid: str, desc: str = "Lamp", status: str = "open") -> tuple[dict, dict]:
    return ({rid: (f"O-{rid}", T, T + timedelta(days=30), status)},
            {rid: [(rid, 1, "HOM-1", None, desc, "home", 1, "25.00", "USD", None, "changed_mind", None, None)]})


def read_all(db, after: int = 0, limit: int = 1000) -> tuple[list[list], dict[str, list]]:
    """Every RMA row after the cursor in order, and the lines of each."""
    rows: list[list] = []
    lines: dict[str, list] = {}
    while True:
        page = json.loads(manifest_page(db, after, limit))
        rows += page["rmas"]
        for line in page["lines"]:
            lines.setdefault(line[0], []).append(line)
        after = decode_cursor(page["cursor"])
        if not page["more"]:
            return rows, lines


def test_pages_cover_every_change_once_in_order(hq_db):
    for i in range(1, 26):
        import_rmas(hq_db, *rma(f"RMA-{i:04d}"))
    import_rmas(hq_db, *rma("RMA-0003", desc="Lamp (changed)"))  # moves to the end
    import_rmas(hq_db, *rma("RMA-0004", status="cancelled"))
    rows, lines = read_all(hq_db, limit=4)
    ids = [r[0] for r in rows]
    assert len(ids) == 25 == len(set(ids)) == len(lines)
    assert ids[-2:] == ["RMA-0003", "RMA-0004"]
    assert lines["RMA-0003"][0][4] == "Lamp (changed)" and rows[-1][4] == "cancelled"
    assert rows[0][2] == "2026-11-01T00:00:00.000000+00:00"  # canonical UTC on the wire
    assert import_rmas(hq_db, *rma("RMA-0003", desc="Lamp (changed)")) == (0, 0, 1)  # no-op
    assert read_all(hq_db, after=decode_cursor(encode_cursor(27)))[0] == []


def test_the_cursor_never_skips_a_change_under_concurrent_writers(hq_db):
    """Writers commit in any order; a reader paging all the while still sees every final state.
    (With a sequence for change_id, a later id can commit first and the reader would skip the
    earlier one; with max+1 and no lock, two writers would take the same id.)"""
    writers, rounds = 4, 12
    seen: dict[str, tuple[str, str]] = {}
    done = threading.Event()
    errors: list[BaseException] = []

    def write(w: int) -> None:
        try:
            for r in range(rounds):
                rmas, lines = {}, {}
                for k in range(3):  # new RMAs and changes to everyone's earlier ones
                    a, b = rma(f"RMA-{w}-{(r * 3 + k) % 20:03d}", desc=f"w{w} r{r}")
                    rmas |= a
                    lines |= b
                import_rmas(hq_db, rmas, lines)
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)

    def read() -> None:
        after = 0
        while True:
            finished = done.is_set()
            page = json.loads(manifest_page(hq_db, after, 5))
            desc = {line[0]: line[4] for line in page["lines"]}
            for row in page["rmas"]:
                seen[row[0]] = (desc[row[0]], row[5])
            after = decode_cursor(page["cursor"])
            if finished and not page["more"]:
                return

    threads = [threading.Thread(target=write, args=(w,)) for w in range(writers)]
    reader = threading.Thread(target=read)
    reader.start()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    done.set()
    reader.join(60)
    assert errors == []
    final, lines = read_all(hq_db)
    assert {r[0]: (lines[r[0]][0][4], r[5]) for r in final} == seen


def test_cursors_are_opaque_and_checked():
    assert decode_cursor(encode_cursor(123456789)) == 123456789
    assert decode_cursor("") == 0
    for bad in ("garbage!", "YzE6LTU", "YzI6NQ"):  # not base64; "c1:-5"; "c2:5"
        with pytest.raises(ProtocolError):
            decode_cursor(bad)


def test_unit_fold_is_the_benchs_story_in_seq_order():
    at = T
    ev = lambda seq, kind, **p: {"station_id": "B07", "seq": seq, "kind": kind, "at": at + timedelta(hours=seq),  # noqa: E731
                                 "operator": "2001", "lpn": "B07-00000001", "rma_id": "RMA-1", "payload": p}
    u = hq_units.fold(None, ev(1, "unit_received", line_no=1, sku="S", category="phones", lane="express",
                                sla_hours=8, unit_price="699.00", currency="USD", risk_flags=["high_value"]), at)
    assert (u["state"], u["lane"], u["sla_due_at"], u["risk_flags"]) == ("received", "express", at + timedelta(hours=9),
                                                                          ["high_value"])
    u = hq_units.fold(u, ev(2, "inspection_started", inspection_id=1), at)
    u = hq_units.fold(u, ev(3, "inspection_cancelled", inspection_id=1), at)
    assert u["state"] == "received"
    u = hq_units.fold(u, ev(4, "unit_graded", grade="C", flags=["scratches"]), at)
    u = hq_units.fold(u, ev(5, "unit_disposed", path="refurbish", recovery_value="300.10", rule_id="r3"), at)
    u = hq_units.fold(u, ev(6, "label_printed", job_id=1), at)
    assert (u["state"], u["grade"], u["disposition"], str(u["recovery_value"]), u["last_kind"]) == (
        "disposed", "C", "refurbish", "300.10", "label_printed")
    # a receipt that arrives after another bench's grade fills the receipt but keeps the state
    late = hq_units.fold({**hq_units.new_unit("B07-00000002"), "state": "graded"},
                         ev(1, "unit_received", sku="T") | {"lpn": "B07-00000002"}, at)
    assert (late["state"], late["sku"]) == ("graded", "T")


def test_a_change_to_some_lines_sends_the_rma_with_all_its_lines(hq_db):
    """A file may carry only some lines of an RMA; the page with the change still has them all
    (a page finds lines by the RMA's change_id, which the unnamed line must follow)."""
    two = {"RMA-7": [(*rma("RMA-7")[1]["RMA-7"][0][:1], n, *rma("RMA-7")[1]["RMA-7"][0][2:]) for n in (1, 2)]}
    import_rmas(hq_db, rma("RMA-7")[0], two)
    import_rmas(hq_db, *rma("RMA-8"))
    _, before = read_all(hq_db)
    assert sorted(l[1] for l in before["RMA-7"]) == [1, 2]
    page = json.loads(manifest_page(hq_db, 0, 1000))
    after = decode_cursor(page["cursor"])
    assert import_rmas(hq_db, *rma("RMA-7", desc="Lamp, line 1 changed")) == (0, 1, 0)  # names line 1 only
    rows, lines = read_all(hq_db, after=after)
    assert [r[0] for r in rows] == ["RMA-7"]
    assert sorted((l[1], l[4]) for l in lines["RMA-7"]) == [(1, "Lamp, line 1 changed"), (2, "Lamp")]
    assert list(lines) == ["RMA-7"]  # and nothing of RMA-8


def test_an_hq_database_from_before_line_change_ids_is_brought_forward(db_url):
    """Lines used to be joined to their RMA by rma_id; migrating an older database adds the
    lines' change_id, fills it from their RMAs, and pages carry every line."""
    from hq_release import back_to_the_release
    from sqlalchemy import inspect, text

    from sync.hq.db import HQDatabase

    db = HQDatabase(db_url)
    for i in (1, 2, 3):
        import_rmas(db, *rma(f"RMA-{i}"))
    db.dispose()
    back_to_the_release(db_url)
    db = HQDatabase(db_url, check_schema=False)
    with db.write() as conn:  # as an earlier release left it
        conn.exec_driver_sql("DROP INDEX ix_hq_rma_line_change_id")
        conn.exec_driver_sql("ALTER TABLE hq_rma_line DROP COLUMN change_id")
    db.dispose()
    db = HQDatabase(db_url, migrate=True)
    try:
        with db.read() as conn:
            assert "ix_hq_rma_line_change_id" in {i["name"] for i in inspect(conn).get_indexes("hq_rma_line")}
            assert conn.execute(text("SELECT count(*) FROM hq_rma_line l JOIN hq_rma r ON r.rma_id = l.rma_id "
                                     "WHERE l.change_id = r.change_id")).scalar_one() == 3
        rows, lines = read_all(db, limit=2)
        assert [r[0] for r in rows] == ["RMA-1", "RMA-2", "RMA-3"] and sorted(lines) == ["RMA-1", "RMA-2", "RMA-3"]
        HQDatabase(db_url).dispose()  # a second open finds nothing to do
    finally:
        db.dispose()
