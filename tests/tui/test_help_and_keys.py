"""F1 help (generated from the screens' bindings and command tables) and per-station key remapping
(`[keys]` in station.toml, Textual's keymap by binding id), in the real bench app."""

from __future__ import annotations

import time
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from click.testing import CliRunner
from textual.binding import Binding

from dockstation.config import ConfigError
from dockstation.models import Rma, RmaLine
from dockstation.receiving.core import default_triage
from dockstation.scan import ScanEvent
from dockstation.tui.app import BenchApp
from dockstation.tui.disposition import DispositionScreen
from dockstation.tui.help import HelpScreen
from dockstation.tui.inspect import InspectScreen
from dockstation.tui.inspect_keys import COMMANDS
from dockstation.types import utcnow

GTIN14 = "04006381333931"
IMEI = "356938035643809"


def add_parcel(store, rma_id: str, category: str, **line: object) -> None:
    now = utcnow()
    with store.write() as s:
        s.add(Rma(rma_id=rma_id, order_id="O-" + rma_id, created_at=now - timedelta(days=2),
                  expires_at=now + timedelta(days=30), status="open", updated_at=now))
        s.add(RmaLine(rma_id=rma_id, line_no=1, sku="SKU-1", description="An item", category=category,
                      unit_price=Decimal("80.00"), gtin=GTIN14, **line))


async def until(pilot, condition, what: str) -> None:
    deadline = time.monotonic() + 10  # against hanging only; never a timing assertion
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await pilot.pause(0.02)


async def scan(pilot, app: BenchApp, *codes: str) -> None:
    target = app.scans_done + len(codes)
    for code in codes:
        app.enqueue_scan(ScanEvent(code, "test", None, utcnow()))
    await until(pilot, lambda: app.scans_done >= target, "the scans")
    await pilot.pause()


def make_app(home, store) -> BenchApp:
    app = BenchApp(home, store=store, triage=default_triage, start_services=False)
    app.wedge_enabled = False
    return app


async def open_help(pilot, app) -> HelpScreen:
    await pilot.press("f1")
    await until(pilot, lambda: isinstance(app.screen, HelpScreen), "the help screen")
    return app.screen


# -- F1 ------------------------------------------------------------------------------------------
async def test_help_lists_the_inspect_screens_keys_and_command_barcodes(home, store):
    add_parcel(store, "RMA-H-1", "home")
    app = make_app(home, store)
    async with app.run_test(size=(80, 24)) as pilot:
        await scan(pilot, app, "OP-2001", "RMA-H-1", "CMD:PASS")
        inspect = app.screen
        assert isinstance(inspect, InspectScreen)
        help_screen = await open_help(pilot, app)
        text = help_screen.text.plain
        for name in COMMANDS:  # the screen's own table, the one its scans run through
            assert f"CMD:{name}" in text, name
        assert "CMD:LOGOUT" in text and "CMD:REPRINT" in text
        for binding in Binding.make_bindings(InspectScreen.BINDINGS):  # the keys: from the bindings
            if binding.group is None:
                assert binding.id in text, binding.id
        assert "Pick another grade" in text and "inspect.option1" in text
        assert "F2" not in text.split("COMMAND")[0]  # the receiving screen's key, not this screen's
        await pilot.press("escape")
        await until(pilot, lambda: app.screen is inspect, "back to the inspection")


async def test_help_on_the_receiving_screen_lists_the_unit_in_hand_commands(home, store):
    add_parcel(store, "RMA-H-2", "home")
    app = make_app(home, store)
    async with app.run_test(size=(80, 24)) as pilot:
        await scan(pilot, app, "OP-2001")
        text = (await open_help(pilot, app)).text.plain
        assert "CMD:ALLPASS" in text and "bench.entry" in text and "CMD:CANCEL" in text
        await pilot.press("f1")
        await until(pilot, lambda: app.screen is app.receive_screen, "closed by F1")
        await scan(pilot, app, "RMA-H-2")
        text = (await open_help(pilot, app)).text.plain
        assert f"All pass for {app.in_hand}" in text and "inspect.all_pass" in text


async def test_help_on_the_disposition_screen_lists_its_commands(home, store):
    add_parcel(store, "RMA-H-3", "home")
    app = make_app(home, store)
    async with app.run_test(size=(80, 24)) as pilot:
        await scan(pilot, app, "OP-2001", "RMA-H-3", "CMD:ALLPASS", "01" + GTIN14)
        await until(pilot, lambda: isinstance(app.screen, DispositionScreen), "the disposition")
        text = (await open_help(pilot, app)).text.plain
        assert "CMD:DONE" in text and "disposition.accept" in text and "disposition.override" in text


async def test_a_scan_while_help_is_open_goes_to_the_screen_below(home, store):
    add_parcel(store, "RMA-H-4", "home")
    app = make_app(home, store)
    async with app.run_test(size=(80, 24)) as pilot:
        await scan(pilot, app, "OP-2001", "RMA-H-4", "CMD:PASS")
        inspect = app.screen
        await open_help(pilot, app)
        await scan(pilot, app, "01" + GTIN14)
        assert app.screen is inspect and inspect.view.answers["gtin"]["result"] == "pass"


def test_every_inspect_command_is_on_the_command_sheet(home):
    from labels.command_sheet import default_commands

    app = BenchApp(home, start_services=False)
    codes = {c for c, _ in default_commands([(g.code, g.name) for g in app.config.codes.grades])}
    for name in COMMANDS:
        assert any(c == f"CMD:{name}" or c.startswith(f"CMD:{name}:") for c in codes), name


