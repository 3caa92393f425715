"""Photos at the bench, in the real app (Textual Pilot): a loopback snapshot camera, a step refused
until it has its photo, CMD:PHOTO and `p`, a lead's waiver by badge, a failing camera in the header."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import pytest
from photo_support import receive_unit
from sqlmodel import select

from dockstation.models import Event, Photo
from dockstation.receiving.core import default_triage
from dockstation.tui.app import BenchApp
from dockstation.tui.inspect import InspectScreen

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "inspection"))
from inspection_support import scan, screen_text, wait_for  # noqa: E402


def with_camera(home: Path, url: str) -> None:
    station = home / "config" / "station.toml"
    station.write_text(station.read_text() + f'\n[[cameras]]\nname = "desk"\nurl = "{url}"\ntimeout_s = 3\n')


def make_app(home, store) -> BenchApp:
    app = BenchApp(home, store=store, triage=default_triage, start_services=False)
    app.wedge_enabled = False
    return app


def photos_of(store, lpn):
    with store.read() as s:
        return list(s.exec(select(Photo).where(Photo.lpn == lpn).order_by(Photo.id)).all())


async def inspect(pilot, app, lpn) -> InspectScreen:
    await scan(pilot, app, "OP-2001", lpn)
    await wait_for(pilot, lambda: isinstance(app.screen, InspectScreen) and app.screen.view is not None, "inspect")
    return app.screen


async def test_a_step_that_needs_a_photo_is_refused_until_it_has_one(gadgets, store, bench, camera):
    from photo_support import picture

    camera.bodies = [picture(seed=n) for n in range(1, 8)]  # a real camera's frames are never the same bytes
    with_camera(gadgets, camera.url)
    lpn = receive_unit(store, bench)
    app = make_app(gadgets, store)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await inspect(pilot, app, lpn)
        await wait_for(pilot, lambda: app.slots["camera:desk"].level == "ok", "camera probed")
        assert "cam ✔ desk" in screen_text(app)
        assert "p Photo" in screen_text(app).splitlines()[-1]  # the footer
        await pilot.press("1")
        await wait_for(pilot, lambda: "label" in screen.view.answers, "answered")
        assert screen.view.step.id == "label" and "now 1 photo of “Label”" in screen.message
        assert "◉ 0 of 1 photo of “Label”" in screen_text(app)
        assert screen_text(app).splitlines()[-1].rstrip().endswith("F1 Help")  # the footer fits 80 columns
        await scan(pilot, app, "CMD:DONE")  # no way round it
        assert screen.view.step.id == "label" and "step" in screen.message
        await pilot.press("p")
        await wait_for(pilot, lambda: screen.view.step.id == "screen", "photo stored, step done")
        assert "Photo 1 of “Label” stored — on to “Screen”" in screen.message
        await scan(pilot, app, "CMD:FAIL")
        assert screen.view.step.id == "screen" and screen.view.photos_missing == 1
        await scan(pilot, app, "CMD:PHOTO")
        await wait_for(pilot, lambda: screen.view.step.id == "cosmetic", "CMD:PHOTO")
        assert "✔ Label ◉" in screen_text(app)  # the observed list marks steps with photos
    photos = photos_of(store, lpn)
    assert [p.step for p in photos] == ["label", "screen"] and camera.requests >= 3
    with store.read() as s:
        taken = s.exec(select(Event).where(Event.kind == "photo_taken")).all()
    assert sorted(e.payload["sha256"] for e in taken) == sorted(p.sha256 for p in photos)


async def test_a_lead_waives_by_badge_and_a_grader_cannot(gadgets, store, bench, camera):
    with_camera(gadgets, camera.url)
    lpn = receive_unit(store, bench)
    app = make_app(gadgets, store)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await inspect(pilot, app, lpn)
        await pilot.press("1")
        await wait_for(pilot, lambda: "label" in screen.view.answers, "answered")
        await pilot.press("w")
        await wait_for(pilot, lambda: screen.waiver_asked, "asks for a lead")
        assert "lead, scan your badge" in screen_text(app)
        await scan(pilot, app, "OP-2001")
        assert "Gale Grader is not a lead" in screen.message and app.operator.badge == "2001"  # not signed in anew
        await scan(pilot, app, "OP-9001")
        await wait_for(pilot, lambda: screen.view.step.id == "screen", "waived")
        assert app.operator.badge == "2001" and "Lee Lead waived 1 photo" in screen.message
    with store.read() as s:
        [ev] = s.exec(select(Event).where(Event.kind == "photo_waived")).all()
    assert ev.operator == "2001" and ev.payload["waived_by"] == "9001"


async def test_a_failing_camera_shows_in_the_header_and_the_bench_keeps_working(gadgets, store, bench, camera):
    camera.status = 503
    with_camera(gadgets, camera.url)
    lpn = receive_unit(store, bench)
    app = make_app(gadgets, store)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await inspect(pilot, app, lpn)
        await wait_for(pilot, lambda: app.slots["camera:desk"].level == "error", "camera probed")
        assert "cam ✖ desk: " in screen_text(app)
        await pilot.press("p")
        await wait_for(pilot, lambda: "No photo: camera desk" in screen.message, "capture failed")
        await scan(pilot, app, "CMD:PASS")  # the answer is taken; the step waits for a photo
        assert "label" in screen.view.answers
        camera.status = 200
        await pilot.press("p")
        await wait_for(pilot, lambda: screen.view.step.id == "screen", "photo once the camera is back")
        await wait_for(pilot, lambda: app.slots["camera:desk"].level == "ok", "header back to ok")


async def test_scans_go_on_while_a_photo_is_on_its_way(gadgets, store, bench, tmp_path):
    folder = tmp_path / "tether"
    folder.mkdir()
    with_camera(gadgets, f"dir://{folder}")  # waits up to 3 s for the grader's phone
    lpn = receive_unit(store, bench)
    app = make_app(gadgets, store)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await inspect(pilot, app, lpn)
        await pilot.press("p")
        await wait_for(pilot, lambda: "desk" in app.photos_busy, "capture started")
        began = time.monotonic()
        await scan(pilot, app, "CMD:PASS")  # handled while the folder is still watched
        assert "desk" in app.photos_busy and "label" in screen.view.answers
        assert "taking a photo (desk)" in screen_text(app)
        from photo_support import picture

        (folder / "IMG_1.jpg").write_bytes(picture(seed=9))
        await wait_for(pilot, lambda: screen.view.step.id == "screen", "the folder's photo stored")
        assert time.monotonic() - began < 60
    assert [p.camera for p in photos_of(store, lpn)] == ["desk"]


async def test_cmd_photo_on_the_receiving_screen_photographs_the_unit_in_hand(home, store, bench, camera):
    with_camera(home, camera.url)
    lpn = receive_unit(store, bench, "home")
    app = make_app(home, store)
    async with app.run_test(size=(80, 24)) as pilot:
        await scan(pilot, app, "OP-2001")
        app.current_lpn = lpn
        await scan(pilot, app, "CMD:PHOTO")
        await wait_for(pilot, lambda: len(photos_of(store, lpn)) == 1, "unit photo")
        assert app.screen is app.receive_screen
    [photo] = photos_of(store, lpn)
    assert photo.step == "" and photo.inspection_id is None


@pytest.fixture
def _no_camera():
    return None


async def test_without_a_camera_the_photo_key_is_not_offered(gadgets, store, bench):
    lpn = receive_unit(store, bench)
    app = make_app(gadgets, store)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await inspect(pilot, app, lpn)
        assert "p Photo" not in screen_text(app).splitlines()[-1]
        await scan(pilot, app, "CMD:PASS")
        text = screen_text(app)
        assert "no camera here · w a" in text and "lead waives" in text and text.splitlines()[-1].rstrip().endswith("F1 Help")
        await scan(pilot, app, "CMD:PHOTO")
        assert "No camera at this bench" in screen.message
