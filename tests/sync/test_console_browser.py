"""Issue 17 in a real browser: Playwright driving Debian's Chromium (by its path, never a
downloaded browser) against a real `dockstation hq serve` on loopback, on SQLite and PostgreSQL,
over the hand-built history of console_data.py.

A station token is refused; a reader signs in; the KPI page shows the known answers for the week
picked in the page; a unit is looked up and its history read; a policy is uploaded and its simulated
changes shown; a form sent without its form token is refused; sign-out; a revoked token ends the
session. The pages raise no console error (nothing blocked by the Content-Security-Policy).

Skips, saying why, where Playwright or Chromium is missing (`.ci/run` installs Chromium with apt).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from console_data import WEEK, candidate_policy, load
from netfaults import free_port
from test_hq_logs import wait_up

from dockstation.config import package_config_dir
from sync.hq.db import HQDatabase, add_reader

CHROMIUM = os.environ.get("DOCKSTATION_TEST_CHROMIUM", "/usr/bin/chromium")
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync"]
DOCKSTATION = str(Path(sys.executable).parent / "dockstation")
TIMEOUT_MS = 60_000  # a generous wait for a condition, never a sleep


def _missing() -> str | None:
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "Playwright for Python is not installed (pip install -e '.[dev]')"
    if not (os.path.isfile(CHROMIUM) and os.access(CHROMIUM, os.X_OK)):
        return f"no Chromium at {CHROMIUM} (apt-get install chromium, or set DOCKSTATION_TEST_CHROMIUM)"
    return None


pytestmark = pytest.mark.skipif(_missing() is not None, reason=_missing() or "")


@pytest.fixture
def served(db_url: str, tmp_path: Path) -> Iterator[dict[str, Any]]:
    db = HQDatabase(db_url)
    try:
        tokens = load(db, tmp_path)
        admin, plain = add_reader(db, "ana", scopes=("admin",)), add_reader(db, "bi")
    finally:
        db.dispose()
    port = free_port()
    proc = subprocess.Popen([DOCKSTATION, "hq", "serve", "--db", db_url, "--port", str(port)],
                            stdout=(tmp_path / "hq.out").open("wb"), stderr=(tmp_path / "hq.err").open("wb"))
    url = f"http://127.0.0.1:{port}"
    try:
        wait_up(url, proc)
        yield {"url": url, "db_url": db_url, "stations": tokens, "admin": admin, "plain": plain, "log": tmp_path / "hq.out"}
    finally:
        proc.terminate()
        proc.wait(timeout=30)


@pytest.fixture
def browser() -> Iterator[Any]:
    from playwright.sync_api import expect, sync_playwright

    expect.set_options(timeout=TIMEOUT_MS)
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            yield b
        finally:
            b.close()


def new_page(browser: Any, url: str, errors: list[str]) -> Any:
    context = browser.new_context(base_url=url, viewport={"width": 1366, "height": 800})
    context.set_default_timeout(TIMEOUT_MS)
    page = context.new_page()
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    return page


def sign_in(page: Any, token: str) -> None:
    page.goto("/kpis")  # signed out: sent to the sign-in page, and back here after
    page.get_by_label("Reader token").fill(token)
    page.get_by_role("button", name="Sign in").click()


def test_the_console_in_a_real_browser(served, browser, tmp_path):
    from playwright.sync_api import expect

    errors: list[str] = []
    page = new_page(browser, served["url"], errors)

    # a station token opens nothing
    sign_in(page, served["stations"]["B07"])
    expect(page.get_by_role("alert")).to_contain_text("station token refused")
    expect(page).to_have_url(re.compile(r"/sign-in$"))

    # a reader signs in and lands on the KPIs; the week is picked in the page
    sign_in(page, served["admin"])
    expect(page).to_have_url(re.compile(r"/kpis$"))
    page.keyboard.press("Tab")  # the first key a keyboard user presses reaches the skip link
    expect(page.get_by_role("link", name="Skip to content")).to_be_focused()
    page.get_by_label("Week", exact=True).fill(WEEK)
    page.get_by_role("button", name="Show").click()
    expect(page.get_by_role("heading", level=1)).to_have_text(f"KPIs, week {WEEK}")
    tiles = {"received": "4", "disposed": "4", "p50": "10.0 h", "p90": "48.0 h", "accuracy": "50.0%",
             "recovery": "145.00", "capital": "145.00", "leakage": "25.00"}
    for name, value in tiles.items():
        expect(page.locator(f'[data-kpi="{name}"]')).to_have_text(value)
    summary = page.locator("#summary tbody tr")
    expect(summary.first).to_contain_text("All stations")
    expect(page.locator("#summary")).to_contain_text("York")
    expect(page.locator("svg.chart")).to_have_count(5)
    page.get_by_label("Scope", exact=True).select_option(label="Site Leeds")
    page.get_by_role("button", name="Show").click()
    expect(page.locator('[data-kpi="p90"]')).to_have_text("20.0 h")
    page.screenshot(path=str(tmp_path / "kpis.png"), full_page=True)
    # the 15-column station table fits a 1280-px laptop screen: no sideways scrolling to reach >90d
    page.set_viewport_size({"width": 1280, "height": 800})
    widths = page.locator("#summary").evaluate("t => [t.parentElement.scrollWidth, t.parentElement.clientWidth]")
    assert widths[0] <= widths[1], f"the station table scrolls sideways at 1280 px: {widths}"
    page.set_viewport_size({"width": 1366, "height": 800})

    # a unit's whole history
    page.get_by_role("link", name="Units & RMAs").click()
    page.get_by_label("LPN, RMA or order id").fill("B07-00000002")
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", level=1)).to_have_text("Unit B07-00000002")
    history = page.locator("#history-table tbody tr")
    expect(history).to_have_count(6)
    expect(history.last).to_contain_text("Lee Lead")
    expect(history.last).to_contain_text("liquidate")
    expect(history.last).to_contain_text("2026.02-1")

    # exceptions: scanned text stays text
    page.get_by_role("link", name="Exceptions").click()
    expect(page.locator("#exceptions")).to_contain_text("<script>")
    assert page.title() != "pwned"

    # a policy uploaded, its simulated changes shown
    page.get_by_role("link", name="Policy").click()
    page.get_by_label("Policy file").set_input_files(files=[{
        "name": "grade-a-open-box.toml", "mimeType": "application/toml",
        "buffer": candidate_policy((package_config_dir() / "policy.toml").read_text()).encode()}])
    page.get_by_label("Units graded since").fill("2026-01-01")
    page.get_by_role("button", name="Upload and simulate").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Candidate policy 2026.12-cand")
    expect(page.locator('[data-sim="changed"]')).to_have_text("1")
    expect(page.locator('[data-sim="delta"]')).to_have_text("-10.00")
    change = page.locator("#changes-table tbody tr")
    expect(change).to_have_count(1)
    expect(change.first).to_contain_text("B07-00000001")
    expect(change.first).to_contain_text("open_box")

    # a form sent without its form token is refused
    page.locator('form[action="/sign-out"] input[name="csrf"]').evaluate("e => e.remove()")
    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Refused")
    expect(page.get_by_role("alert")).to_contain_text("form token")

    # sign out (the form as the page has it)
    page.goto("/kpis")
    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_role("status")).to_have_text("You are signed out.")
    page.goto("/stations")
    expect(page).to_have_url(re.compile(r"/sign-in\?next=/stations$"))

    # a revoked token ends the session
    sign_in(page, served["plain"])
    expect(page).to_have_url(re.compile(r"/kpis$"))
    revoked = subprocess.run([DOCKSTATION, "hq", "revoke-reader", "bi", "--db", served["db_url"]],
                             capture_output=True, text=True, timeout=120)
    assert revoked.returncode == 0, revoked.stderr
    page.reload()
    expect(page).to_have_url(re.compile(r"/sign-in"))

    # no script error, nothing the Content-Security-Policy blocked (the refusals above are 403s)
    assert [e for e in errors if "status of 403" not in e] == [], errors
    log = served["log"].read_text()
    assert served["admin"] not in log and served["plain"] not in log and '"reader": "ana"' in log

