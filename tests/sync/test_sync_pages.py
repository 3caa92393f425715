"""A manifest page from HQ is untrusted input: what the bench takes, converts and refuses."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest
from sqlalchemy import select

from dockstation.models import Event, KeyValue, Rma, RmaLine
from dockstation.store import Store
from sync import station_store as st
from sync.protocol import LINE_FIELDS, RMA_FIELDS

T = "2026-11-20T10:00:00.000000+00:00"


def page(**over: Any) -> dict[str, Any]:
    p = {"protocol": 1, "cursor": "YzE6Mg", "more": False, "remaining": None,
         "rma_fields": list(RMA_FIELDS), "line_fields": list(LINE_FIELDS),
         "rmas": [["RMA-1", "O-1", T, "2026-12-20T10:00:00.000000+00:00", "open", T, "Zoë Müller", "zoe@example.com"],
                  ["RMA-2", "O-2", T, T, "cancelled", T, None, None]],
         "lines": [["RMA-1", 1, "PHN-1", "04006381333931", "Phone", "phones", 1, "699.00", "USD", None, "defective",
                    "ups", "1Z999AA10123456784"],
                   ["RMA-2", 1, "TOY-1", None, "Robot", "toys", 2, "19.9", "EUR", None, "wrong_size", None, None]]}
    p.update(over)
    return p


def edit(path: tuple[str, int, int], value: Any) -> dict[str, Any]:
    p = copy.deepcopy(page())
    p[path[0]][path[1]][path[2]] = value
    return p


def fast(p: dict[str, Any]) -> tuple[list, list] | None:
    """The rows station_store.fast_page makes of this page as HQ would send it, or None."""
    wire = st.fast_page(json.dumps(p).encode())
    return None if wire is None else (wire.rmas, wire.lines)


@pytest.fixture
def bench_store(tmp_path) -> Store:
    s = Store(tmp_path / "b.sqlite3")
    yield s
    s.close()


def stored(store: Store) -> tuple[list[tuple], list[tuple], list[str]]:
    with store.read() as s:
        rmas = [(r.rma_id, r.created_at.isoformat(), r.expires_at.isoformat(), r.status) for r in s.exec(select(Rma)).scalars()]
        lines = [(l.rma_id, l.line_no, str(l.unit_price), l.qty, l.gtin) for l in s.exec(select(RmaLine)).scalars()]
        kinds = [e.kind for e in s.exec(select(Event)).scalars()]
    return rmas, lines, kinds


def test_a_canonical_page_goes_straight_to_sqlite(bench_store):
    p = page()
    rows = fast(p)
    assert rows is not None and [list(r) for r in rows[0]] == p["rmas"] and [list(r) for r in rows[1]] == p["lines"]
    assert st.write_page_checked(bench_store, "B07", p, p["cursor"], rows) == (2, 2)
    rmas, lines, kinds = stored(bench_store)
    assert rmas[0] == ("RMA-1", "2026-11-20T10:00:00+00:00", "2026-12-20T10:00:00+00:00", "open")
    assert ("RMA-2", 1, "19.9", 2, None) in lines and kinds == ["manifest_synced"]
    assert st.write_page_checked(bench_store, "B07", p, p["cursor"], rows) == (0, 0)  # again: nothing


def test_other_valid_forms_take_the_python_way(bench_store):
    p = edit(("rmas", 0, 2), "2026-11-20T12:00:00+02:00")  # another offset, no microseconds
    p["lines"][0][7] = "7E+2"
    p["lines"][1][7] = "\u0663.50"  # an Arabic-Indic 3: stored as ASCII digits
    assert fast(p) is None
    st.write_page_checked(bench_store, "B07", json.dumps(p).encode(), p["cursor"])  # as it came
    rmas, lines, _ = stored(bench_store)
    assert rmas[0][1] == "2026-11-20T10:00:00+00:00"
    assert ("RMA-1", 1, "7E+2", 1, "04006381333931") in lines and ("RMA-2", 1, "3.50", 2, None) in lines


@pytest.mark.parametrize("path,value", [
    (("rmas", 0, 2), "2026-02-30T10:00:00.000000+00:00"),  # no such day
    (("rmas", 0, 3), "2026-13-01T10:00:00.000000+00:00"),
    (("rmas", 1, 3), "2026-04-31T10:00:00.000000+00:00"),
    (("rmas", 0, 5), "2026-11-20T24:00:00.000000+00:00"),
    (("rmas", 0, 2), f"{T}\n{T}"),  # two canonical times in one value
    (("rmas", 0, 5), "2026-11-20T10:00:00.000000"),  # no offset
    (("rmas", 0, 4), "lost"),
    (("rmas", 0, 0), ""),
    (("rmas", 0, 1), ["nested"]),
    (("rmas", 0, 6), 7),  # a customer name that is no text
    (("rmas", 0, 7), "x" * 300 + "@example.com"),  # longer than any e-mail the parser takes
    (("lines", 0, 1), "1"),  # line_no as text
    (("lines", 0, 6), 0),  # qty
    (("lines", 0, 6), 1.5),
    (("lines", 0, 6), True),
    (("lines", 0, 4), 42),  # description as a number
    (("lines", 0, 0), "R" * 129),
    (("lines", 0, 7), "-1.00"),
    (("lines", 0, 7), "12abc"),
    (("lines", 0, 7), "1.00\n2.00"),  # would be stored, and break every read of the line
    (("lines", 0, 2), None),  # sku is required
    (("lines", 1, 0), "RMA-9"),  # a line of an RMA the page does not carry
])
def test_bad_values_are_refused_and_nothing_is_written(bench_store, path, value):
    p = edit(path, value)
    if path != ("lines", 1, 0):  # (that one is SQLite's to refuse: the foreign key)
        assert fast(p) is None
    with pytest.raises(st.PageError):
        st.write_page_checked(bench_store, "B07", p, "YzE6OQ", fast(p))
    assert stored(bench_store) == ([], [], [])
    with bench_store.read() as s:
        assert s.get(KeyValue, st.CURSOR) is None  # the cursor did not move past the bad page


def test_rows_of_the_wrong_shape_are_refused(bench_store):
    for p in (page(rmas=[["RMA-1", "O-1", T, T, "open"]]), page(lines=[["RMA-1", 1]]), page(rmas="nope"),
              page(rma_fields=["rma_id"])):
        assert fast(p) is None
        with pytest.raises(st.PageError):
            st.write_page_checked(bench_store, "B07", p, "c", fast(p))
    for body in (b'{"protocol":1,"rmas":[', b"[1, 2]"):
        with pytest.raises(st.PageError, match="unreadable manifest page"):
            st.write_page_checked(bench_store, "B07", body, "c")
    assert stored(bench_store) == ([], [], [])
