"""Shared values and helpers of the inspection tests (conftest.py holds the fixtures)."""

from __future__ import annotations

from dockstation.inspection import Response
from dockstation.inspection.checklist import Checklist

IMEI = "356938035643809"  # a valid IMEI (Luhn check digit 9)
OTHER_IMEI = "490154203237518"  # valid, but not this unit's
BAD_IMEI = "356938035643808"  # wrong check digit
GTIN = "4006381333931"  # GTIN-13 (valid check digit); the manifest keeps it as GTIN-14 below
OTHER_GTIN = "5901234123457"  # valid, another product
SERIAL = "C02XK1ABJGH5"

# One manifest line per demo category, with what its checklist compares against.
CATEGORIES = {
    "phones": dict(expected_serial=IMEI, gtin="0" + GTIN, reason_code="defective"),
    "laptops": dict(expected_serial=SERIAL, gtin="0" + GTIN, reason_code="not_as_described"),
    "headphones": dict(gtin="0" + GTIN, reason_code="changed_mind"),
    "apparel": dict(gtin="0" + GTIN, reason_code="wrong_size"),
    "footwear": dict(gtin="0" + GTIN, reason_code="wrong_size"),
    "home": dict(gtin="0" + GTIN, reason_code="damaged_in_transit"),
    "health_beauty": dict(gtin="0" + GTIN, reason_code="unwanted_gift"),
    "toys": dict(gtin="0" + GTIN, reason_code="missing_parts"),
    "other": dict(gtin="0" + GTIN, reason_code="late_delivery"),
}
EXPECTED_CHECKLIST = {c: c for c in CATEGORIES} | {"other": "generic"}


def passing(step, category: str = "phones") -> Response:
    """The answer that passes `step` (the all-good walk)."""
    fields = CATEGORIES.get(category, {})
    if step.kind == "check":
        return Response("pass")
    if step.kind == "choice":
        return Response("pass")  # the option on CMD:PASS
    if step.kind == "number":
        return Response("value", "91")
    if step.value == "imei":
        return Response("value", fields.get("expected_serial", IMEI))
    if step.value == "serial":
        return Response("value", fields.get("expected_serial", SERIAL))
    return Response("value", GTIN, gtin=GTIN)


def step_ids(cl: Checklist) -> list[str]:
    return [s.id for s in cl.steps]


# -- driving the bench TUI (Pilot) ----------------------------------------------------------------
DEADLINE_S = 10.0  # against hanging only; never a timing assertion


async def wait_for(pilot, condition, what: str = "condition") -> None:
    import time

    deadline = time.monotonic() + DEADLINE_S
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await pilot.pause(0.02)


async def scan(pilot, app, *codes: str) -> None:
    """Scan codes into the app's one dispatcher (as a scanner reader does); wait until all are handled.

    The keyboard-wedge detector in front of it has its own tests; these tests disable it
    (`app.wedge_enabled = False`) so that keys pressed go straight to the screen.
    """
    from dockstation.scan import ScanEvent
    from dockstation.types import utcnow

    target = app.scans_done + len(codes)
    for code in codes:
        app.enqueue_scan(ScanEvent(code, "test", None, utcnow()))
    await wait_for(pilot, lambda: app.scans_done >= target, f"{len(codes)} scans")
    await pilot.pause()


def screen_text(app) -> str:
    return "\n".join(strip.text for strip in app.screen._compositor.render_strips())


def aged(store, lpn: str, days: float) -> None:
    """The unit was received `days` ago (age triggers measure waits from the receipt)."""
    from datetime import timedelta

    from dockstation.models import Unit
    from dockstation.types import utcnow

    with store.write() as s:
        u = s.get(Unit, lpn)
        u.received_at = utcnow() - timedelta(days=days)
        s.add(u)


# The age trigger both in-app trigger tests (test_age_trigger_in_app, test_age_trigger_reload) use.
UNGRADED_2D = """[[age_triggers]]
id = "ungraded-2d"
state = "received"
after_days = 2
action = "lane"
lane = "express"
reason = "Waiting 2 days to be graded: grade it next"
"""
