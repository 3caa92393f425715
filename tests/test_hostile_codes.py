"""Any code string at all through the receiving use case: recorded, never a crash (issue 14, item 3).

Codes come from terminals and serial ports as bytes; a reader that decoded them with
`surrogateescape` hands on lone surrogates, which SQLite (UTF-8) and the terminal cannot take.
"""

from __future__ import annotations

import json
import sqlite3

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dockstation.receiving import handle_scan, sign_in
from dockstation.scan import CodeKind, ScanEvent, classify
from dockstation.store import DB_NAME
from dockstation.text import clean, escape_surrogates
from dockstation.types import utcnow

# Every code point, surrogates included (hypothesis leaves them out by default).
ANY_CHAR = st.characters(exclude_categories=())
SURROGATE_ESCAPED = st.binary(max_size=40).map(lambda b: b.decode("utf-8", "surrogateescape"))
PREFIXES = st.sampled_from(["", "RMA-", "RMA-2026-00000", "OP-", "CMD:", "1Z", "B07-", "]C1", "01"])
CODES = st.one_of(
    st.text(ANY_CHAR, max_size=60),
    st.builds(lambda p, b: p + b, PREFIXES, SURROGATE_ESCAPED),
    st.builds(lambda p, t: p + t, PREFIXES, st.text(ANY_CHAR, max_size=20)),
)


def _rows(home):
    conn = sqlite3.connect(home / DB_NAME)
    try:
        exceptions = conn.execute("SELECT code FROM scan_exception ORDER BY id").fetchall()
        units = conn.execute("SELECT count(*) FROM unit").fetchone()[0]
        payloads = [json.loads(p) for (p,) in conn.execute(
            "SELECT payload FROM event WHERE kind = 'exception_recorded' ORDER BY seq")]
    finally:
        conn.close()
    return [c for (c,) in exceptions], units, payloads


def test_a_code_of_surrogate_escaped_bytes_is_recorded_with_its_bytes_escaped(bench, manifest, home):
    code = b"RMA-\xe9\xff".decode("utf-8", "surrogateescape")
    scan = ScanEvent(code, "wedge", None, utcnow())
    out = handle_scan(manifest, bench, None, scan, classify(code, bench.codes.patterns))
    assert (out.status, out.exception_kind) == ("exception", "invalid_code")
    codes, _, payloads = _rows(home)
    assert codes == ["RMA-\\xe9\\xff"]
    assert payloads[-1]["code"] == "RMA-\\xe9\\xff" and "not valid text" in payloads[-1]["detail"]


def test_bidi_and_zero_width_characters_make_a_code_invalid_not_an_rma(bench, manifest):
    for code in ["RMA-2026-000001\u202e", "RMA-2026\u200b-000001", "RMA-2026-000001\u2028"]:
        c = classify(code, bench.codes.patterns)
        assert c.kind is CodeKind.INVALID and "U+" in c.problem


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(code=CODES, signed=st.booleans())
def test_every_code_is_received_or_recorded_never_a_crash(bench, manifest, home, code, signed):
    op = None
    if signed:
        op = sign_in(manifest, bench, ScanEvent("OP-1001", "test", None, utcnow()), "1001").operator
    before_codes, before_units, _ = _rows(home)
    scan = ScanEvent(code, "wedge", None, utcnow())
    out = handle_scan(manifest, bench, op, scan, classify(scan.code, bench.codes.patterns))

    out.message.encode("utf-8")  # what the screen shows is text a terminal can take
    clean(out.message).encode("utf-8")
    codes, units, payloads = _rows(home)
    if out.status == "exception":
        assert len(codes) == len(before_codes) + 1
        assert codes[-1].startswith(escape_surrogates(code)[:500])  # as received, bytes escaped
        assert payloads[-1]["code"] == codes[-1]
    elif out.status == "received":
        assert units == before_units + 1
    else:
        assert out.status in ("ignored", "choose_line") and codes == before_codes
