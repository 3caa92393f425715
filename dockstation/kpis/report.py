"""The KPI stack over events: the reference computation, shared by the bench export and HQ.

`kpi_report(events, start, end)` folds an iterable of `EventRow` (any order, any source: the
bench's `event` table, HQ's `hq_event`, a test's list) into a `KpiReport` per station and in
total. It streams: it keeps a few fields per unit, never the events. HQ's SQL implementation
(`dockstation.kpis.sql_report`) must give the same figures; the tests hold them together.

Who counts (the full definitions are in docs/kpis.md):
- received: `unit_received` in [start, end).
- disposed: units whose *first* `unit_disposed` is in [start, end) (a hold in quarantine is a
  decision, not a disposition: the unit is disposed when it leaves quarantine). Their cycle time, accuracy,
  recovery, flag leakage and working capital use what is known now (the latest disposition,
  every override so far): an override next Monday still means the first decision was wrong.
- aging: units received before `as_of` with no disposition and no void before `as_of`.
- exception leakage: `exception_recorded` in [start, end), unless later resolved as matched.
- aging leakage: the value decay (policy.toml `[decay]`) of the units disposed in [start, end),
  from their latest `unit_disposed` (`decay`), per category (source `aging`).
- trigger firings: `age_trigger_fired` in [start, end), counted by trigger id.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from dockstation.kpis.stats import (
    CAPITAL_PATHS, LEAKAGE_FLAGS, bucket_index, bucket_labels, dec, leakage_flag, parse_week,
    percentile, ratio, unit_loss,
)
from dockstation.types import as_utc

TOTAL = "*"
HOLD = "quarantine"  # the policy's hold path: a decision, not yet a disposition
DEFAULT_DAYS = (30.0, 60.0, 90.0)


@dataclass(frozen=True)
class EventRow:
    station_id: str
    seq: int
    kind: str
    at: datetime
    lpn: str | None
    payload: Mapping[str, Any]


@dataclass(frozen=True)
class ReportOptions:
    open_days: Sequence[float] = DEFAULT_DAYS
    capital_paths: Sequence[str] = CAPITAL_PATHS
    leakage_flags: Sequence[str] = LEAKAGE_FLAGS


@dataclass
class RecoveryRow:
    category: str
    path: str
    units: int = 0
    recovery_value: Decimal = Decimal(0)
    unit_price: Decimal = Decimal(0)

    @property
    def rate(self) -> float | None:
        """Recovery rate: recovery value / unit price of the units."""
        return ratio(self.recovery_value, self.unit_price)


@dataclass
class LeakageRow:
    type: str  # exception kind, risk flag, or category (aging)
    source: str  # "exception" | "flag" | "aging"
    count: int = 0
    value: Decimal = Decimal(0)


@dataclass
class GroupKpis:
    site: str
    station_id: str
    received: int = 0
    disposed: int = 0
    cycle_p50_hours: float | None = None
    cycle_p90_hours: float | None = None
    right_first_time: int = 0
    recovery: list[RecoveryRow] = field(default_factory=list)
    aging: dict[str, int] = field(default_factory=dict)
    leakage: list[LeakageRow] = field(default_factory=list)
    capital_released: Decimal = Decimal(0)
    triggers: dict[str, int] = field(default_factory=dict)  # age trigger id -> firings

    @property
    def accuracy(self) -> float | None:
        return ratio(self.right_first_time, self.disposed)

    @property
    def recovery_value(self) -> Decimal:
        return sum((r.recovery_value for r in self.recovery), Decimal(0))

    @property
    def recovery_rate(self) -> float | None:
        return ratio(self.recovery_value, sum((r.unit_price for r in self.recovery), Decimal(0)))

    @property
    def leakage_total(self) -> Decimal:
        return sum((l.value for l in self.leakage), Decimal(0))


@dataclass
class KpiReport:
    period: str
    start: datetime
    end: datetime
    as_of: datetime
    aging_labels: list[str]
    stations: list[GroupKpis]
    total: GroupKpis
    # One group per site (station_id ""), when asked for (`by_site`): HQ's console and API.
    sites: list[GroupKpis] = field(default_factory=list)


# -- the fold ---------------------------------------------------------------------------------
class _Unit:
    """What the report needs of one unit. A unit belongs to the station that received it (its
    LPN's bench); a unit HQ knows only from a disposition belongs to the station that made it."""

    __slots__ = ("station", "received_at", "category", "unit_price", "flags", "decisions",
                 "first", "first_station", "latest", "path", "recovery", "voided_at", "decay")

    def __init__(self) -> None:
        self.station: str | None = None
        self.received_at: datetime | None = None
        self.category = ""
        self.unit_price: Decimal | None = None
        self.flags: set[str] = set()
        self.decisions = 0
        self.first: tuple[datetime, int, str] | None = None  # (at, seq, kind) of 1st disposition
        self.first_station = ""
        self.latest: tuple[datetime, int] | None = None
        self.path = ""
        self.recovery = Decimal(0)
        self.voided_at: datetime | None = None
        self.decay = Decimal(0)

    def owner(self) -> str:
        return self.station if self.station is not None else self.first_station


def _flags(value: Any) -> list[str]:
    return [str(f) for f in value] if isinstance(value, list) else []


@dataclass
class UnitFacts:
    """One disposed unit as the accumulators see it (the fold and the SQL path both build these)."""

    station: str
    first_at: datetime
    first_kind: str
    decisions: int
    received_at: datetime | None
    category: str
    path: str
    recovery: Decimal
    unit_price: Decimal | None
    flags: set[str]
    decay: Decimal = Decimal(0)  # value lost by waiting (the latest disposition's `decay`)


def kpi_report(events: Iterable[EventRow], start: datetime, end: datetime, *,
               period: str = "", sites: Mapping[str, str] | None = None,
               as_of: datetime | None = None, options: ReportOptions = ReportOptions(),
               by_site: bool = False) -> KpiReport:
    start, end = as_utc(start), as_utc(end)
    as_of = min(end, as_utc(as_of)) if as_of else end
    units: dict[str, _Unit] = {}
    received: dict[str, int] = {}
    exceptions: list[tuple[str, Any, str, Decimal]] = []  # (station, id, kind, value)
    matched: set[tuple[str, Any]] = set()
    fired: dict[tuple[str, str], int] = {}  # (station, trigger id) -> age trigger firings

    for ev in events:
        at = as_utc(ev.at)
        p = ev.payload or {}
        if ev.kind == "exception_recorded":
            if start <= at < end:
                exceptions.append((ev.station_id, p.get("id"), str(p.get("kind") or "?"), dec(p.get("value"))))
            continue
        if ev.kind == "exception_resolved":
            if p.get("action") == "matched":
                matched.add((ev.station_id, p.get("id")))
            continue
        if ev.kind == "age_trigger_fired":
            if start <= at < end:
                key = (ev.station_id, str(p.get("trigger_id") or "?"))
                fired[key] = fired.get(key, 0) + 1
            continue
        if not ev.lpn:
            continue
        u = units.get(ev.lpn)
        if u is None:
            u = units[ev.lpn] = _Unit()
        if ev.kind == "unit_received":
            u.station = ev.station_id
            u.received_at = at
            u.category = u.category or str(p.get("category") or "")
            if u.unit_price is None and p.get("unit_price") not in (None, ""):
                u.unit_price = dec(p["unit_price"])
            u.flags.update(_flags(p.get("risk_flags")))
            if start <= at < end:
                received[ev.station_id] = received.get(ev.station_id, 0) + 1
        elif ev.kind == "unit_graded":
            u.flags.update(_flags(p.get("flags")))
        elif ev.kind == "unit_disposed":
            u.decisions += 1
            u.flags.update(_flags(p.get("flags")))
            key = (at, ev.seq, str(p.get("kind") or "policy"))
            # A hold in quarantine is a decision (it counts against right first time) but not a
            # disposition: the unit is still waiting, for cycle time and aging.
            if p.get("path") != HOLD and (u.first is None or key[:2] < u.first[:2]):
                u.first, u.first_station = key, ev.station_id
            if u.latest is None or key[:2] > u.latest:
                u.latest = key[:2]
                u.path = str(p.get("path") or "")
                u.recovery = dec(p.get("recovery_value"))
                u.decay = dec(p.get("decay"))
                if p.get("category"):
                    u.category = str(p["category"])
                if p.get("unit_price") not in (None, ""):
                    u.unit_price = dec(p["unit_price"])
        elif ev.kind == "unit_voided":
            u.voided_at = at if u.voided_at is None else min(u.voided_at, at)

    build = Builder(sites if sites is not None else {}, options, by_site=by_site)
    for station, n in received.items():
        build.received(station, n)
    for u in units.values():
        if u.first is not None and start <= u.first[0] < end:
            build.disposed(UnitFacts(u.owner(), u.first[0], u.first[2], u.decisions, u.received_at, u.category,
                                     u.path, u.recovery, u.unit_price, u.flags, u.decay))
        elif u.station is not None and u.received_at is not None and u.received_at < as_of \
                and not (u.first is not None and u.first[0] < as_of) \
                and not (u.voided_at is not None and u.voided_at < as_of):
            build.open(u.station, (as_of - u.received_at).total_seconds() / 86400)
    for station, ident, kind, value in exceptions:
        if (station, ident) not in matched or ident is None:
            build.leak(station, kind, "exception", value)
    for (station, trigger), n in fired.items():
        build.fired(station, trigger, n)
    return build.finish(period or f"{start.isoformat()}/{end.isoformat()}", start, end, as_of)


class Builder:
    """Groups figures per station, per site (`by_site`) and in total; the fold and the SQL path
    both feed it. A site's percentiles come from its units, never from its stations' figures."""

    def __init__(self, sites: Mapping[str, str], options: ReportOptions, *, by_site: bool = False) -> None:
        self.sites, self.options, self.by_site = sites, options, by_site
        self.labels = bucket_labels(options.open_days, "d")
        self.acc: dict[str, _Acc] = {}
        self.site_acc: dict[str, _Acc] = {}
        self.total = _Acc("", TOTAL, self.labels)
        self._groups: dict[str, tuple[_Acc, ...]] = {}

    def groups(self, station: str) -> tuple[_Acc, ...]:
        found = self._groups.get(station)
        if found is None:
            site = self.sites.get(station, "") or ""
            self.acc[station] = _Acc(site, station, self.labels)
            found = (self.acc[station], self.total)
            if self.by_site:
                if site not in self.site_acc:
                    self.site_acc[site] = _Acc(site, "", self.labels)
                found = (self.acc[station], self.site_acc[site], self.total)
            self._groups[station] = found
        return found

    def received(self, station: str, n: int) -> None:
        for g in self.groups(station):
            g.out.received += n

    def disposed(self, u: UnitFacts) -> None:
        for g in self.groups(u.station):
            g.add_disposed(u, self.options)

    def open(self, station: str, age_days: float, n: int = 1) -> None:
        label = self.labels[bucket_index(age_days, self.options.open_days)]
        self.open_bucket(station, label, n)

    def open_bucket(self, station: str, label: str, n: int) -> None:
        for g in self.groups(station):
            g.out.aging[label] += n

    def leak(self, station: str, kind: str, source: str, value: Decimal, n: int = 1) -> None:
        for g in self.groups(station):
            g.add_leak(kind, source, value, n)

    def fired(self, station: str, trigger: str, n: int) -> None:
        for g in self.groups(station):
            g.out.triggers[trigger] = g.out.triggers.get(trigger, 0) + n

    def finish(self, period: str, start: datetime, end: datetime, as_of: datetime) -> KpiReport:
        stations = [a.finish() for a in sorted(self.acc.values(), key=lambda a: (a.out.site, a.out.station_id))]
        sites = [self.site_acc[s].finish() for s in sorted(self.site_acc)]
        return KpiReport(period, start, end, as_of, self.labels, stations, self.total.finish(), sites)


def weekly_report(events: Iterable[EventRow], week: str, **kw: Any) -> KpiReport:
    """The KPI stack for ISO week `YYYY-Www` (UTC)."""
    start, end = parse_week(week)
    return kpi_report(events, start, end, period=week, **kw)


class _Acc:
    """One group's running figures (a station, or the total)."""

    def __init__(self, site: str, station: str, labels: list[str]) -> None:
        self.out = GroupKpis(site, station, aging={label: 0 for label in labels})
        self.labels = labels
        self.cycles: list[float] = []
        self.recovery: dict[tuple[str, str], RecoveryRow] = {}
        self.leaks: dict[tuple[str, str], LeakageRow] = {}

    def add_disposed(self, u: UnitFacts, opt: ReportOptions) -> None:
        self.out.disposed += 1
        if u.decisions == 1 and u.first_kind == "policy":
            self.out.right_first_time += 1
        if u.received_at is not None:
            self.cycles.append((u.first_at - u.received_at).total_seconds() / 3600)
        row = self.recovery.setdefault((u.category, u.path), RecoveryRow(u.category, u.path))
        row.units += 1
        row.recovery_value += u.recovery
        row.unit_price += u.unit_price or Decimal(0)
        if u.path in opt.capital_paths:
            self.out.capital_released += u.recovery
        flag = leakage_flag(u.flags, opt.leakage_flags)
        if flag is not None:
            self.add_leak(flag, "flag", unit_loss(u.unit_price, u.recovery))
        if u.decay > 0:  # value lost while it waited (policy.toml [decay]): margin leakage by aging
            self.add_leak(u.category or "?", "aging", u.decay)

    def add_leak(self, kind: str, source: str, value: Decimal, n: int = 1) -> None:
        row = self.leaks.setdefault((source, kind), LeakageRow(kind, source))
        row.count += n
        row.value += value

    def finish(self) -> GroupKpis:
        p50, p90 = percentile(self.cycles, 50), percentile(self.cycles, 90)
        self.out.cycle_p50_hours = None if p50 is None else round(p50, 2)
        self.out.cycle_p90_hours = None if p90 is None else round(p90, 2)
        self.out.recovery = sorted(self.recovery.values(), key=lambda r: (r.category, r.path))
        self.out.leakage = sorted(self.leaks.values(), key=lambda r: (r.source, r.type))
        self.out.triggers = dict(sorted(self.out.triggers.items()))
        return self.out
