"""The console's tables, in HQ's registry (sync/hq/db.py): what a browser session, a policy under
review, a publication and the KPI figures need to be the same on every HQ worker.

- `hq_console_session`  one signed-in browser: the cookie's secret only as SHA-256, the reader, that
                        reader's token hash at sign-in (a rotated or revoked token ends the session),
                        the form token (CSRF), when it started, was last seen, and expires.
- `hq_policy_candidate` a policy.toml uploaded for review, with its simulation on HQ's history.
- `hq_publication`      a policy published to the benches: the files it puts in the configuration
                        bundle, who, when; the newest one is in force (sync/hq/published.py).
- `hq_audit`            every act from the console that changes something: who, when, what.
- `hq_kpi_week`         a week's KPI report as computed, and when (sync/hq/console/kpi_cache.py).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Index, Integer, Text
from sqlmodel import Field

from sync.hq.db import HQModel, JSONType, _ts


class HqConsoleSession(HQModel, table=True):
    __tablename__ = "hq_console_session"
    id: str = Field(primary_key=True, max_length=64)  # sha256 of the cookie's value
    reader: str = Field(max_length=64, index=True)
    token_hash: str = Field(max_length=64)
    csrf: str = Field(max_length=64)
    created_at: datetime = _ts()
    seen_at: datetime = _ts()
    expires_at: datetime = _ts()


class HqPolicyCandidate(HQModel, table=True):
    __tablename__ = "hq_policy_candidate"
    id: int | None = Field(default=None, primary_key=True)
    uploaded_by: str = Field(max_length=64)
    uploaded_at: datetime = _ts()
    filename: str = ""
    content: str = Field(sa_type=Text)
    sha256: str = Field(max_length=64)
    policy_version: str = ""
    base_version: str = ""  # the bundle in force when it was simulated
    since: datetime | None = _ts(default=None)  # the history replayed: units inspected since
    simulation: dict[str, Any] | None = Field(default=None, sa_type=JSONType)
    simulated_at: datetime | None = _ts(default=None)
    simulate_ms: int | None = Field(default=None, sa_type=Integer)


class HqPublication(HQModel, table=True):
    __tablename__ = "hq_publication"
    id: int | None = Field(default=None, primary_key=True)
    candidate_id: int | None = None
    files: dict[str, Any] = Field(default_factory=dict, sa_type=JSONType)  # name -> TOML text
    policy_version: str = ""
    bundle_version: str = ""  # the bundle benches are served from this publication on
    published_by: str = Field(max_length=64)
    published_at: datetime = _ts()
    note: str = ""


class HqAudit(HQModel, table=True):
    __tablename__ = "hq_audit"
    __table_args__ = (Index("ix_hq_audit_at", "at"),)
    id: int | None = Field(default=None, primary_key=True)
    at: datetime = _ts()
    actor: str = Field(max_length=64)  # the reader
    action: str = Field(max_length=64)  # sign_in, sign_out, station_revoked, station_rotated, policy_*
    target: str = ""
    detail: dict[str, Any] = Field(default_factory=dict, sa_type=JSONType)


class HqKpiWeek(HQModel, table=True):
    __tablename__ = "hq_kpi_week"
    week: str = Field(primary_key=True, max_length=8)  # YYYY-Www
    report: str = Field(sa_type=Text)  # the report as JSON (dockstation.kpis.render.to_json)
    computed_at: datetime = _ts()
    compute_ms: int = 0
    refreshing_since: datetime | None = _ts(default=None)  # a worker is recomputing it


__all__ = ["HqAudit", "HqConsoleSession", "HqKpiWeek", "HqPolicyCandidate", "HqPublication"]
