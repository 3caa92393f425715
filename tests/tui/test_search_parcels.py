"""Pilot: a parcel with a torn label found by search (order id, name, e-mail, SKU, GTIN) and
received, its exception resolved and linked; a blind receipt from the search screen; a parcel of
several items closed by CMD:DONE with a line missing (issue 16)."""

from __future__ import annotations

import pytest
from sqlmodel import select

from dockstation.models import Event, Hold, Rma, ScanException, Unit
from dockstation.tui.search import SearchScreen

from tui_helpers import scan, screen_text, see, state_line, wait_for


def add_rma(store, rma_id, lines):
    import importlib.util
    from pathlib import Path

    spec = importlib.util.spec_from_file_location("root_conftest", Path(__file__).parent.parent / "conftest.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    module.add_rma(store, rma_id, lines)


@pytest.fixture
def customers(manifest):
    with manifest.write() as s:
        for rma_id, name, email in (("RMA-2026-000001", "Zoë Müller", "zoe@example.com"),
                                    ("RMA-2026-000002", "Ada [b]Lovelace", "ada@example.org")):
            rma = s.get(Rma, rma_id)
            rma.customer_name, rma.customer_email = name, email
            s.add(rma)
    return manifest


async def _search(pilot, app, text: str) -> SearchScreen:
    screen = app.screen
    assert isinstance(screen, SearchScreen)
    done = screen.searches
    screen.query_one("#search-input").value = text
    await pilot.press("enter")
    await wait_for(pilot, lambda: screen.searches > done, "the search")
    return screen


@pytest.mark.parametrize("text,rma_id", [
    ("O-RMA-2026-000001", "RMA-2026-000001"),   # order id
    ("zoe", "RMA-2026-000001"),                 # name, diacritics folded
    ("ada@example.org", "RMA-2026-000002"),     # e-mail
    ("SHO-42", "RMA-2026-000002"),              # SKU
    ("04006381333931", "RMA-2026-000001"),      # GTIN
])
async def test_search_by_every_kind_in_pilot_receives_and_links_the_exception(make_app, customers, text, rma_id):
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await scan(pilot, app, "OP-1001", "1Z999AA10123456785")  # a torn label: read wrong
        await scan(pilot, app, "1Z999AA10123456799")
        assert "Unknown tracking number" in state_line(app) or "check digit" in state_line(app)
        await scan(pilot, app, "CMD:SEARCH")
        await wait_for(pilot, lambda: isinstance(app.screen, SearchScreen), "the search screen")
        screen = await _search(pilot, app, text)
        assert [m.rma_id for m in screen.matches][:1] == [rma_id]
        await see(pilot, app, rma_id)
        assert "[b]" not in screen_text(app) or "Lovelace" in screen_text(app)  # literal text, never markup
        await pilot.press("1")
        await wait_for(pilot, lambda: app.screen is app.receive_screen, "back on the receiving screen")
        await wait_for(pilot, lambda: "Received B07-00000001" in state_line(app) or "which item" in
                       screen_text(app) or app.receive_screen.picking, "the receipt")
    with customers.read() as s:
        exc = s.exec(select(ScanException).order_by(ScanException.id.desc())).first()
        unit = s.get(Unit, "B07-00000001")
        if unit is not None:  # a one-line RMA is received at once; the exception is linked to it
            assert unit.rma_id == rma_id
            assert (exc.state, exc.lpn, exc.rma_id) == ("matched", "B07-00000001", rma_id)


async def test_f7_searches_and_f8_receives_blind(make_app, manifest):
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await scan(pilot, app, "OP-1001", "9400111201080805483016")  # a USPS parcel the manifest lacks
        assert "Unknown tracking number" in state_line(app)
        await pilot.press("f7")
        await wait_for(pilot, lambda: isinstance(app.screen, SearchScreen), "the search screen")
        screen = app.screen
        await wait_for(pilot, lambda: screen.searches >= 1, "the search of the scanned code")
        assert screen.matches == []
        await see(pilot, app, "No open return matches")
        await pilot.press("f8")
        await wait_for(pilot, lambda: app.screen is app.receive_screen and "Held" in state_line(app), "held")
    with manifest.read() as s:
        hold = s.exec(select(Hold)).one()
        unit = s.get(Unit, hold.lpn)
        assert unit.state == "held" and unit.rma_id is None
        assert hold.tracking == "9400111201080805483016"
        assert s.exec(select(ScanException)).one().state == "held"


async def test_a_parcel_of_several_items_n_of_m_and_cmd_done(make_app, manifest):
    add_rma(manifest, "RMA-3LINE", [
        dict(sku="HP-1", gtin="05901234123457", description="Headphones", category="headphones",
             reason_code="changed_mind"),
        dict(sku="TS-1", gtin="00012345678905", description="T-shirt", category="apparel", reason_code="wrong_size"),
        dict(sku="CAP-1", gtin="04012345678901", description="Cap", category="apparel", reason_code="wrong_size"),
    ])
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await scan(pilot, app, "OP-1001", "RMA-3LINE", "05901234123457")
        assert "1 of 3 received" in state_line(app)
        await scan(pilot, app, "00012345678905")
        assert "2 of 3 received" in state_line(app)
        await scan(pilot, app, "04006381333931")  # on no line: an extra unit, flagged
        assert "NOT ON THE RMA" in state_line(app)
        await scan(pilot, app, "CMD:DONE")
        await see(pilot, app, "1 missing")
        assert not app.receive_screen.picking
    with manifest.read() as s:
        kinds = [e.kind for e in s.exec(select(Event).where(Event.rma_id == "RMA-3LINE").order_by(Event.seq))]
    assert kinds.count("unit_received") == 3 and kinds[-2:] == ["line_missing", "parcel_closed"]


async def test_a_fedex_label_that_reads_as_a_upc_ends_the_open_parcel_and_receives_its_own(make_app, manifest):
    """123456780026 passes FedEx Express's and UPC-A's check digits alike: while a parcel of
    several items is open, the manifest knows it as another parcel's tracking number, so it is
    that parcel (received), not an undeclared item of the open one."""
    from store_helpers import add_rma as add_tracked

    add_tracked(manifest, "RMA-FDX", [dict(sku="BK-1", description="Book", category="books")],
                tracking="123456780026")
    add_rma(manifest, "RMA-2LINE", [
        dict(sku="HP-1", gtin="05901234123457", description="Headphones", category="headphones",
             reason_code="changed_mind"),
        dict(sku="TS-1", gtin="00012345678905", description="T-shirt", category="apparel", reason_code="wrong_size"),
    ])
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await scan(pilot, app, "OP-1001", "RMA-2LINE", "05901234123457")
        assert "1 of 2 received" in state_line(app) and app.receive_screen.picking
        await scan(pilot, app, "123456780026")
        await wait_for(pilot, lambda: "Received" in state_line(app) and not app.receive_screen.picking, "receipt")
    with manifest.read() as s:
        units = {u.lpn: (u.rma_id, u.risk_flags) for u in s.exec(select(Unit))}
    assert sorted(r for r, _ in units.values()) == ["RMA-2LINE", "RMA-FDX"]
    assert not any("undeclared_item" in flags for _, flags in units.values())
