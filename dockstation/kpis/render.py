"""A `KpiReport` as JSON, CSV (one figure a row) or a plain-text table for a terminal.

Money is exact decimal text in JSON and CSV; rates and accuracy are fractions (0.8125), hours
have two decimals. The same writers serve `dockstation export kpis` and `dockstation hq report`.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from decimal import Decimal
from typing import IO, Any

from dockstation.kpis.report import GroupKpis, KpiReport
from dockstation import csv_out
from dockstation.text import clean
from dockstation.types import dumps, iso

CSV_COLUMNS = ["period", "site", "station_id", "section", "key", "metric", "value"]


def group_dict(g: GroupKpis) -> dict[str, Any]:
    return {
        "site": g.site, "station_id": g.station_id,
        "received": g.received, "disposed": g.disposed,
        "cycle_time_hours": {"p50": g.cycle_p50_hours, "p90": g.cycle_p90_hours},
        "accuracy": {"right_first_time": g.right_first_time, "disposed": g.disposed, "rate": g.accuracy},
        "recovery": {
            "value": g.recovery_value, "rate": g.recovery_rate,
            "by_category_path": [
                {"category": r.category, "path": r.path, "units": r.units, "recovery_value": r.recovery_value,
                 "unit_price": r.unit_price, "rate": r.rate} for r in g.recovery],
        },
        "aging": dict(g.aging),
        "leakage": {
            "total": g.leakage_total,
            "by_type": [{"type": l.type, "source": l.source, "count": l.count, "value": l.value} for l in g.leakage],
        },
        "capital_released": g.capital_released,
        "triggers": dict(g.triggers),  # age trigger firings by trigger id
    }


def report_dict(r: KpiReport) -> dict[str, Any]:
    out = {
        "period": r.period, "start": iso(r.start), "end": iso(r.end), "as_of": iso(r.as_of),
        "aging_buckets": r.aging_labels,
        "stations": [group_dict(g) for g in r.stations],
        "total": group_dict(r.total),
    }
    if r.sites:  # HQ's report: one group per site too (station_id "")
        out["sites"] = [group_dict(g) for g in r.sites]
    return out


def to_json(r: KpiReport) -> str:
    # Decimals as exact strings (types.dumps); keys in a stable order.
    return json.dumps(json.loads(dumps(report_dict(r))), indent=2, ensure_ascii=False)


def csv_rows(r: KpiReport) -> Iterator[list[Any]]:
    for g in [*r.stations, r.total]:
        head = [r.period, g.site, g.station_id]
        summary = {
            "received": g.received, "disposed": g.disposed,
            "cycle_p50_hours": g.cycle_p50_hours, "cycle_p90_hours": g.cycle_p90_hours,
            "right_first_time": g.right_first_time, "accuracy": g.accuracy,
            "recovery_value": g.recovery_value, "recovery_rate": g.recovery_rate,
            "capital_released": g.capital_released, "leakage_total": g.leakage_total,
        }
        for metric, value in summary.items():
            yield [*head, "summary", "", metric, value]
        for row in g.recovery:
            key = f"{row.category}/{row.path}"
            for metric, value in (("units", row.units), ("recovery_value", row.recovery_value),
                                  ("unit_price", row.unit_price), ("rate", row.rate)):
                yield [*head, "recovery", key, metric, value]
        for label, n in g.aging.items():
            yield [*head, "aging", label, "units", n]
        for leak in g.leakage:
            key = f"{leak.source}:{leak.type}"
            yield [*head, "leakage", key, "count", leak.count]
            yield [*head, "leakage", key, "value", leak.value]
        for trigger, n in g.triggers.items():
            yield [*head, "triggers", trigger, "firings", n]


def write_csv(r: KpiReport, out: IO[str]) -> None:
    # Text from stations (categories, exception kinds) could start with = + - @: a spreadsheet
    # would run it as a formula (dockstation.csv_out neutralises such cells).
    w = csv_out.writer(out)
    w.writerow(CSV_COLUMNS)
    for row in csv_rows(r):
        w.writerow(["" if v is None else v for v in row])


def _fmt(v: Any) -> str:
    if v is None:
        return "–"
    if isinstance(v, float):
        return f"{v:.2f}"
    if isinstance(v, Decimal):
        return f"{v:,.2f}"
    return clean(v, limit=24)


def _pct(v: float | None) -> str:
    return "–" if v is None else f"{v * 100:.1f}%"


def to_table(r: KpiReport) -> str:
    """Plain text for a terminal: one summary line per station and the total, then details."""
    lines = [f"KPIs {r.period}  ({iso(r.start)} → {iso(r.end)}, as of {iso(r.as_of)})", ""]
    head = ["site", "station", "recv", "disp", "P50 h", "P90 h", "RFT", "recov", "rate", "capital", "leakage",
            *r.aging_labels]
    rows = []
    for g in [*r.stations, r.total]:
        rows.append([clean(g.site, limit=12), "TOTAL" if g.station_id == "*" else clean(g.station_id, limit=12),
                     str(g.received), str(g.disposed), _fmt(g.cycle_p50_hours), _fmt(g.cycle_p90_hours),
                     _pct(g.accuracy), _fmt(g.recovery_value), _pct(g.recovery_rate), _fmt(g.capital_released),
                     _fmt(g.leakage_total), *[str(g.aging[label]) for label in r.aging_labels]])
    lines += _grid(head, rows)
    t = r.total
    if t.recovery:
        lines += ["", "Recovery by category and path (all stations)"]
        lines += _grid(["category", "path", "units", "recovery", "price", "rate"],
                       [[_fmt(x.category), _fmt(x.path), str(x.units), _fmt(x.recovery_value),
                         _fmt(x.unit_price), _pct(x.rate)] for x in t.recovery])
    if t.leakage:
        lines += ["", "Margin leakage by exception type, flag and aging (all stations)"]
        lines += _grid(["type", "source", "count", "value"],
                       [[_fmt(x.type), x.source, str(x.count), _fmt(x.value)] for x in t.leakage])
    if t.triggers:
        lines += ["", "Age trigger firings (all stations)"]
        lines += _grid(["trigger", "", "firings"], [[_fmt(k), "", str(n)] for k, n in t.triggers.items()])
    return "\n".join(lines) + "\n"


def _grid(head: list[str], rows: list[list[str]]) -> list[str]:
    widths = [max(len(h), *(len(r[i]) for r in rows)) if rows else len(h) for i, h in enumerate(head)]
    def line(cells: list[str]) -> str:
        return "  ".join(c.ljust(w) if i < 2 else c.rjust(w) for i, (c, w) in enumerate(zip(cells, widths, strict=True)))
    return [line(head), "  ".join("-" * w for w in widths), *(line(r) for r in rows)]
