"""An HQ database as the release before versioned migrations left it, with a row in every table.

The DDL in data/ was dumped from a database that release's `HQDatabase` created (SQLite's
`sqlite_master`, `pg_dump --schema-only`), so these tests start where a site's HQ stands today.
"""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, text

DATA = Path(__file__).parent / "data"
T0 = datetime(2026, 11, 20, 9, 0, 0, 123456)

ROWS: dict[str, list[dict[str, Any]]] = {
    "hq_station": [
        {"station_id": "B07", "token_hash": "a" * 64, "site": "Leeds", "created_at": T0, "revoked": False,
         "acked_seq": 3, "last_push_at": T0},
        {"station_id": "B08", "token_hash": "b" * 64, "site": "", "created_at": T0, "revoked": True,
         "acked_seq": 0, "last_push_at": None},
    ],
    "hq_reader": [{"name": "analyst", "token_hash": "c" * 64, "created_at": T0, "revoked": False}],
    "hq_event": [
        {"station_id": "B07", "seq": i, "kind": kind, "at": T0, "operator": "1001", "lpn": "B07-00000001",
         "rma_id": "RMA-1", "payload": json.dumps(payload), "received_at": T0}
        for i, (kind, payload) in enumerate([
            ("unit_received", {"sku": "PHN-1", "category": "phones", "unit_price": "699.00", "note": "café ☕"}),
            ("unit_graded", {"grade": "B", "flags": []}),
            ("unit_disposed", {"path": "open_box", "recovery_value": "489.30"})], start=1)
    ],
    "hq_conflict": [{"id": 1, "station_id": "B07", "seq": 2, "received_at": T0,
                     "event": json.dumps({"kind": "unit_graded", "payload": {"grade": "C"}})}],
    "hq_conflict_resolved": [{"id": 1, "conflict_id": 9, "station_id": "B07", "seq": 1, "received_at": T0,
                              "sent": json.dumps({"a": 1}), "stored": json.dumps({"a": 2}), "kept": "stored",
                              "resolved_at": T0, "resolved_by": "ops", "note": "checked with the site"}],
    "hq_rma": [{"rma_id": "RMA-1", "order_id": "O-1", "created_at": T0, "expires_at": T0, "status": "open",
                "updated_at": T0, "change_id": 1}],
    "hq_rma_line": [{"rma_id": "RMA-1", "line_no": n, "sku": f"SKU-{n}", "gtin": None, "description": "Phone",
                     "category": "phones", "qty": 1, "unit_price": "699.00", "currency": "USD",
                     "expected_serial": None, "reason_code": "defective", "carrier": None, "tracking_number": None,
                     "change_id": 1} for n in (1, 2)],
    "hq_config": [{"version": "f" * 64, "bundle": json.dumps({"version": "f" * 64, "files": {}}), "created_at": T0}],
}
KEYS = {"hq_station": "station_id", "hq_reader": "name", "hq_event": "seq", "hq_conflict": "id",
        "hq_conflict_resolved": "id", "hq_rma": "rma_id", "hq_rma_line": "line_no", "hq_config": "version"}


def make_release_db(url: str) -> None:
    engine = create_engine(url)
    ddl = (DATA / f"hq_release_0_1_{engine.dialect.name}.sql").read_text()
    try:
        with engine.begin() as conn:
            if engine.dialect.name == "sqlite":
                conn.connection.driver_connection.executescript(ddl)
            else:
                conn.exec_driver_sql(ddl)
            for table, rows in ROWS.items():
                cols = list(rows[0])
                conn.execute(text(f"INSERT INTO {table} ({', '.join(cols)}) VALUES "
                                  f"({', '.join(':' + c for c in cols)})"), rows)
            if engine.dialect.name == "postgresql":  # as if the rows had come through the sequences
                for table in ("hq_conflict", "hq_conflict_resolved"):
                    conn.exec_driver_sql(f"SELECT setval('{table}_id_seq', 1)")
    finally:
        engine.dispose()


def read_rows(url: str) -> dict[str, list[dict[str, Any]]]:
    """Every table's rows as the release wrote them (only the release's columns), JSON decoded."""
    engine = create_engine(url)
    out: dict[str, list[dict[str, Any]]] = {}
    try:
        with engine.connect() as conn:
            for table, rows in ROWS.items():
                cols = list(rows[0])
                got = conn.execute(text(f"SELECT {', '.join(cols)} FROM {table} ORDER BY {KEYS[table]}")).all()
                out[table] = [{c: _plain(v) for c, v in zip(cols, r, strict=True)} for r in got]
    finally:
        engine.dispose()
    return out


def expected_rows() -> dict[str, list[dict[str, Any]]]:
    return {t: [{c: _plain(v) for c, v in r.items()} for r in rows] for t, rows in ROWS.items()}


def _plain(value: Any) -> Any:
    if isinstance(value, str) and value and value[0] in "{[":
        return json.loads(value)
    if isinstance(value, str) and len(value) >= 19 and value[4] == "-" and value[10] in " T":
        return datetime.fromisoformat(value)  # SQLite's text times
    return value


def back_to_the_release(url: str) -> None:
    """Make a database this release created look as the release before versioned migrations left
    it: every revision after the baseline downgraded, then the version table dropped."""
    from alembic import command

    from sync.hq.schema import VERSION_TABLE, _config

    engine = create_engine(url)
    try:
        with engine.begin() as conn:
            command.downgrade(_config(conn), "0001_baseline")
            conn.exec_driver_sql(f"DROP TABLE {VERSION_TABLE}")
    finally:
        engine.dispose()
