"""The bench TUI driven with Textual's Pilot: sign-in, receiving, picking, exceptions, bursts."""

from __future__ import annotations

import threading

from rich.text import Text
from sqlmodel import select
from textual.widgets import Input

from dockstation.models import Event, ScanException, Unit
from dockstation.receiving.core import MESSAGES
from dockstation.scan import ScanEvent
from dockstation.text import clean
from dockstation.tui.lead import LeadScreen
from dockstation.tui.messages import ScanReceived
from dockstation.tui.receive import NEXT_MOVE, ReceiveScreen
from dockstation.tui.widgets import LinePicker, ScanLog
from dockstation.types import utcnow

from tui_helpers import burst, db, scan, see, state_line, wait_for


def log_rows(app) -> list[list[str]]:
    log = app.receive_screen.query_one("#log", ScanLog)
    return [[str(c) for c in row] for row in log.rows]


async def test_badge_scan_signs_in_and_header_shows_the_operator(make_app, manifest):
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        assert "Scan your badge" in state_line(app)
        await scan(pilot, app, "OP-2001")
        assert app.operator is not None and app.operator.name == "Gale Grader"
        await see(pilot, app, "Gale Grader · grader")
        assert "Signed in: Gale Grader" in state_line(app)
        assert list(app.sound.history) == ["ok"]
    with manifest.read() as s:
        assert [e.kind for e in s.exec(select(Event))] == ["operator_signed_in"]


async def test_one_line_rma_lpn_is_shown_only_after_the_unit_is_committed(make_app, manifest, home, monkeypatch):
    app = make_app()
    seen: list[tuple[str, bool]] = []
    original = ReceiveScreen._set

    def checking_set(self, state, line, big, lane="", details=None):
        if big.startswith("B07-"):
            # At the moment the LPN goes on screen, an independent connection must see it.
            with db(home) as conn:
                committed = conn.execute("SELECT count(*) FROM unit WHERE lpn = ?", (big,)).fetchone()[0] == 1
            seen.append((big, committed))
        return original(self, state, line, big, lane, details)

    monkeypatch.setattr(ReceiveScreen, "_set", checking_set)
    async with app.run_test(size=(80, 24)) as pilot:
        await scan(pilot, app, "OP-1001", "RMA-2026-000001")
        assert seen == [("B07-00000001", True)]
        await see(pilot, app, "Received B07-00000001", "PHN-1", "Phone X 128GB",
                  "┏━┓ ┏━┓ ┏━┓ ┏━┓ ┏━┓ ┏━┓ ┏━┓ ╺┓")  # the LPN's digits in big letters
        assert list(app.sound.history) == ["ok", "ok"]
    with manifest.read() as s:
        unit = s.get(Unit, "B07-00000001")
        assert unit.source == "wedge" and unit.received_by == "1001"


async def test_multi_line_rma_picked_by_number_key(make_app, manifest):
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await scan(pilot, app, "OP-1001", "RMA-2026-000002")
        picker = app.receive_screen.query_one("#picker", LinePicker)
        assert picker.display and app.focused is picker
        await see(pilot, app, "TSH-M", "SHO-42", "[1]", "[2]")
        assert app.sound.history[-1] == "attention"
        await pilot.press("2")  # a person: held for the wedge gap, then to the picker
        await wait_for(pilot, lambda: "Received" in state_line(app), "the unit")
        assert "1 of 2 received" in state_line(app)
        assert picker.display  # the parcel stays open for its next item (issue 16)
    with manifest.read() as s:
        units = s.exec(select(Unit)).all()
        assert [(u.sku, u.line_no) for u in units] == [("SHO-42", 2)]


