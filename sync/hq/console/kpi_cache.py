"""Weekly KPI reports kept in the database (`hq_kpi_week`), so the console's KPI page and its
12-week trend read a few rows instead of computing twelve reports over all history.

A week's report is computed (sync/hq/kpis.weekly_report, the API's own) when the page first asks
for it and again once it is older than its freshness: `kpi_fresh_minutes` for a week that ended
less than two weeks before (late pushes and overrides still move it), `kpi_settled_hours` for an
older one. A stale report is shown at once with when it was computed, and recomputed in the
background; the page says so. The week picked in the page is computed before the page is answered
if HQ has none yet; the trend's other weeks never hold the page up.

Nothing is kept in the process: the rows are shared by every worker, and a worker claims a week
before recomputing it (`refreshing_since`, a conditional UPDATE), so one recomputes it, not all.
A claim older than CLAIM_MINUTES is taken over (the worker that made it died).
"""

from __future__ import annotations

import json
import logging
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.exc import IntegrityError

from dockstation.kpis.render import to_json
from dockstation.kpis.stats import parse_week
from dockstation.types import as_utc, utcnow
from sync.hq.console.models import HqKpiWeek
from sync.hq.console.web import ConsoleSettings
from sync.hq.db import HQDatabase
from sync.hq.kpis import report_options, weekly_report

log = logging.getLogger("dockstation.hq")
WEEKS = HqKpiWeek.__table__
CLAIM_MINUTES = 15
SETTLED_AFTER = timedelta(days=14)
_pool: ThreadPoolExecutor | None = None


@dataclass
class CachedWeek:
    week: str
    report: dict[str, Any] | None  # None: being computed for the first time
    computed_at: datetime | None
    compute_ms: int
    stale: bool


def _fresh_for(week: str, settings: ConsoleSettings, now: datetime) -> timedelta:
    _, end = parse_week(week)
    if now - end >= SETTLED_AFTER:
        return timedelta(hours=settings.kpi_settled_hours)
    return timedelta(minutes=settings.kpi_fresh_minutes)


def read_weeks(db: HQDatabase, weeks: list[str], settings: ConsoleSettings, now: datetime | None = None
               ) -> dict[str, CachedWeek]:
    now = now or utcnow()
    with db.read() as conn:
        rows = conn.execute(select(WEEKS).where(WEEKS.c.week.in_(weeks))).all()
    out: dict[str, CachedWeek] = {}
    for row in rows:
        m = row._mapping
        report = json.loads(m["report"]) if m["report"] else None
        computed = as_utc(m["computed_at"])
        stale = report is None or now - computed > _fresh_for(m["week"], settings, now)
        out[m["week"]] = CachedWeek(m["week"], report, computed if report else None, m["compute_ms"], stale)
    return out


def compute(db: HQDatabase, week: str, config_dir: Path | None) -> CachedWeek:
    """Compute `week` now and store it (whoever claimed it: this is the one that finishes)."""
    began = time.perf_counter()
    report = weekly_report(db, week, options=report_options(config_dir))
    text = to_json(report)
    ms = int((time.perf_counter() - began) * 1000)
    now = utcnow()
    values = {"report": text, "computed_at": now, "compute_ms": ms, "refreshing_since": None}
    for _ in range(2):  # another worker may insert the row between our UPDATE and INSERT: once more
        try:
            with db.write() as conn:
                if not conn.execute(WEEKS.update().where(WEEKS.c.week == week).values(**values)).rowcount:
                    conn.execute(WEEKS.insert().values(week=week, **values))
            break
        except IntegrityError:
            continue
    return CachedWeek(week, json.loads(text), now, ms, False)


def _claim(db: HQDatabase, week: str) -> bool:
    """Take `week` for recomputing unless another worker is at it; a missing week gets its row."""
    now = utcnow()
    cut = now - timedelta(minutes=CLAIM_MINUTES)
    with db.write() as conn:
        claimed = conn.execute(WEEKS.update().where(
            WEEKS.c.week == week, or_(WEEKS.c.refreshing_since.is_(None), WEEKS.c.refreshing_since < cut)
        ).values(refreshing_since=now)).rowcount
        if claimed:
            return True
        if conn.execute(select(WEEKS.c.week).where(WEEKS.c.week == week)).first() is not None:
            return False
        # A placeholder (no report yet) only this transaction may insert: the primary key says so.
        conn.execute(WEEKS.insert().values(week=week, report="", computed_at=now, compute_ms=0,
                                           refreshing_since=now))
        return True


def _refresh(db: HQDatabase, week: str, config_dir: Path | None) -> None:
    try:
        compute(db, week, config_dir)
    except Exception:  # noqa: BLE001 - logged; the claim expires and another view retries
        log.exception("KPI week %s: recomputing failed", week)


def refresh_later(db: HQDatabase, weeks: list[str], config_dir: Path | None) -> list[str]:
    """Recompute `weeks` in this worker's background thread, those no other worker is already at."""
    global _pool
    claimed = []
    for week in weeks:
        try:
            if _claim(db, week):
                claimed.append(week)
        except IntegrityError:  # two workers inserting the placeholder at once: the other has it
            continue
    if claimed:
        if _pool is None:
            _pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="hq-kpi")
        for week in claimed:
            _pool.submit(_refresh, db, week, config_dir)
    return claimed


def weeks_for_page(db: HQDatabase, week: str, trend: list[str], settings: ConsoleSettings,
                   config_dir: Path | None) -> tuple[dict[str, CachedWeek], list[str]]:
    """The weeks the KPI page shows (the picked one computed now if HQ has none yet), and the
    weeks being recomputed in the background."""
    cached = read_weeks(db, [week, *trend], settings)
    if week not in cached or cached[week].report is None:
        cached[week] = compute(db, week, config_dir)
    due = [w for w in dict.fromkeys([week, *trend]) if w not in cached or cached[w].stale]
    return cached, refresh_later(db, due, config_dir) if due else []
