"""Issue 20 at HQ: the console's Policy page replays a candidate's age triggers over the stations'
history beside its rules (dockstation.policy.trigger_sim over sync/hq/trigger_history.py): how
many units each trigger would have moved, and what its re-routes would have recovered or lost.
A real HQ, SQLite and PostgreSQL; the hand-worked history of console_data.py."""

from __future__ import annotations

from typing import Any

import pytest
from console_data import candidate_policy, load
from console_support import row_text, signed_in
from test_console_browser import _missing, browser, served  # noqa: F401 - the real server and Chromium
from test_console_policy import upload

from dockstation.config import package_config_dir
from sync.hq.db import add_reader

POLICY = (package_config_dir() / "policy.toml").read_text()

# On console_data's history, graded and not disposed for more than 12 hours: B07-00000003 (24 h),
# B07-00000002 (20 h: its first disposition ends the wait) and C01-00000001 (48 h); B07-00000001
# (10 h) and B08-00000001 (4 h) not. C01-00000002 (toys) was received on 1 Jan and never graded.
TRIGGERS = """
[[age_triggers]]
id = "graded-12h"
state = "graded"
after_hours = 12
action = "reroute"
path = "liquidate"
reason = "Graded 12 hours ago and still not disposed: liquidate"

[[age_triggers]]
id = "ungraded-30d"
state = "received"
after_days = 30
action = "escalate"
reason = "Waiting 30 days to be graded"
"""


@pytest.fixture
def data(hq: Any, hq_db: Any, tmp_path: Any) -> dict[str, Any]:
    return {"stations": load(hq_db, tmp_path), "plain": add_reader(hq_db, "bi")}


def test_a_candidates_age_triggers_are_replayed_on_hq_history(hq, data):
    analyst = signed_in(hq.url, data["plain"])
    sent = upload(analyst, candidate_policy(POLICY) + TRIGGERS, "with-triggers.toml")
    assert sent.status_code == 303, sent.text
    html = analyst.get(sent.headers["location"]).text
    assert 'data-sim="trigger-units">6<' in html  # every unit received since 1 Jan, graded or not
    assert 'data-sim="trigger-fired-in-force">0<' in html and 'data-sim="trigger-fired">4<' in html
    rows = row_text(html, "triggers-table")
    assert rows[1:] == ["graded-12h graded reroute → liquidate – 3 0.00 45.00 -45.00",
                        "ungraded-30d received escalate – 1 0.00 0.00 0.00"]
    # the largest deltas first: each re-route against the path the candidate's rules choose
    assert row_text(html, "firings-table")[1:] == [
        "B07-00000003 graded-12h 2026-02-02 21:00 reroute → liquidate open_box liquidate 75.00 35.00 -40.00",
        "B07-00000002 graded-12h 2026-02-09 21:00 reroute → liquidate refurbish liquidate 30.00 25.00 -5.00",
        "C01-00000002 ungraded-30d 2026-01-31 08:00 escalate",
        "C01-00000001 graded-12h 2026-02-10 20:00 reroute → liquidate liquidate liquidate 1.00 1.00 0.00"]
    # the rules' replay is as before (only B07-00000001 changes path)
    assert 'data-sim="changed">1<' in html and 'data-sim="delta">-10.00<' in html


def test_without_triggers_on_either_side_the_page_says_so(hq, data):
    analyst = signed_in(hq.url, data["plain"])
    html = analyst.get(upload(analyst, candidate_policy(POLICY)).headers["location"]).text
    assert 'id="no-triggers"' in html and "triggers-table" not in html


@pytest.mark.skipif(_missing() is not None, reason=_missing() or "")
def test_the_triggers_of_a_candidate_in_a_real_browser(served, browser):
    """Playwright and Debian's Chromium against a real `dockstation hq serve` (test_console_browser.py's
    fixtures): the analyst uploads a candidate with triggers and reads what they would have done."""
    from playwright.sync_api import expect
    from test_console_browser import new_page, sign_in

    errors: list[str] = []
    page = new_page(browser, served["url"], errors)
    sign_in(page, served["plain"])
    page.get_by_role("link", name="Policy").click()
    page.get_by_label("Policy file").set_input_files(files=[{
        "name": "with-triggers.toml", "mimeType": "application/toml",
        "buffer": (candidate_policy(POLICY) + TRIGGERS).encode()}])
    page.get_by_label("Units graded since").fill("2026-01-01")
    page.get_by_role("button", name="Upload and simulate").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Candidate policy 2026.12-cand")
    expect(page.get_by_role("heading", name="Age triggers")).to_be_visible()
    expect(page.locator('[data-sim="trigger-fired"]')).to_have_text("4")
    expect(page.locator('[data-sim="trigger-delta"]')).to_have_text("-45.00")
    row = page.locator("#triggers-table tbody tr").first
    expect(row).to_contain_text("graded-12h")
    expect(row).to_contain_text("-45.00")
    expect(page.locator("#firings-table tbody tr")).to_have_count(4)
    expect(page.locator("#firings-table tbody tr").first).to_contain_text("B07-00000003")
    assert errors == []
