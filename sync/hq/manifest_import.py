"""`dockstation hq import-manifest FILE.csv`: the manifest into HQ, each change with a change_id.

The CSV is read and validated by the bench's own reader (dockstation.manifest_csv), so bench and
HQ accept exactly the same files. Each batch of the parser is one transaction that:
1. takes the manifest writers' lock (pg_advisory_xact_lock; on SQLite BEGIN IMMEDIATE already
   serialises writers), so change_ids are handed out in commit order (see hq_manifest);
2. reads what HQ holds for the batch's RMAs and compares, as stored text, field by field;
3. gives every new or changed RMA `max(change_id) + 1, + 2, ...` and upserts it with its lines,
   which carry the same change_id (lines the file does not name are moved along with it).
An unchanged RMA is not written: re-importing a file changes nothing and moves no cursor.
Lines a file does not name are kept (a file may carry only some lines of an RMA).
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, text

from dockstation.manifest_csv import (
    RowError,
    db_time,
    merge_unknown_reasons,
    open_manifest,
    unknown_reason_warnings,
)
from dockstation.types import utcnow
from sync.hq.db import LOCK_MANIFEST, HQDatabase
from sync.protocol import LINE_FIELDS

_HEAD = ("order_id", "created_at", "expires_at", "status", "customer_name", "customer_email")
_LINE = LINE_FIELDS[2:]  # all but rma_id, line_no
MAX_REPORTED = 1000
_RANK = {"unchanged": 0, "changed": 1, "new": 2}

# PostgreSQL: short constant statements, rows as one JSON document (see sync/hq/events_pg.py).
_PG_HEADS = ("SELECT rma_id, order_id, to_char(created_at, 'YYYY-MM-DD HH24:MI:SS.US'), "
             "to_char(expires_at, 'YYYY-MM-DD HH24:MI:SS.US'), status, customer_name, customer_email "
             "FROM hq_rma WHERE rma_id = ANY(%(ids)s)")
_PG_LINES = f"SELECT {', '.join(LINE_FIELDS)} FROM hq_rma_line WHERE rma_id = ANY(%(ids)s)"
_PG_UPSERT_HEADS = (
    "INSERT INTO hq_rma (rma_id, order_id, created_at, expires_at, status, customer_name, customer_email, "
    "updated_at, change_id) "
    "SELECT t.rma_id, t.order_id, t.created_at, t.expires_at, t.status, t.customer_name, t.customer_email, "
    "%(now)s, t.change_id "
    "FROM jsonb_to_recordset(%(rows)s::jsonb) AS t(rma_id text, order_id text, created_at timestamp, "
    "expires_at timestamp, status text, customer_name text, customer_email text, change_id bigint) "
    "ON CONFLICT (rma_id) DO UPDATE SET "
    + ", ".join(f"{c} = excluded.{c}" for c in (*_HEAD, "updated_at", "change_id")))
_LINE_COLS = (*LINE_FIELDS, "change_id")
_PG_UPSERT_LINES = (
    f"INSERT INTO hq_rma_line ({', '.join(_LINE_COLS)}) SELECT {', '.join(f't.{c}' for c in _LINE_COLS)} "
    "FROM jsonb_to_recordset(%(rows)s::jsonb) AS t(rma_id text, line_no int, sku text, gtin text, "
    "description text, category text, qty int, unit_price text, currency text, expected_serial text, "
    "reason_code text, carrier text, tracking_number text, change_id bigint) ON CONFLICT (rma_id, line_no) "
    "DO UPDATE SET " + ", ".join(f"{c} = excluded.{c}" for c in (*_LINE, "change_id")))
# SQLite: the stored DATETIME text is SQLAlchemy's, the same as the parser's (db_time).
_LITE_UPSERT_HEADS = (
    "INSERT INTO hq_rma (rma_id, order_id, created_at, expires_at, status, customer_name, customer_email, "
    "updated_at, change_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (rma_id) DO UPDATE SET "
    + ", ".join(f"{c} = excluded.{c}" for c in (*_HEAD, "updated_at", "change_id")))
_LITE_UPSERT_LINES = (
    f"INSERT INTO hq_rma_line ({', '.join(_LINE_COLS)}) VALUES ({', '.join('?' * len(_LINE_COLS))}) "
    "ON CONFLICT (rma_id, line_no) DO UPDATE SET " + ", ".join(f"{c} = excluded.{c}" for c in (*_LINE, "change_id")))
# Lines HQ holds that the file does not name follow their RMA's new change_id.
_MOVE_LINE = text("UPDATE hq_rma_line SET change_id = :change_id WHERE rma_id = :rma_id AND line_no = :line_no")


@dataclass
class HqImportReport:
    file: str
    rows: int = 0
    errors: int = 0
    error_rows: list[RowError] = field(default_factory=list)
    rmas_new: int = 0
    rmas_changed: int = 0
    rmas_unchanged: int = 0
    warnings: list[str] = field(default_factory=list)


def served_reason_codes() -> Collection[str] | None:
    """The reason codes of the configuration HQ serves to benches: the package's codes.toml, under
    $DOCKSTATION_HQ_CONFIG_DIR's when set (as `hq serve --config-dir` sets it for its workers).
    None when it cannot be read (then codes are not checked)."""
    from dockstation.config import CodesConfig, ConfigError, package_config_dir, read_toml, validate

    try:
        dirs = [package_config_dir()]
        if served := os.environ.get("DOCKSTATION_HQ_CONFIG_DIR"):  # sync.hq.app.ENV_CONFIG_DIR
            dirs.append(Path(served))
        files = [(d / "codes.toml", read_toml(d / "codes.toml")) for d in dirs if (d / "codes.toml").is_file()]
        return set(validate(CodesConfig, files, "codes.toml").reason_codes)
    except (ConfigError, OSError):
        return None


def import_csv(db: HQDatabase, path: Path | str, progress: Callable[[int, int], None] | None = None, *,
               reason_codes: Collection[str] | None = None) -> HqImportReport:
    """Load a Manifest CSV at HQ. Bad rows are reported and skipped; re-importing changes nothing.
    `reason_codes`: the known reason codes (default: served_reason_codes()); a row with another
    one loads, with a line-numbered warning.

    Raises dockstation.manifest_csv.ManifestError when the whole file is refused."""
    path = Path(path)
    report = HqImportReport(file=path.name)
    mf = open_manifest(path)
    report.warnings.extend(mf.warnings)
    if reason_codes is None:
        reason_codes = served_reason_codes()
        if reason_codes is None:
            report.warnings.append("reason codes not checked: HQ's codes.toml could not be read")
    total = mf.size
    unknown: dict[str | None, list[int]] = {}
    seen: set[tuple[str, int]] = set()  # (rma_id, line_no) of the whole file: the first row wins
    outcome: dict[str, str] = {}  # an RMA split over parser batches is counted once
    for rma_rows, line_rows, numbers, position, rows, bad, nbad, unknown_part in mf.batches(
            db_time(utcnow()), reason_codes):
        merge_unknown_reasons(unknown, unknown_part)
        report.rows += rows
        report.errors += nbad
        report.error_rows.extend(bad[: max(0, MAX_REPORTED - len(report.error_rows))])
        # (rma_id, order_id, created, expires, status, stamp, customer_name, customer_email)
        rmas = {r[0]: (r[1], r[2], r[3], r[4], r[6], r[7]) for r in rma_rows}
        lines: dict[str, list[tuple[Any, ...]]] = {}
        for number, line in zip(numbers, line_rows, strict=True):
            key = (line[0], line[1])
            if key in seen:
                report.errors += 1
                if len(report.error_rows) < MAX_REPORTED:
                    report.error_rows.append(RowError(
                        number, f"{line[0]} line {line[1]} appears twice in the file", line[0]))
                continue
            seen.add(key)
            lines.setdefault(line[0], []).append(line)
        for rid, what in _import(db, rmas, lines).items():
            if _RANK[what] > _RANK.get(outcome.get(rid, ""), -1):
                outcome[rid] = what
        if progress:
            progress(position, total)
    counts = {k: 0 for k in _RANK}
    for what in outcome.values():
        counts[what] += 1
    report.rmas_new, report.rmas_changed, report.rmas_unchanged = counts["new"], counts["changed"], counts["unchanged"]
    report.error_rows.sort(key=lambda e: e.line)
    report.warnings.extend(unknown_reason_warnings(unknown))
    return report


def import_rmas(db: HQDatabase, rmas: dict[str, tuple[Any, ...]],
                lines: dict[str, list[tuple[Any, ...]]]) -> tuple[int, int, int]:
    """Upsert RMAs `{rma_id: (order_id, created_at, expires_at, status[, customer_name,
    customer_email])}` (times as aware datetimes or stored text) with their lines
    `{rma_id: [(rma_id, line_no, sku, ...)]}` in one transaction; returns how many were (new,
    changed, unchanged)."""
    as_text = {rid: (h[0], *(db_time(t) if isinstance(t, datetime) else t for t in h[1:3]), h[3],
                     *(h[4:6] if len(h) > 4 else (None, None)))
               for rid, h in rmas.items()}
    result = _import(db, as_text, lines)
    return tuple(sum(1 for v in result.values() if v == k) for k in ("new", "changed", "unchanged"))  # type: ignore[return-value]


def _import(db: HQDatabase, rmas: dict[str, tuple[Any, ...]], lines: dict[str, list[tuple[Any, ...]]]) -> dict[str, str]:
    ids = list(rmas)
    now = utcnow()
    with db.write() as conn:
        db.advisory_lock(conn, LOCK_MANIFEST)
        old_head, old_lines = _existing(conn, db.dialect, ids)
        result: dict[str, str] = {}
        touched: list[str] = []
        for rid in ids:
            changed_line = any(old_lines.get((l[0], l[1])) != tuple(l[2:]) for l in lines.get(rid, ()))
            if rid not in old_head:
                result[rid] = "new"
            elif old_head[rid] != rmas[rid] or changed_line:
                result[rid] = "changed"
            else:
                result[rid] = "unchanged"
                continue
            touched.append(rid)
        if touched:
            base = conn.exec_driver_sql("SELECT coalesce(max(change_id), 0) FROM hq_rma").scalar_one()
            change = {rid: base + n for n, rid in enumerate(touched, start=1)}
            heads = [(rid, *rmas[rid], change[rid]) for rid in touched]
            rows = [(*l, change[rid]) for rid in touched for l in lines.get(rid, ())]
            named = {(r[0], r[1]) for r in rows}
            kept = [(change[key[0]], *key) for key in old_lines if key[0] in change and key not in named]
            _write(conn, db.dialect, heads, rows, kept, now)
    return result


def _existing(conn: Connection, dialect: str, ids: list[str]) -> tuple[dict[str, tuple], dict[tuple, tuple]]:
    """What HQ holds for these RMAs, as stored text (times as the parser writes them)."""
    heads: dict[str, tuple[Any, ...]] = {}
    lines: dict[tuple[Any, ...], tuple[Any, ...]] = {}
    if dialect == "postgresql":
        results = [(conn.exec_driver_sql(_PG_HEADS, {"ids": ids}), conn.exec_driver_sql(_PG_LINES, {"ids": ids}))]
    else:
        results = []
        for i in range(0, len(ids), 500):
            chunk = ids[i:i + 500]
            marks = ", ".join("?" * len(chunk))
            results.append((
                conn.exec_driver_sql(f"SELECT rma_id, {', '.join(_HEAD)} FROM hq_rma WHERE rma_id IN ({marks})", tuple(chunk)),
                conn.exec_driver_sql(f"SELECT {', '.join(LINE_FIELDS)} FROM hq_rma_line WHERE rma_id IN ({marks})",
                                     tuple(chunk))))
    for head_rows, line_rows in results:
        heads.update((r[0], tuple(r[1:])) for r in head_rows)
        lines.update(((r[0], r[1]), tuple(r[2:])) for r in line_rows)
    return heads, lines


def _write(conn: Connection, dialect: str, heads: list[tuple[Any, ...]], rows: list[tuple[Any, ...]],
           kept: list[tuple[Any, ...]], now: datetime) -> None:
    if dialect == "postgresql":
        head_keys = ("rma_id", *_HEAD, "change_id")
        conn.exec_driver_sql(_PG_UPSERT_HEADS, {"now": now.replace(tzinfo=None), "rows": json.dumps(
            [dict(zip(head_keys, h, strict=True)) for h in heads], separators=(",", ":"))})
        if rows:
            conn.exec_driver_sql(_PG_UPSERT_LINES, {"rows": json.dumps(
                [dict(zip(_LINE_COLS, r, strict=True)) for r in rows], separators=(",", ":"))})
    else:
        raw = conn.connection.driver_connection
        stamp = db_time(now)
        raw.executemany(_LITE_UPSERT_HEADS, [(*h[:7], stamp, h[7]) for h in heads])
        if rows:
            raw.executemany(_LITE_UPSERT_LINES, rows)
    if kept:
        conn.execute(_MOVE_LINE, [{"change_id": c, "rma_id": r, "line_no": n} for c, r, n in kept])
