"""HQ tables and database access: SQLite file by default, PostgreSQL (psycopg 3) by URL.

The HQ tables live in their own SQLModel registry (`hq_metadata`), so they never land in a
bench file and the bench's tables never land at HQ. HQ keeps no state in its processes: every
answer comes from here, so several workers may serve one PostgreSQL database.

Tables (KPIs and reports read `hq_event`, joined to `hq_station` for the site):
- `hq_station`  one row per bench: its station token's hash, site, `acked_seq` (highest seq
                stored without gaps from 1), revoked flag.
- `hq_event`    every bench event once, `(station_id, seq)` primary key; `at` is the bench's
                claim, `received_at` HQ's own clock. A unit's state is folded from its events
                on demand (sync/hq/units.py), so there is no per-unit table to keep in step.
- `hq_rma`, `hq_rma_line`  the manifest; `change_id` orders changes for the manifest cursor
                (each line carries its RMA's).
- `hq_config`   config bundle versions HQ has served (audit).
- `hq_reader`   one row per HQ reader (head office's read access): token hash, revoked flag.
- `hq_conflict` events sent with a seq HQ already holds but with different content, open until an
                operator resolves them (sync/hq/conflicts.py); each station's open ones are named
                in every answer to its pushes.
- `hq_conflict_resolved`  resolved conflicts: both versions, which one HQ kept, who, when, why.
- the console's tables (sessions, policy candidates and publications, audit, KPI weeks):
                sync/hq/console/models.py, in the same registry.
- `hq_photo`    photos uploaded by benches, one row per (sha256, station, unit); the bytes are in
                HQ's photo folder (`hq serve --photos-dir`), named by their SHA-256.

The schema is versioned (sync/hq/schema.py, sync/hq/migrations): a new database is created at
the newest revision when it is opened; an older one is upgraded only by `dockstation hq migrate`
(or `hq serve --migrate`) and refused until then. A change to these tables is a new revision
(docs/hq.md, "Migrations").
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from sqlalchemy import JSON, BigInteger, Connection, Engine, Index, create_engine, event, func, select, text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.engine import make_url
from sqlalchemy.orm import registry
from sqlmodel import Field, Session, SQLModel

from dockstation.types import DecimalText, UTCDateTime, utcnow

DEFAULT_DB = "sqlite:///hq.sqlite3"
ENV_DB = "DOCKSTATION_HQ_DB"
JSONType = JSON().with_variant(JSONB(), "postgresql")
# Fixed keys for pg_advisory_xact_lock: schema creation, and manifest writers (change_id order).
LOCK_SCHEMA = 0x445354_01
LOCK_MANIFEST = 0x445354_02
RECEIPT = text("kind = 'unit_received'")

hq_registry = registry()


class HQModel(SQLModel, registry=hq_registry):
    pass


hq_metadata = hq_registry.metadata


def _ts(**kw: Any) -> Any:
    return Field(sa_type=UTCDateTime, **kw)


class HqStation(HQModel, table=True):
    __tablename__ = "hq_station"
    station_id: str = Field(primary_key=True, max_length=16)
    token_hash: str = Field(index=True, unique=True, max_length=64)
    site: str = ""
    created_at: datetime = _ts()
    revoked: bool = False
    acked_seq: int = Field(default=0, sa_type=BigInteger)
    last_push_at: datetime | None = _ts(default=None)
    # The bench's clock minus HQ's, as the bench measured it on its last exchange and reported on
    # a push (X-Dockstation-Clock-Skew), and when HQ heard it.
    clock_skew_s: float | None = None
    clock_reported_at: datetime | None = _ts(default=None)


class HqEvent(HQModel, table=True):
    __tablename__ = "hq_event"
    __table_args__ = (Index("ix_hq_event_kind_at", "kind", "at"), Index("ix_hq_event_lpn", "lpn"),
                      Index("ix_hq_event_at", "at"),
                      # The console finds an RMA's units by their receipts: only those are indexed,
                      # so ingest pays for one event in ten or so.
                      Index("ix_hq_event_rma_received", "rma_id", postgresql_where=RECEIPT, sqlite_where=RECEIPT))
    station_id: str = Field(primary_key=True, max_length=16)
    seq: int = Field(primary_key=True, sa_type=BigInteger)
    kind: str = Field(max_length=64)
    at: datetime = _ts()
    operator: str | None = None
    lpn: str | None = None
    rma_id: str | None = None
    payload: dict[str, Any] = Field(default_factory=dict, sa_type=JSONType)
    received_at: datetime = _ts()


class HqConflict(HQModel, table=True):
    __tablename__ = "hq_conflict"
    # Every push reads its station's open conflicts.
    __table_args__ = (Index("ix_hq_conflict_station_seq", "station_id", "seq"),)
    id: int | None = Field(default=None, primary_key=True)
    station_id: str
    seq: int = Field(sa_type=BigInteger)
    received_at: datetime = _ts()
    event: dict[str, Any] = Field(default_factory=dict, sa_type=JSONType)  # what the bench sent


class HqConflictResolved(HQModel, table=True):
    """A conflict an operator resolved (`hq resolve-conflict`), or an event dropped (`hq drop-events`)."""

    __tablename__ = "hq_conflict_resolved"
    id: int | None = Field(default=None, primary_key=True)
    conflict_id: int | None = Field(default=None, sa_type=BigInteger)  # hq_conflict's id; none for a dropped event
    station_id: str
    seq: int = Field(sa_type=BigInteger)
    received_at: datetime = _ts()  # when the differing (or dropped) event was sent
    sent: dict[str, Any] = Field(default_factory=dict, sa_type=JSONType)  # what was sent
    stored: dict[str, Any] = Field(default_factory=dict, sa_type=JSONType)  # what HQ held then
    # "stored" (the sent event discarded) | "sent" (it replaced the stored one) | "dropped" (a
    # stored event past the bench's own history removed, `hq drop-events`)
    kept: str
    resolved_at: datetime = _ts()
    resolved_by: str = ""
    note: str = ""


class HqRma(HQModel, table=True):
    __tablename__ = "hq_rma"
    rma_id: str = Field(primary_key=True)
    order_id: str = Field(default="", index=True)  # the console looks returns up by order
    created_at: datetime = _ts()
    expires_at: datetime = _ts()
    status: str = "open"
    updated_at: datetime = _ts()
    change_id: int = Field(sa_type=BigInteger, index=True, unique=True)
    # The manifest's optional customer columns (revision 0008): served to benches for their search
    # only; HQ never logs them.
    customer_name: str | None = None
    customer_email: str | None = None


class HqRmaLine(HQModel, table=True):
    __tablename__ = "hq_rma_line"
    rma_id: str = Field(primary_key=True, foreign_key="hq_rma.rma_id")
    line_no: int = Field(primary_key=True)
    sku: str = ""
    gtin: str | None = None
    description: str = ""
    category: str = ""
    qty: int = 1
    unit_price: Decimal = Field(default=Decimal("0"), sa_type=DecimalText)
    currency: str = "USD"
    expected_serial: str | None = None
    reason_code: str = ""
    carrier: str | None = None
    tracking_number: str | None = None
    # The RMA's change_id, kept on its lines, so a manifest page reads its lines as one index
    # range. Joined by rma_id instead, PostgreSQL chose to scan every line for every page.
    change_id: int = Field(default=0, sa_type=BigInteger, index=True)


class HqPhoto(HQModel, table=True):
    """A photo HQ holds (issue 18, sync/hq/photos.py): one row per (photo, station, unit) that an
    upload proved — the bytes hash to `sha256` and a `photo_taken` event of that station about
    that unit names it. The bytes themselves are in HQ's photo store (a folder by default), once
    per sha256 whoever uploaded them."""

    __tablename__ = "hq_photo"
    __table_args__ = (Index("ix_hq_photo_lpn", "lpn"),)
    sha256: str = Field(primary_key=True, max_length=64)
    station_id: str = Field(primary_key=True, max_length=16)
    lpn: str = Field(primary_key=True, max_length=32)
    bytes: int = Field(default=0, sa_type=BigInteger)
    stored_at: datetime = _ts()


class HqConfig(HQModel, table=True):
    __tablename__ = "hq_config"
    version: str = Field(primary_key=True)
    bundle: dict[str, Any] = Field(default_factory=dict, sa_type=JSONType)
    created_at: datetime = _ts()


# -- engine ---------------------------------------------------------------------------------
def _sqlite_engine(url: str, begin: str) -> Engine:
    engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30},
                           pool_size=8, max_overflow=16, hide_parameters=True)

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.isolation_level = None  # we emit BEGIN ourselves (FIELD-NOTES)
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA busy_timeout=30000")
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA synchronous=FULL")  # an answered push is on disk
        cur.execute("PRAGMA foreign_keys=ON")
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        conn.exec_driver_sql(begin)

    return engine


class HQDatabase:
    """The HQ database at `url`. Opening it checks its schema (sync/hq/schema.py): an empty
    database is created at the newest revision; an older one is upgraded only with `migrate`,
    else refused (SchemaOutOfDate, whose message says what to run)."""

    def __init__(self, url: str | None = None, *, migrate: bool = False, check_schema: bool = True) -> None:
        self.url = normalise_url(url or DEFAULT_DB)
        self.dialect = make_url(self.url).get_backend_name()
        if self.dialect == "sqlite":
            path = make_url(self.url).database
            if path and path != ":memory:":
                Path(path).parent.mkdir(parents=True, exist_ok=True)
            self.engine = _sqlite_engine(self.url, "BEGIN IMMEDIATE")
            self.read_engine = _sqlite_engine(self.url, "BEGIN")
        elif self.dialect == "postgresql":
            # No server-side prepared statements: a generic plan for `lpn = ANY($1)` made while a
            # table is small stays a sequential scan as it grows (and PgBouncer in transaction
            # mode cannot keep them anyway). Planning these short statements is cheap.
            self.engine = create_engine(self.url, pool_size=10, max_overflow=40, pool_pre_ping=True,
                                        connect_args={"prepare_threshold": None}, hide_parameters=True)
            self.read_engine = self.engine
        else:  # (hide_parameters: an error message never carries a token hash or a customer's data to a log)
            raise ValueError(f"unsupported HQ database {self.dialect!r}: use sqlite:/// or postgresql+psycopg://")
        from sync.hq.schema import ensure

        if not check_schema:  # `hq migrate --check` reads the state itself
            return
        try:  # (the schema's state before and after: `hq migrate` reports both)
            self.schema_before, self.schema_after = ensure(self, migrate=migrate)
        except Exception:
            self.dispose()
            raise

    def advisory_lock(self, conn: Connection, key: int) -> None:
        """Serialise a kind of writer until commit. SQLite needs none: BEGIN IMMEDIATE locks the file."""
        if self.dialect == "postgresql":
            conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": key})

    @contextmanager
    def write(self) -> Iterator[Connection]:
        with self.engine.begin() as conn:
            yield conn

    @contextmanager
    def read(self) -> Iterator[Connection]:
        with self.read_engine.begin() as conn:
            yield conn

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A read-mostly ORM session (KPI queries); commits on exit."""
        with Session(self.read_engine, expire_on_commit=False) as session, session.begin():
            yield session

    def describe(self) -> str:
        return make_url(self.url).render_as_string(hide_password=True)

    def dispose(self) -> None:
        self.engine.dispose()
        if self.read_engine is not self.engine:
            self.read_engine.dispose()


