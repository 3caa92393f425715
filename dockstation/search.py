"""Finding the return of a parcel whose label cannot be scanned (docs/receiving.md, "Search").

`search(store, text)` takes whatever the clerk can read or scan — an RMA id, a tracking number
(any carrier form, dockstation.carriers), an order id, the customer's name or e-mail, a SKU, the
item's GTIN — and returns the matching RMAs, best first, at most `limit`. Every kind is one index
lookup (rma's primary key, ix_rma_line_tracking, ix_rma_order_id, ix_rma_customer_email,
ix_rma_line_gtin, ix_rma_line_sku, and the FTS5 index `rma_fts` for names: store.SEARCH_DDL), so a
1M-RMA manifest answers in milliseconds (bench/bench_search.py).

Plain Python over the store. Customer names and e-mails are shown to the clerk who searched (and
printed by `dockstation manifest search`), never logged.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from dockstation.carriers import normalise
from dockstation.store import Store
from dockstation.types import as_utc, utcnow

MAX_TEXT = 120
# Match kinds, best first: the rank of a result is its best kind's.
KINDS = ("rma", "tracking", "order", "email", "gtin", "sku", "name")
_RANK = {k: i for i, k in enumerate(KINDS)}
_WORD = re.compile(r"\w+", re.UNICODE)
_SQL_LINES = ("SELECT rma_id, line_no, sku, gtin, description, category, qty, received_qty, unit_price, currency, "
              "tracking_number FROM rma_line WHERE rma_id IN ({}) ORDER BY rma_id, line_no")


@dataclass(frozen=True)
class Line:
    line_no: int
    sku: str
    gtin: str | None
    description: str
    category: str
    qty: int
    received_qty: int
    unit_price: str
    currency: str


@dataclass(frozen=True)
class Match:
    rma_id: str
    order_id: str
    status: str
    created_at: datetime
    expires_at: datetime
    customer_name: str | None
    customer_email: str | None
    matched_on: tuple[str, ...]  # the kinds that matched, best first
    lines: tuple[Line, ...] = ()
    tracking: tuple[str, ...] = ()

    @property
    def open_items(self) -> int:
        return sum(max(0, l.qty - l.received_qty) for l in self.lines)

    @property
    def items(self) -> int:
        return sum(l.qty for l in self.lines)

    def expired(self, now: datetime) -> bool:
        return as_utc(self.expires_at) < now

    def as_json(self) -> dict[str, Any]:
        return {
            "rma_id": self.rma_id, "order_id": self.order_id, "status": self.status,
            "created_at": as_utc(self.created_at).isoformat(), "expires_at": as_utc(self.expires_at).isoformat(),
            "customer_name": self.customer_name, "customer_email": self.customer_email,
            "matched_on": list(self.matched_on), "items": self.items, "open_items": self.open_items,
            "tracking_numbers": list(self.tracking),
            "lines": [{"line_no": l.line_no, "sku": l.sku, "gtin": l.gtin, "description": l.description,
                       "category": l.category, "qty": l.qty, "received_qty": l.received_qty,
                       "unit_price": l.unit_price, "currency": l.currency} for l in self.lines],
        }


@dataclass
class _Found:
    kinds: dict[str, list[str]] = field(default_factory=dict)  # rma_id -> kinds
    order: list[str] = field(default_factory=list)  # first seen order, within a kind

    def add(self, kind: str, ids: list[str]) -> None:
        for rid in ids:
            if rid not in self.kinds:
                self.kinds[rid] = []
                self.order.append(rid)
            if kind not in self.kinds[rid]:
                self.kinds[rid].append(kind)


def _gtins(text: str) -> list[str]:
    """A scanned or typed GTIN as the manifest may hold it (GTIN-12/13/14 with or without zeros)."""
    if not (text.isascii() and text.isdigit() and 8 <= len(text) <= 14):
        return []
    core = text.lstrip("0")
    return sorted({text, *(core.zfill(n) for n in (8, 12, 13, 14) if len(core) <= n)})


def _fts_query(text: str) -> str | None:
    words = [w for w in _WORD.findall(text) if len(w) >= 2][:6]
    if not words:
        return None
    return " ".join(f'"{w}"*' for w in words)  # every word, each as a prefix


def _time(value: str) -> datetime:
    return datetime.fromisoformat(value).replace(tzinfo=UTC)  # stored as naive UTC text


def search(store: Store, text: str, *, limit: int = 20, open_only: bool = True,
           now: datetime | None = None) -> list[Match]:
    """The RMAs matching `text`, best first (match kind, then still in their window, then newest).
    `open_only`: open RMAs with an item still to receive (what a clerk can receive against)."""
    text = " ".join(text.split())[:MAX_TEXT]
    if not text:
        return []
    now = now or utcnow()
    conn_limit = max(limit * 5, 50)  # candidates per kind, before the open filter
    found = _Found()
    with store.read() as session:
        conn = session.connection().connection.driver_connection
        q = conn.execute
        if not text.count(" "):
            found.add("rma", [r for (r,) in q("SELECT rma_id FROM rma WHERE rma_id = ?", (text,))])
            key = normalise(text).number
            found.add("tracking", [r for (r,) in q("SELECT DISTINCT rma_id FROM rma_line WHERE tracking_number = ? "
                                                   "LIMIT ?", (key, conn_limit))])
            found.add("order", [r for (r,) in q("SELECT rma_id FROM rma WHERE order_id = ? LIMIT ?", (text, conn_limit))])
            if "@" in text:
                found.add("email", [r for (r,) in q("SELECT rma_id FROM rma WHERE customer_email = ? COLLATE NOCASE "
                                                    "LIMIT ?", (text, conn_limit))])
            if gtins := _gtins(text):
                marks = ",".join("?" * len(gtins))
                found.add("gtin", [r for (r,) in q(f"SELECT DISTINCT rma_id FROM rma_line WHERE gtin IN ({marks}) "
                                                   "AND received_qty < qty LIMIT ?", (*gtins, conn_limit))])
            found.add("sku", [r for (r,) in q("SELECT DISTINCT rma_id FROM rma_line WHERE sku = ? AND received_qty < qty "
                                              "LIMIT ?", (text, conn_limit))])
        if "@" not in text and (fts := _fts_query(text)):
            found.add("name", [r for (r,) in q(
                "SELECT r.rma_id FROM rma_fts JOIN rma r ON r.rowid = rma_fts.rowid WHERE rma_fts MATCH ? "
                "LIMIT ?", (fts, conn_limit))])
        if not found.kinds:
            return []
        ids = found.order
        marks = ",".join("?" * len(ids))
        heads = {r[0]: r for r in q(f"SELECT rma_id, order_id, status, created_at, expires_at, customer_name, "
                                    f"customer_email FROM rma WHERE rma_id IN ({marks})", ids)}
        lines: dict[str, list[Any]] = {}
        for row in q(_SQL_LINES.format(marks), ids):
            lines.setdefault(row[0], []).append(row)
    out = []
    for rid in ids:
        head = heads.get(rid)
        if head is None:
            continue
        rows = lines.get(rid, [])
        match = Match(
            rma_id=rid, order_id=head[1], status=head[2], created_at=_time(head[3]),
            expires_at=_time(head[4]), customer_name=head[5], customer_email=head[6],
            matched_on=tuple(sorted(found.kinds[rid], key=_RANK.__getitem__)),
            lines=tuple(Line(r[1], r[2], r[3], r[4], r[5], r[6], r[7], str(r[8]), r[9]) for r in rows),
            tracking=tuple(dict.fromkeys(r[10] for r in rows if r[10])),
        )
        if open_only and (match.status != "open" or match.open_items == 0):
            continue
        out.append(match)
    out.sort(key=lambda m: (_RANK[m.matched_on[0]], m.expired(now), -as_utc(m.created_at).timestamp()))
    return out[:limit]