async def test_multi_line_rma_picked_by_scanning_the_gtin(make_app, manifest):
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await scan(pilot, app, "OP-1001", "RMA-2026-000002")
        await scan(pilot, app, "04006381333931")  # the phone: on no line of this RMA (issue 16)
        assert "Received B07-00000001" in state_line(app) and "NOT ON THE RMA" in state_line(app)
        assert app.receive_screen.query_one("#picker").display  # the parcel stays open
        await scan(pilot, app, "4012345678901")  # EAN-13 of line 2, compared as GTIN-14
        assert "Received B07-00000002" in state_line(app)
    with manifest.read() as s:
        assert "undeclared_item" in s.get(Unit, "B07-00000001").risk_flags
        unit = s.get(Unit, "B07-00000002")
        assert unit.sku == "SHO-42"
        payload = s.exec(select(Event).where(Event.kind == "unit_received", Event.lpn == "B07-00000002")).one().payload
        assert payload["code"] == "4012345678901"


async def test_escape_cancels_a_pick_and_nothing_is_received(make_app, manifest):
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await scan(pilot, app, "OP-1001", "RMA-2026-000002")
        await pilot.press("escape")
        await wait_for(pilot, lambda: "cancelled" in state_line(app), "the cancel")
        assert not app.receive_screen.query_one("#picker").display
        assert isinstance(app.focused, Input)
    with manifest.read() as s:
        assert s.exec(select(Unit)).all() == []


async def test_each_exception_shows_its_message_big_and_red(make_app, manifest):
    app = make_app()
    cases = {
        "RMA-9999-000404": "unknown_rma",
        "RMA-2026-000003": "cancelled",
        "RMA-2026-000004": "outside_window",
        "1Z999AA10000000006": "unknown_tracking",
        "1Z999AA10123456785": "invalid_code",
        "hello world": "unknown_code",
        "OP-4242": "unknown_badge",
    }
    async with app.run_test(size=(80, 24)) as pilot:
        await scan(pilot, app, "RMA-2026-000001")
        assert MESSAGES["signed_out"] in state_line(app)
        await scan(pilot, app, "OP-1001", "RMA-2026-000001")
        await scan(pilot, app, "RMA-2026-000001")
        assert MESSAGES["duplicate"] in state_line(app)
        assert app.receive_screen.query_one("#lane").text == "ALREADY IN"
        for code, kind in cases.items():
            await scan(pilot, app, code)
            assert MESSAGES[kind] in state_line(app), code
            assert app.receive_screen.state == "error"
            assert "✖" in state_line(app)
            assert app.sound.history[-1] == "error"
            lane = app.receive_screen.query_one("#lane")  # the next move, big
            assert lane.display and lane.text == NEXT_MOVE.get(kind, "SET ASIDE"), code
    with manifest.read() as s:
        kinds = [r.kind for r in s.exec(select(ScanException).order_by(ScanException.id))]
    assert kinds == ["signed_out", "duplicate", *cases.values()]


async def test_a_real_burst_of_two_codes_gives_two_results_in_order(make_app, manifest):
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await scan(pilot, app, "OP-1001")
        # Entry field focused (the #6605 trap): the whole burst must still become two scans.
        assert isinstance(app.focused, Input)
        burst(app, "RMA-2026-000001\rRMA-2026-000003\r")
        await wait_for(pilot, lambda: app.scans_done >= 3, "two scans")
        await pilot.pause()
        rows = log_rows(app)[-2:]
        assert [r[2] for r in rows] == ["RMA-2026-000001", "RMA-2026-000003"]
        assert [r[1] for r in rows] == ["✔", "✖"]
        assert app.query_one("#entry", Input).value == ""  # nothing leaked into the field
    with manifest.read() as s:
        assert [u.rma_id for u in s.exec(select(Unit))] == ["RMA-2026-000001"]
        assert [e.kind for e in s.exec(select(Event).order_by(Event.seq))] == [
            "operator_signed_in", "unit_received", "label_queued", "exception_recorded"]


async def test_a_person_typing_in_the_entry_field_is_typing_not_a_scan(make_app, manifest):
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        entry = app.query_one("#entry", Input)
        assert app.focused is entry
        keys = [k for ch in "OP-1001" for k in (ch, "wait:90")]
        await pilot.press(*keys)
        await wait_for(pilot, lambda: entry.value == "OP-1001", "the typed text")
        assert app.scans_done == 0 and app.operator is None  # typed, not scanned
        await pilot.press("enter")
        await wait_for(pilot, lambda: app.operator is not None, "sign-in")
        await pilot.press(*[k for ch in "RMA-2026-000001" for k in (ch, "wait:90")], "enter")
        await wait_for(pilot, lambda: "Received" in state_line(app), "the unit")
    with manifest.read() as s:
        assert s.get(Unit, "B07-00000001").source == "keyboard"
        assert s.exec(select(Event).where(Event.kind == "operator_signed_in")).one().payload["source"] == "keyboard"


