"""HQ weekly KPI route (stub; the KPI feature fills it in).

`router` is included by the HQ app under /api/v1; `weekly_report(session, week)` is used by
`dockstation hq report`.
"""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter()
