"""Issue 14 item 16: HQ's OpenAPI document matches what HQ does, checked by fuzzing it.

schemathesis reads the document HQ serves and sends what it describes (and what it does not), with
a station token and with a reader token, to a real HQ on loopback on SQLite and on PostgreSQL:
0 server errors, 0 undocumented statuses, 0 answers off their schema, every schema-valid request
taken (2xx, or 401/403/404/410, which depend on who asks and what HQ holds) and every schema-invalid
one refused. Bounded (examples per route, one worker, a fixed seed), so a run takes seconds and
fails the same way twice.

Before: 400 (`after=+`) and 403 (a reader on /config and /manifest) undocumented; `protocol` and
the seq list taking what HQ then refused with 422; `week=0000-W00` matching the pattern, refused.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest

from sync.hq.db import add_reader, add_station
from sync.hq.manifest_import import import_csv

SEED = 20261203
EXAMPLES = 40  # per route and phase
CHECKS = ("not_a_server_error,status_code_conformance,content_type_conformance,response_headers_conformance,"
          "response_schema_conformance,negative_data_rejection,positive_data_acceptance")
# Schema-valid requests HQ may still refuse, for who asks (401/403), what it holds (404), or a
# cursor from another HQ database (410): all documented.
CONFIG = ('[checks]\npositive_data_acceptance = { expected-statuses = ["2xx", "3xx", "401", "403", "404", "410"] }\n'
          # A photo is taken only when its bytes hash to the path's sha256 (422 otherwise) and an event names
          # it (409): no schema can say that, so schema-valid uploads are refused with those two, as documented.
          '[[operations]]\ninclude-path = "/api/v1/photos/{sha256}"\n'
          'checks.positive_data_acceptance.expected-statuses = ["2xx", "401", "403", "404", "409", "422"]\n')
CSV = ("rma_id,order_id,created_at,expires_at,status,line_no,sku,gtin,description,category,qty,unit_price,currency,"
       "expected_serial,reason_code,carrier,tracking_number\n"
       "RMA-2026-000001,O-1,2026-11-01T10:00:00+00:00,2026-12-31T10:00:00+00:00,open,1,PHN-1,,Phone,phones,1,699.00,"
       "USD,,defective,,\n")


@pytest.fixture
def tokens(hq: Any, hq_db: Any, tmp_path: Path) -> dict[str, str]:
    # Station "0": the id a generator hits most often, so fuzzed batches get stored, not only refused.
    station = add_station(hq_db, "0")
    csv = tmp_path / "manifest.csv"
    csv.write_text(CSV)
    import_csv(hq_db, csv)
    pushed = httpx.post(f"{hq.url}/api/v1/events", headers={"Authorization": f"Bearer {station}"}, timeout=30,
                        json={"protocol": 1, "station_id": "0", "events": [
                            {"seq": 1, "kind": "unit_received", "at": "2026-11-20T09:00:00+00:00",
                             "lpn": "0-00000001", "rma_id": "RMA-2026-000001", "payload": {"sku": "PHN-1"}}]})
    assert pushed.status_code == 200, pushed.text
    return {"station": station, "reader": add_reader(hq_db, "fuzz", scopes=("refunds",))}


@pytest.mark.parametrize("who", ["station", "reader"])
def test_the_served_openapi_document_is_what_hq_does(hq, tokens, tmp_path, who):
    (tmp_path / "schemathesis.toml").write_text(CONFIG)
    st = Path(sys.executable).parent / "st"
    run = subprocess.run(
        [str(st), "--config-file", str(tmp_path / "schemathesis.toml"), "run", f"{hq.url}/openapi.json",
         "-H", f"Authorization: Bearer {tokens[who]}", "--checks", CHECKS, "--max-examples", str(EXAMPLES),
         "--seed", str(SEED), "--workers", "1", "--generation-database", "none", "--request-timeout", "30",
         "--no-color"],
        cwd=tmp_path, capture_output=True, text=True, timeout=300)
    output = run.stdout + run.stderr
    assert run.returncode == 0, output[-6000:]
    tested = re.search(r"(\d+) generated, (\d+) passed", output)
    assert tested is not None and int(tested[1]) == int(tested[2]) >= 250, output[-2000:]
    assert "Selected: 10/10" in output and "Tested: 10" in output  # every route of the document


# -- the patterns the document gives are exactly what HQ takes ----------------------------------
from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from sync.protocol import AT_PATTERN, CURSOR_PATTERN, ProtocolError, decode_cursor, encode_cursor  # noqa: E402


@settings(max_examples=300, deadline=None, derandomize=True)
@given(st.integers(min_value=0, max_value=10**18 - 1))
def test_every_cursor_hq_makes_matches_the_documented_pattern(change_id):
    cursor = encode_cursor(change_id)
    assert re.fullmatch(CURSOR_PATTERN, cursor) and decode_cursor(cursor) == change_id


@settings(max_examples=300, deadline=None, derandomize=True)
@given(st.from_regex(CURSOR_PATTERN, fullmatch=True))
def test_every_string_of_the_cursor_pattern_is_a_cursor_hq_takes(cursor):
    decode_cursor(cursor)


@settings(max_examples=300, deadline=None, derandomize=True)
@given(st.text(alphabet="YzE6MNODTjzAEIQUcgkwxy0123456789=+/-_", max_size=20))
def test_anything_else_is_refused(text):
    if re.fullmatch(CURSOR_PATTERN, text):
        decode_cursor(text)
    else:
        with pytest.raises(ProtocolError):
            decode_cursor(text)


@settings(max_examples=300, deadline=None, derandomize=True)
@given(st.datetimes(timezones=st.timezones()).map(lambda d: d.isoformat()))
def test_event_times_of_the_at_pattern_are_taken(at):
    from pydantic import ValidationError

    from sync.protocol import EventIn

    try:
        EventIn(seq=1, kind="x", at=at)
    except ValidationError:
        assert not re.fullmatch(AT_PATTERN, at)  # refused only what the pattern refuses
    else:
        assert re.fullmatch(AT_PATTERN, at)