HOSTILE_WEDGE = ["[bold]x[/]", "[@click=app.quit]LOT42[/]", "ABC[/foo]", "y" * 10_000]
HOSTILE_SERIAL = ["\x1b]2;PWNED\x07", "AB\x00CD", "\x1b[2J\x1b[31mRED", "\x9b31m8bit"]


async def test_hostile_codes_change_nothing_but_exception_rows(make_app, manifest, home):
    # Posting 10 000 key events from the test can itself take longer than a scan may last on a
    # loaded machine; this test is about content, not timing, so the duration rule is relaxed.
    (home / "config" / "station.toml").write_text('station_id = "B07"\n[wedge]\nmax_duration_ms = 600000\n')
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await scan(pilot, app, "OP-1001")
        title = app.title
        for code in HOSTILE_WEDGE:
            await scan(pilot, app, code, deadline_s=120)
            assert app.is_running
            if len(code) < 40:  # shown literally (not as markup, not as a link) on screen
                await see(pilot, app, f"Code: {code}")
                await pilot.click("#details")
                await pilot.click("#log")
        assert [r[2] for r in log_rows(app)[1:4]] == [clean(c, limit=20) for c in HOSTILE_WEDGE[:3]]
        log = app.receive_screen.query_one("#log", ScanLog)
        assert all(isinstance(c, Text) for row in log.rows for c in row)
        for code in HOSTILE_SERIAL:  # a serial scanner delivers any bytes at all
            target = app.scans_done + 1
            app.post_message(ScanReceived(ScanEvent(code, "serial:test", None, utcnow())))
            await wait_for(pilot, lambda: app.scans_done >= target, "the serial scan")
        await pilot.pause()
        assert app.is_running and app.title == title and app.operator is not None
        text = await see(pilot, app, "Code: 8bit")  # the last one, its 8-bit CSI removed
        assert "\x1b" not in text and "\x00" not in text and "\x9b" not in text
        assert "PWNED" not in text  # the whole OSC sequence is dropped, not just its ESC
    with manifest.read() as s:
        assert s.exec(select(Unit)).all() == []
        kinds = [r.kind for r in s.exec(select(ScanException))]
    assert len(kinds) == len(HOSTILE_WEDGE) + len(HOSTILE_SERIAL)
    assert set(kinds) <= {"unknown_code", "invalid_code"}


async def test_clerk_is_refused_the_lead_view_and_a_lead_gets_it(make_app, manifest):
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("f3")
        await pilot.pause()
        assert isinstance(app.screen, ReceiveScreen) and "needs a lead" in state_line(app)
        await scan(pilot, app, "OP-1001")
        await pilot.press("f3")
        await wait_for(pilot, lambda: "needs a lead" in state_line(app), "the refusal")
        assert isinstance(app.screen, ReceiveScreen)
        assert app.sound.history[-1] == "error"
        await scan(pilot, app, "OP-9001")
        await pilot.press("f3")
        await wait_for(pilot, lambda: isinstance(app.screen, LeadScreen), "the lead view")
        # A parcel scanned on another screen is received on the receiving screen.
        await scan(pilot, app, "RMA-2026-000001")
        assert isinstance(app.screen, ReceiveScreen)
        assert "Received B07-00000001" in state_line(app)


