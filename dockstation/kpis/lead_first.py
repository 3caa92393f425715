"""Each unit's first disposition, for the lead screen's cycle time, mix and throughput.

A policy hold in quarantine is a decision but not a disposition (docs/kpis.md): the first
disposition of a unit is its earliest `unit_disposed` event whose path is not quarantine (ties on
the time go to the lower seq). Later overrides and redispositions are not a second disposal; the
path and recovery value shown are the unit's current ones. The hold test reads the payload as the
bench writes it (types.dumps: compact, so `"path":"quarantine"` cannot occur inside another
string value), with the very expression of the partial index ix_event_disposal (store migration
v4), which makes the "is there an earlier one?" probe index-only.

`FirstDispositions` keeps the rows of a window between refreshes and brings them up to date from
the events appended since (the event table's rowid is its append order: events are never
deleted), so a refresh reads what changed, not the whole week again. Every input of a row is
written together with a `unit_disposed` event of that unit in one transaction (dispose.py), so
the units named by the new events are the only rows that can have changed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any, NamedTuple

from dockstation.kpis.stats import dec


def _real(alias: str) -> str:
    """A real disposition of `alias`: the WHERE of ix_event_disposal (store.py), term for term."""
    return f"{alias}.kind = 'unit_disposed' AND instr({alias}.payload, '\"path\":\"quarantine\"') = 0"


_FIRST = f"""
SELECT e.lpn, e.at, julianday(e.at), (julianday(e.at) - julianday(u.received_at)) * 24.0,
       COALESCE(u.disposition, '?'), COALESCE(u.recovery_value, '0')
FROM event e JOIN unit u ON u.lpn = e.lpn
WHERE {_real("e")} AND e.lpn IS NOT NULL AND {{where}}
  AND NOT EXISTS (SELECT 1 FROM event p INDEXED BY ix_event_disposal WHERE {_real("p")} AND p.lpn = e.lpn
                  AND (p.at < e.at OR (p.at = e.at AND p.seq < e.seq)))
"""
_IN_WINDOW = _FIRST.format(where="e.at >= :since")
_OF_UNIT = _FIRST.format(where="e.lpn = :lpn AND e.at >= :since")
# `+kind`, `+lpn` and no DISTINCT: walk the rowid range of the new events, never an index of
# all events (the planner would otherwise pick ix_event_kind_at or ix_event_lpn, without stats).
_CHANGED = "SELECT lpn FROM event WHERE rowid > :hwm AND +kind = 'unit_disposed' AND +lpn IS NOT NULL LIMIT :cap"
MAX_CHANGED = 200  # more dispositions than this since the last refresh: read the window again


class FirstRow(NamedTuple):
    at: str  # the event's time as stored (compared as text, like SQL does)
    julian: float  # julianday(at): hours ago = (julianday(now) − julian) × 24, as SQL computes it
    cycle_hours: float | None  # receipt to this disposition, rounded to 1e-6 h
    path: str
    value: Decimal


@dataclass
class FirstDispositions:
    """The first dispositions at or after `since`, by LPN, as of event rowid `hwm`."""

    key: tuple[str, str] | None = None  # (database file, since)
    hwm: int = 0
    rows: dict[str, FirstRow] = field(default_factory=dict)
    full_reads: int = 0  # how often the window was read whole (tests and the bench look)

    def update(self, cur: Any, db: Path, since: str) -> list[FirstRow]:
        """Bring the rows up to date inside the caller's read transaction; return them."""
        hwm = int(cur.execute("SELECT COALESCE(MAX(rowid), 0) FROM event").fetchone()[0])
        same_db = self.key is not None and self.key[0] == str(db)
        if not same_db or self.key is None or since < self.key[1] or hwm < self.hwm:
            return self._reload(cur, db, since, hwm)
        if hwm > self.hwm:
            changed = [r[0] for r in cur.execute(_CHANGED, {"hwm": self.hwm, "cap": MAX_CHANGED + 1})]
            if len(changed) > MAX_CHANGED:
                return self._reload(cur, db, since, hwm)
            for lpn in dict.fromkeys(changed):
                self.rows.pop(lpn, None)
                for r in cur.execute(_OF_UNIT, {"lpn": lpn, "since": self.key[1]}):
                    self.rows[r[0]] = _row(r)
        if since > self.key[1]:  # the window moved on: drop what fell out of it
            self.rows = {lpn: r for lpn, r in self.rows.items() if r.at >= since}
        self.key, self.hwm = (str(db), since), hwm
        return list(self.rows.values())

    def _reload(self, cur: Any, db: Path, since: str, hwm: int) -> list[FirstRow]:
        self.rows = {r[0]: _row(r) for r in cur.execute(_IN_WINDOW, {"since": since})}
        self.key, self.hwm = (str(db), since), hwm
        self.full_reads += 1
        return list(self.rows.values())


def _row(r: Any) -> FirstRow:
    # julianday differences carry ~1e-9 h of float noise: a cycle of exactly 2 h is 2 h.
    return FirstRow(str(r[1]), float(r[2]), None if r[3] is None else round(float(r[3]), 6), r[4], dec(r[5]))


def first_dispositions(cur: Any, since: str) -> list[FirstRow]:
    """The first dispositions at or after `since`, read whole (no cache)."""
    return [_row(r) for r in cur.execute(_IN_WINDOW, {"since": since})]
