"""Issue 17, policy from the console: a candidate policy.toml is checked as `dockstation policy
check` checks it, simulated on HQ's own history (the bench's replay), and published as a separate
confirmed act by an admin reader, recorded with who and when; from then on every HQ worker serves
the bundle with it from the database. A real HQ, SQLite and PostgreSQL."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from console_data import candidate_policy, load
from console_support import csrf_of, row_text, signed_in
from netfaults import HQServer

from dockstation.config import package_config_dir
from sync.hq.app import create_app
from sync.hq.db import add_reader
from sync.protocol import ConfigBundle

POLICY = (package_config_dir() / "policy.toml").read_text()


@pytest.fixture
def data(hq: Any, hq_db: Any, tmp_path: Any) -> dict[str, Any]:
    return {"stations": load(hq_db, tmp_path), "admin": add_reader(hq_db, "ana", scopes=("admin",)),
            "plain": add_reader(hq_db, "bi")}


def upload(client: httpx.Client, content: str | bytes, name: str = "policy.toml", since: str = "2026-01-01") -> httpx.Response:
    form = client.get("/policy")
    return client.post("/policy", data={"csrf": csrf_of(form.text), "since": since},
                       files={"policy": (name, content, "application/toml")})


def config(url: str, token: str) -> ConfigBundle:
    got = httpx.get(f"{url}/api/v1/config", headers={"Authorization": f"Bearer {token}", "X-Dockstation-Protocol": "1"})
    assert got.status_code == 200, got.text
    return ConfigBundle.model_validate_json(got.content)


def test_a_candidate_is_simulated_on_hq_history(hq, data):
    analyst = signed_in(hq.url, data["plain"])  # reading and simulating need no admin scope
    sent = upload(analyst, candidate_policy(POLICY), "grade-a-open-box.toml")
    assert sent.status_code == 303 and sent.headers["location"].startswith("/policy/candidates/")
    html = analyst.get(sent.headers["location"]).text
    assert 'data-sim="units">5<' in html and 'data-sim="changed">1<' in html and 'data-sim="delta">-10.00<' in html
    changes = row_text(html, "changes-table")
    assert changes[1] == "B07-00000001 phones restock open_box 95.00 85.00 -10.00 restock-a → restock-a"
    by_category = row_text(html, "by-category-table")
    assert "phones 3 1 200.00 190.00 -10.00" in by_category and "toys 1 0 1.00 1.00 0.00" in by_category
    by_path = row_text(html, "by-path-table")
    assert "restock 1 95.00 0 0.00 -95.00" in by_path and "open_box 1 75.00 2 160.00 85.00" in by_path
    listed = analyst.get("/policy").text
    assert "2026.12-cand" in listed and "grade-a-open-box.toml" in listed
    csv = analyst.get(sent.headers["location"] + "/changes.csv").text.splitlines()
    assert csv[1].startswith("B07-00000001,phones,restock,open_box,95.00,85.00,-10.00")


@pytest.mark.parametrize(("content", "reason"), [
    (POLICY.replace('path = "quarantine"', 'path = "teleport"', 1), "mine.toml: rules.0.path: Input should be"),
    ('version = "x"\n', "mine.toml: lanes: Field required"),
    ("version = [", "mine.toml: not valid TOML"),
    (b"version = \"caf\xe9\"\n", "mine.toml: not UTF-8"),
], ids=["unknown-path", "half-a-policy", "not-toml", "latin-1"])
def test_a_bad_candidate_is_refused_with_the_file_key_and_reason(hq, data, content, reason):
    analyst = signed_in(hq.url, data["plain"])
    refused = upload(analyst, content, "mine.toml")
    assert refused.status_code == 400 and reason in refused.text and "mine.toml" in refused.text
    assert "Candidates" in refused.text and "None yet" in refused.text  # nothing kept


def test_publishing_is_a_confirmed_act_of_an_admin_and_every_worker_serves_it(hq, hq_db, data):
    station = data["stations"]["B07"]
    before = config(hq.url, station)
    analyst = signed_in(hq.url, data["plain"])
    where = upload(analyst, candidate_policy(POLICY)).headers["location"]
    assert analyst.get(where + "/publish").status_code == 403
    refused = analyst.post(where + "/publish", data={"csrf": csrf_of(analyst.get(where).text), "confirm": "yes"})
    assert refused.status_code == 403 and "admin scope" in refused.text

    admin = signed_in(hq.url, data["admin"])
    confirm = admin.get(where + "/publish")
    assert confirm.status_code == 200 and "Publish policy 2026.12-cand?" in confirm.text
    unticked = admin.post(where + "/publish", data={"csrf": csrf_of(confirm.text)})
    assert unticked.status_code == 400 and config(hq.url, station).version == before.version
    done = admin.post(where + "/publish", data={"csrf": csrf_of(confirm.text), "confirm": "yes",
                                                "note": "grade A to open box for Q1"})
    assert done.status_code == 303 and done.headers["location"].startswith("/policy?published=")

    after = config(hq.url, station)
    assert after.version != before.version and after.files["policy.toml"] == candidate_policy(POLICY)
    assert {k: v for k, v in after.files.items() if k != "policy.toml"} == \
        {k: v for k, v in before.files.items() if k != "policy.toml"}
    other_worker = HQServer(create_app(hq_db)).start()  # another process on the same database
    try:
        assert config(other_worker.url, station).version == after.version
    finally:
        other_worker.stop()
    page = admin.get("/policy").text
    assert 'id="policy-in-force">2026.12-cand<' in page and "published by <strong>ana</strong>" in page
    published = row_text(page, "publications-table")
    assert "ana" in published[1] and "2026.12-cand" in published[1] and "grade A to open box for Q1" in published[1]
    audit = row_text(admin.get("/stations").text, "audit-table")
    assert any("ana policy published 2026.12-cand" in r for r in audit)

    # The candidate was simulated against the policy in force before: publishing it again now needs
    # a new simulation (what is published is always what was reviewed).
    again = admin.post(where + "/publish", data={"csrf": csrf_of(confirm.text), "confirm": "yes"})
    assert again.status_code == 409 and "simulate it again" in again.text
