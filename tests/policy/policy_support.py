"""Helpers for policy tests: graded units written straight to the store, like inspection does."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path

from sqlmodel import select

from dockstation.config import load_bench_config
from dockstation.models import Decision, Event, Inspection, Rma, RmaLine, Unit
from dockstation.receiving import Bench
from dockstation.store import Store
from dockstation.types import utcnow

OPS = {"clerk": "1001", "grader": "2001", "lead": "9001"}
OPERATORS = "".join(f'[[operators]]\nbadge = "{b}"\nname = "{r.title()} {b}"\nrole = "{r}"\n\n' for r, b in OPS.items())


def fresh_home(path: Path, station_id: str = "B07") -> Path:
    """A bench home like tests/conftest.py's `home` (for tests that need more than one)."""
    (path / "config").mkdir(parents=True, exist_ok=True)
    (path / "config" / "station.toml").write_text(f'station_id = "{station_id}"\n')
    (path / "config" / "operators.toml").write_text(OPERATORS)
    return path


def bench_for(home: Path) -> Bench:
    cfg = load_bench_config(home)
    return Bench(station_id=cfg.station.station_id, codes=cfg.codes, operators=cfg.operators)


def operator(bench: Bench, role: str):
    return bench.operators.by_badge(OPS[role])


def graded(store: Store, n: int, *, category: str = "apparel", grade: str = "A",
           price: str = "49.99", flags: tuple[str, ...] = (), answers: dict | None = None,
           reason_code: str = "changed_mind", sku: str | None = None, order_id: str | None = None,
           age_days: float = 3, state: str = "graded", at: datetime | None = None,
           station: str = "B07") -> str:
    """One RMA with one line and a graded unit `<station>-<n>`, with a done inspection."""
    now = at or utcnow()
    lpn = f"{station}-{n:08d}"
    rma_id = f"RMA-T-{station}-{n:06d}"
    sku = sku or f"SKU-{category}-{n}"
    with store.write() as s:
        s.add(Rma(rma_id=rma_id, order_id=order_id or f"O-{n}", created_at=now - timedelta(days=age_days),
                  expires_at=now + timedelta(days=30), status="open", updated_at=now))
        s.add(RmaLine(rma_id=rma_id, line_no=1, sku=sku, description=f"{category} item {n}",
                      category=category, unit_price=Decimal(price), reason_code=reason_code,
                      received_qty=1))
        s.flush()
        s.add(Unit(lpn=lpn, rma_id=rma_id, line_no=1, station_id=station, sku=sku, category=category,
                   description=f"{category} item {n}", unit_price=Decimal(price), state=state,
                   grade=grade, risk_flags=list(flags), received_at=now - timedelta(hours=1),
                   inspected_at=now, received_by="1001", inspected_by="2001", updated_at=now))
        s.flush()
        s.add(Inspection(lpn=lpn, checklist=category, checklist_version="1", status="done",
                         answers={k: v if isinstance(v, dict) else {"value": v, "by": "2001"}
                                  for k, v in (answers or {}).items()},
                         flags=list(flags), grade=grade, started_at=now, started_by="2001",
                         finished_at=now, finished_by="2001"))
    return lpn


def events_of(store: Store, lpn: str | None = None, kind: str | None = None) -> list[Event]:
    with store.read() as s:
        q = select(Event).order_by(Event.seq)
        if lpn is not None:
            q = q.where(Event.lpn == lpn)
        if kind is not None:
            q = q.where(Event.kind == kind)
        return list(s.exec(q))


def decisions_of(store: Store, lpn: str) -> list[Decision]:
    with store.read() as s:
        return list(s.exec(select(Decision).where(Decision.lpn == lpn).order_by(Decision.id)))


def unit(store: Store, lpn: str) -> Unit:
    with store.read() as s:
        return s.get(Unit, lpn)


def add_rma(store: Store, rma_id: str, lines: list[dict], *, order_id: str | None = None) -> None:
    """An open manifest RMA (like tests/conftest.py's add_rma, which tests cannot import here)."""
    now = utcnow()
    with store.write() as s:
        s.add(Rma(rma_id=rma_id, order_id=order_id or f"O-{rma_id}", created_at=now - timedelta(days=3),
                  expires_at=now + timedelta(days=30), status="open", updated_at=now))
        for n, line in enumerate(lines, start=1):
            line = dict(line)
            s.add(RmaLine(rma_id=rma_id, line_no=n, unit_price=Decimal(str(line.pop("unit_price", "49.99"))),
                          **line))