def normalise_url(url: str) -> str:
    """`postgresql://` means psycopg 3 here; a bare path means a SQLite file."""
    if url.startswith(("postgresql://", "postgres://")):
        return "postgresql+psycopg://" + url.split("://", 1)[1]
    if "://" not in url:
        return f"sqlite:///{Path(url).expanduser()}"
    return url


# -- stations, readers and their tokens --------------------------------------------------------
# Two kinds of bearer token, both random (32 bytes, url-safe) and stored only as SHA-256:
# - a station token (hq_station) pushes that station's events and pulls manifest and config;
# - a reader token (hq_reader) reads head-office data across stations (weekly KPIs, any unit).
# Issuing, rotating and revoking go through `_set_token` for both kinds; every request looks the
# token up in the database (`token_owner`, and `hq_events.lock_station` on the push path), so a
# rotated or revoked token stops working at once, on every HQ worker.
def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "surrogateescape")).hexdigest()


class StationExists(Exception):
    pass


class ReaderExists(StationExists):
    pass


class HqReader(HQModel, table=True):
    """An HQ reader: head office's read access (reports, BI, support tools, the console), not a bench."""

    __tablename__ = "hq_reader"
    name: str = Field(primary_key=True, max_length=64)
    token_hash: str = Field(index=True, unique=True, max_length=64)
    created_at: datetime = _ts()
    revoked: bool = False
    # What the reader may do beyond reading, space-separated (READER_SCOPES): `admin` revokes and
    # rotates station tokens and publishes policy from the console; `refunds` reads the refund
    # feed (sync/hq/refunds).
    scopes: str = Field(default="", sa_column_kwargs={"server_default": ""})


