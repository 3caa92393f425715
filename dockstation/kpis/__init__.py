"""Feedback layer: queue, aging, SLA and the KPI stack, shared by the bench and HQ (no UI here).

- `stats`: percentiles (nearest rank), buckets, ISO weeks, right-first-time / leakage rules.
- `report`: the KPI stack over events (`kpi_report`, `weekly_report`): the reference fold.
- `sql_report`: the same figures in SQL over HQ's event table (SQLite and PostgreSQL).
- `bench`: the lead screen's aggregates over this bench's store (`lead_snapshot`).
- `actions`: a lead's actions on exceptions (`match_exception`, `quarantine_exception`, `void_exception`).
- `export`: `export_kpis(store, fmt, out, since)` for `dockstation export kpis`.
"""

from dockstation.kpis.actions import (
    LeadActionError, Resolution, match_exception, quarantine_exception, void_exception,
)
from dockstation.kpis.bench import LeadSnapshot, lead_snapshot
from dockstation.kpis.config import KpisConfig, load_kpis_config, load_lane_slas
from dockstation.kpis.export import export_kpis
from dockstation.kpis.report import EventRow, KpiReport, kpi_report, weekly_report

__all__ = [
    "EventRow", "KpiReport", "KpisConfig", "LeadActionError", "LeadSnapshot", "Resolution", "export_kpis",
    "kpi_report", "lead_snapshot", "load_kpis_config", "load_lane_slas", "match_exception",
    "quarantine_exception", "void_exception", "weekly_report",
]
