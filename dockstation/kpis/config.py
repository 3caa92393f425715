"""`kpis.toml` (aging buckets, lead screen refresh, report definitions) and lane SLAs.

Lane SLAs belong to the policy (`policy.toml` `[[lanes]] name, sla_hours`). This module reads
only those two keys, tolerantly: the policy file has many other keys we must not police, and a
missing or broken policy file leaves breach detection to each unit's own `sla_due_at`.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, field_validator

from dockstation.config import ConfigError, Strict, load_layered
from dockstation.kpis.stats import CAPITAL_PATHS, LEAKAGE_FLAGS


def _ascending(edges: list[float]) -> list[float]:
    if any(b <= a for a, b in zip(edges, edges[1:], strict=False)):
        raise ValueError(f"bucket edges must increase: {edges}")
    if any(e <= 0 for e in edges):
        raise ValueError(f"bucket edges must be positive: {edges}")
    return edges


class AgingConfig(Strict):
    queue_hours: list[float] = Field(default_factory=lambda: [4.0, 8.0, 24.0, 48.0], max_length=8)
    open_days: list[float] = Field(default_factory=lambda: [30.0, 60.0, 90.0], max_length=8)

    @field_validator("queue_hours", "open_days")
    @classmethod
    def _edges(cls, edges: list[float]) -> list[float]:
        return _ascending(edges)


class LeadConfig(Strict):
    refresh_seconds: float = Field(default=5.0, ge=0.5, le=3600)
    page_rows: int = Field(default=100, ge=10, le=5000)
    exception_rows: int = Field(default=100, ge=10, le=5000)
    sparkline_hours: int = Field(default=24, ge=2, le=168)


class ReportConfig(Strict):
    capital_paths: list[str] = Field(default_factory=lambda: list(CAPITAL_PATHS))
    leakage_flags: list[str] = Field(default_factory=lambda: list(LEAKAGE_FLAGS))


class KpisConfig(Strict):
    aging: AgingConfig = AgingConfig()
    lead: LeadConfig = LeadConfig()
    report: ReportConfig = ReportConfig()


def load_kpis_config(home: Path | None) -> KpisConfig:
    """Package defaults, then the bench's overrides; ConfigError names the file and key."""
    return load_layered("kpis.toml", KpisConfig, home)


class _LaneSla(BaseModel):
    model_config = ConfigDict(extra="ignore")
    name: str
    sla_hours: float = Field(gt=0)


class _PolicyLanes(BaseModel):
    model_config = ConfigDict(extra="ignore")
    lanes: list[_LaneSla] = Field(default_factory=list)


def load_lane_slas(home: Path | None) -> dict[str, float]:
    """Lane name → SLA hours from policy.toml; {} when there is no usable policy file."""
    try:
        policy = load_layered("policy.toml", _PolicyLanes, home)
    except ConfigError:
        return {}  # the policy screen reports a bad policy file; breaches use sla_due_at
    return {lane.name: lane.sla_hours for lane in policy.lanes}