def reader_scopes(conn: Connection, name: str) -> frozenset[str]:
    row = conn.execute(select(HqReader.__table__.c.scopes).where(HqReader.__table__.c.name == name)).first()
    return frozenset((row[0] or "").split()) if row is not None else frozenset()


@dataclass(frozen=True)
class TokenOwner:
    kind: str  # "station" | "reader"
    name: str  # the station id, or the reader's name
    revoked: bool


_KINDS: dict[str, tuple[Any, str]] = {"station": (HqStation.__table__, "station_id"),
                                      "reader": (HqReader.__table__, "name")}


def _set_token(db: HQDatabase, kind: str, name: str, *, issue: bool, rotate: bool = False,
               values: dict[str, Any] | None = None) -> str | None:
    """The one place a token changes: `issue` registers `name` (or with `rotate`, replaces its
    token and lifts a revocation) and returns the new token; `issue=False` revokes. None: no such
    `name` to revoke."""
    table, key = _KINDS[kind]
    token = secrets.token_urlsafe(32) if issue else None
    with db.write() as conn:
        row = conn.execute(select(table.c[key], table.c.revoked).where(table.c[key] == name)).first()
        if not issue:
            if row is None:
                return None
            conn.execute(table.update().where(table.c[key] == name).values(revoked=True))
            return ""
        assert token is not None
        if row is not None and not rotate:
            state = "is revoked (--rotate gives it a new token and lets it in again)" if row.revoked else \
                "already has a token (use --rotate for a new one)"
            raise (StationExists if kind == "station" else ReaderExists)(f"{kind} {name} {state}")
        if row is None:
            conn.execute(table.insert().values(**{key: name}, token_hash=hash_token(token), created_at=utcnow(),
                                               revoked=False, **(values or {})))
        else:
            conn.execute(table.update().where(table.c[key] == name)
                         .values(token_hash=hash_token(token), revoked=False,
                                 **{k: v for k, v in (values or {}).items() if v or k == "scopes"}))
    return token