async def test_lpn_opens_inspection_for_a_grader_and_a_summary_for_a_clerk(make_app, manifest):
    from dockstation.tui.inspect import InspectScreen

    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await scan(pilot, app, "OP-1001", "RMA-2026-000001", "B07-00000001")
        assert isinstance(app.screen, ReceiveScreen)
        assert "A grader inspects this unit" in state_line(app)
        await scan(pilot, app, "B07-00000999")
        assert "No unit B07-00000999" in state_line(app)
        await scan(pilot, app, "OP-2001", "B07-00000001")
        assert isinstance(app.screen, InspectScreen) and app.screen.lpn == "B07-00000001"
        await scan(pilot, app, "CMD:LOGOUT")
        assert app.operator is None and isinstance(app.screen, ReceiveScreen)
        assert "Signed out: Gale Grader" in state_line(app)
    with manifest.read() as s:
        kinds = [e.kind for e in s.exec(select(Event).order_by(Event.seq))
                 if e.kind.startswith(("operator_", "unit_received"))]  # the inspection's own aside
    assert kinds == ["operator_signed_in", "unit_received", "operator_signed_out", "operator_signed_in",
                     "operator_signed_out"]


async def test_serial_scans_from_a_thread_and_services_show_in_the_header(make_app, manifest):
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        def reader_thread() -> None:  # what a SerialReader does from its own thread
            for code in ("OP-1001", "RMA-2026-000001"):
                app.post_message(ScanReceived(ScanEvent(code, "serial:front", None, utcnow())))

        threading.Thread(target=reader_thread).start()
        await wait_for(pilot, lambda: app.scans_done >= 2, "serial scans")

        started = threading.Event()

        def printer(stop: threading.Event, status) -> None:
            status("spool", "ok")
            started.set()
            stop.wait()

        stop = app.start_service("printer", printer)
        await wait_for(pilot, lambda: app.slots["printer"].text == "spool", "printer status")
        await pilot.pause()
        await see(pilot, app, "print ✔ spool")
        stop.set()
    with manifest.read() as s:
        assert s.get(Unit, "B07-00000001").source == "serial:front"


async def test_sound_patterns_differ_and_station_sound_off_is_silent(make_app, manifest, monkeypatch):
    app = make_app()
    bells: list[int] = []
    monkeypatch.setattr(app, "bell", lambda: bells.append(1))
    app.sound._bell = app.bell
    async with app.run_test(size=(80, 24)) as pilot:
        await scan(pilot, app, "OP-1001")
        await pilot.pause(0.05)
        assert len(bells) == 1
        bells.clear()
        await scan(pilot, app, "RMA-9999-000404")
        await wait_for(pilot, lambda: len(bells) == 3, "three bells")
        app.sound.enabled = False
        bells.clear()
        await scan(pilot, app, "RMA-9999-000405")
        await pilot.pause(0.4)
        assert bells == []


async def test_f4_signs_out_and_f2_focuses_the_entry_field(make_app, manifest):
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await scan(pilot, app, "OP-1001", "RMA-2026-000002")
        assert isinstance(app.focused, LinePicker)
        await pilot.press("f2")
        await wait_for(pilot, lambda: isinstance(app.focused, Input), "focus on the entry field")
        await pilot.press("f4")
        await wait_for(pilot, lambda: app.operator is None, "sign-out")
        assert "Signed out: Casey Clerk" in state_line(app)
        assert not app.receive_screen.query_one("#picker").display
        await see(pilot, app, "nobody signed in")
    with manifest.read() as s:
        assert [e.kind for e in s.exec(select(Event).order_by(Event.seq))] == [
            "operator_signed_in", "operator_signed_out"]


async def test_a_gs1_code_with_gs_separators_survives_the_wedge_and_picks_its_line(make_app, manifest):
    app = make_app()
    code = "0104012345678901\x1d21SN-77\x1d10LOT9"  # GTIN (AI 01), serial (AI 21), lot (AI 10)
    async with app.run_test(size=(80, 24)) as pilot:
        await scan(pilot, app, "OP-1001", "RMA-2026-000002", code)
        assert "Received B07-00000001" in state_line(app)
        await see(pilot, app, "0104012345678901<GS")  # GS shown as a name, never as a byte
    with manifest.read() as s:
        event = s.exec(select(Event).where(Event.kind == "unit_received")).one()
        assert event.payload["code"] == code and event.payload["source"] == "wedge"
        assert s.get(Unit, "B07-00000001").sku == "SHO-42"