# -- station.toml [keys] -------------------------------------------------------------------------
def remap(home: Path, body: str) -> None:
    station = home / "config" / "station.toml"
    station.write_text(station.read_text() + "\n[keys]\n" + body)


async def test_keys_remapped_in_station_toml_work_and_show(home, store):
    remap(home, '"inspect.all_pass" = "space"\n"inspect.pass" = "k"\n')
    add_parcel(store, "RMA-K-1", "phones", expected_serial=IMEI)
    add_parcel(store, "RMA-K-2", "home")
    app = make_app(home, store)
    async with app.run_test(size=(80, 24)) as pilot:
        await scan(pilot, app, "OP-2001", "RMA-K-1")
        assert "inspect.all_pass" in app.station_keymap
        await pilot.press("space")  # the unit in hand: all pass by the station's key
        await until(pilot, lambda: isinstance(app.screen, InspectScreen) and app.screen.view.all_pass, "all pass")
        await scan(pilot, app, IMEI)
        await until(pilot, lambda: isinstance(app.screen, DispositionScreen) and app.screen.mode == "proposal",
                    "graded")
        await pilot.press("enter")
        await until(pilot, lambda: app.screen is app.receive_screen, "back")
        await scan(pilot, app, "RMA-K-2")
        assert "k" in app.screen.active_bindings and "1" not in app.screen.active_bindings
        await pilot.press("k")
        await until(pilot, lambda: isinstance(app.screen, InspectScreen) and app.screen.view.step_index == 1, "k")
        screen = app.screen
        await scan(pilot, app, "01" + GTIN14)
        text = screen_text(app)
        assert "k ✔ Pass" in text and "k Pass" in text.splitlines()[-1]  # the panel and the footer
        await pilot.press("1")  # no longer the pass key: nothing happens
        await pilot.pause(0.2)
        assert screen.view.step.id == "works"
        await pilot.press("k")
        await until(pilot, lambda: screen.view.step.id == "damage", "k passes")
        await scan(pilot, app, "CMD:PASS", "CMD:PASS")
        assert screen.view.step.kind == "choice"
        await pilot.press("2")  # option 2 is still on `2`, option 1 still on `1`: only `pass` moved
        await until(pilot, lambda: screen.view.at_grade, "option 2")
        assert screen.view.answers["packaging"]["value"] == "opened_complete"


def screen_text(app) -> str:
    return "\n".join(strip.text for strip in app.screen._compositor.render_strips())


@pytest.mark.parametrize(("body", "key", "reason"), [
    ('"inspect.pas" = "p"\n', "keys.inspect.pas", "no binding has this id"),
    ('"inspect.pass" = "not a key"\n', "keys.inspect.pass", "not a key"),
    ('"inspect.pass" = "b"\n', "keys.inspect.pass", "already the key of inspect.back"),
    ('"bench.help" = "a"\n', "keys.bench.help", "already the key of"),
    ('"inspect.pass" = 1\n', "keys.inspect.pass", "string"),
])
def test_a_bad_keymap_is_refused_with_file_key_and_reason(home, body, key, reason):
    remap(home, body)
    with pytest.raises(ConfigError) as err:
        BenchApp(home, start_services=False)
    assert err.value.file == str(home / "config" / "station.toml")
    assert err.value.key == key and reason in err.value.reason


def test_dockstation_run_refuses_a_bad_keymap_in_one_line(home):
    from dockstation.cli import main

    remap(home, '"inspect.nope" = "p"\n')
    result = CliRunner().invoke(main, ["--home", str(home), "run"])
    assert result.exit_code != 0
    assert "configuration refused" in result.output and "keys.inspect.nope" in result.output
    assert len(result.output.strip().splitlines()) == 1


async def test_a_key_freed_by_one_remap_may_take_another_binding(home, store):
    remap(home, '"inspect.back" = "left"\n"inspect.pass" = "b"\n"bench.help" = "f1,question_mark"\n')
    add_parcel(store, "RMA-K-3", "home")
    app = make_app(home, store)
    assert app.station_keymap["bench.help"] == "f1,question_mark"
    async with app.run_test(size=(80, 24)) as pilot:
        await scan(pilot, app, "OP-2001", "RMA-K-3", "CMD:PASS", "01" + GTIN14)
        screen = app.screen
        await pilot.press("b")  # pass, now
        await until(pilot, lambda: screen.view.step.id == "damage", "b passes")
        await pilot.press("left")  # back, now
        await until(pilot, lambda: screen.view.step.id == "works", "left goes back")
        await scan(pilot, app, "CMD:PASS", "CMD:PASS", "CMD:PASS", "CMD:PASS")
        assert screen.view.at_grade
        await pilot.press("b")  # at the grade, letters are grades still
        await until(pilot, lambda: screen.chosen == "B", "grade B")
        await pilot.press("question_mark")
        await until(pilot, lambda: isinstance(app.screen, HelpScreen), "help on ?")
        assert "inspect.pass" in app.screen.text.plain


async def test_the_footer_shows_the_screens_keys_and_a_click_on_one_presses_it(home, store):
    """One widget draws the footer's line (widgets/footer.py): the keys of the screen shown, and
    a click on a key does what the key does (here F1, the help)."""
    from dockstation.tui.widgets import BenchFooter

    app = make_app(home, store)
    async with app.run_test(size=(80, 24)) as pilot:
        await scan(pilot, app, "OP-2001")
        footer = app.screen.query_one(BenchFooter)
        line = str(footer.render())
        assert "F1 Help" in line and "F4 Sign out" in line and len(line) <= 80
        await pilot.click(BenchFooter, offset=(line.index("F1 Help") + 1, 0))
        await until(pilot, lambda: isinstance(app.screen, HelpScreen), "the help screen")