def add_station(db: HQDatabase, station_id: str, *, site: str = "", rotate: bool = False) -> str:
    """Register a station (or, `rotate`, give it a new token: the old one stops working and a
    revoked station is let in again); returns the token, which is stored hashed only."""
    token = _set_token(db, "station", station_id, issue=True, rotate=rotate,
                       values={"site": site, **({} if rotate else {"acked_seq": 0})})
    assert token
    return token


READER_SCOPES = {"admin": "revokes and rotates station tokens and publishes policy from the console",
                 "refunds": "reads the refund feed, GET /api/v1/refunds"}


def add_reader(db: HQDatabase, name: str, *, rotate: bool = False, scopes: tuple[str, ...] | None = None) -> str:
    """Register an HQ reader (or give it a new token); returns the token, stored hashed only.
    `scopes` (READER_SCOPES) replaces the reader's scopes; None keeps them on a rotation."""
    unknown = set(scopes or ()) - set(READER_SCOPES)
    if unknown:
        raise ValueError(f"unknown reader scope {sorted(unknown)[0]!r}: one of {', '.join(READER_SCOPES)}")
    values = {} if scopes is None else {"scopes": " ".join(sorted(set(scopes)))}
    token = _set_token(db, "reader", name, issue=True, rotate=rotate, values=values)
    assert token
    return token


def revoke_station(db: HQDatabase, station_id: str) -> bool:
    """Shut a station's token out at once (401); its events stay. False: no such station."""
    return _set_token(db, "station", station_id, issue=False) is not None


def revoke_reader(db: HQDatabase, name: str) -> bool:
    return _set_token(db, "reader", name, issue=False) is not None


def token_owner(conn: Connection, token: str) -> TokenOwner | None:
    """Whose bearer token this is (a station or a reader, revoked or not); None if nobody's."""
    digest = hash_token(token)
    for kind, (table, key) in _KINDS.items():
        row = conn.execute(select(table.c[key], table.c.token_hash, table.c.revoked)
                           .where(table.c.token_hash == digest)).first()
        if row is not None and hmac.compare_digest(row.token_hash, digest):
            return TokenOwner(kind, str(row[0]), bool(row.revoked))
    return None


def station_for_token(conn: Connection, token: str) -> str | None:
    """The station a bearer token belongs to, or None (unknown, revoked, or a reader's)."""
    owner = token_owner(conn, token)
    return owner.name if owner is not None and owner.kind == "station" and not owner.revoked else None


def list_stations(db: HQDatabase) -> list[dict[str, Any]]:
    """Every station, for `dockstation hq list` and the console: id, site, created, revoked, acked
    seq, last push, the clock skew it last reported, and how many of its conflicts are open."""
    t, c = HqStation.__table__, HqConflict.__table__
    open_conflicts = select(func.count()).select_from(c).where(c.c.station_id == t.c.station_id).scalar_subquery()
    with db.read() as conn:
        rows = conn.execute(select(t.c.station_id, t.c.site, t.c.created_at, t.c.revoked, t.c.acked_seq,
                                   t.c.last_push_at, t.c.clock_skew_s, t.c.clock_reported_at,
                                   open_conflicts.label("open_conflicts"))
                            .order_by(t.c.station_id)).all()
    return [dict(r._mapping) for r in rows]


def list_readers(db: HQDatabase) -> list[dict[str, Any]]:
    t = HqReader.__table__
    with db.read() as conn:
        rows = conn.execute(select(t.c.name, t.c.created_at, t.c.revoked, t.c.scopes).order_by(t.c.name)).all()
    return [dict(r._mapping) for r in rows]
