"""Hot rows as plain values: read with one SELECT, written back with one UPDATE of what changed.

On the grader's fast path (bench/bench_flow.py: receive → CMD:ALLPASS → value scan → Enter) the
ORM's unit of work — identity map, attribute history, the flush — cost several times the SQL it
sends. The inspection and the disposition hold their unit and inspection as a `Row` instead:
attribute access like the model's, values converted by the columns' own types (UTCDateTime,
DecimalText, JSONText), so a row is stored byte for byte as the ORM stores it (a test compares
them, tests/inspection/test_one_transaction.py). Writes go out at once, in program order, in the
caller's transaction: a `Row` is never pending, and `session.add` must never see one.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any, Union

from sqlalchemy import DateTime
from sqlalchemy.exc import DBAPIError
from sqlalchemy.sql.cache_key import NO_CACHE
from sqlmodel import Session


class Tx:
    """A write transaction on one of the store's SQLite connections (pooled, or an `OwnConnection`),
    with no Session around it (`Store.plain_write`, the parcel scan's path): the statements go straight to sqlite3. It
    holds no objects, so there is never anything to flush. Everything in this module, and the
    helpers built on it (events.record, events.bump, labels.queue.queue_job, triage's counts),
    take either a Tx or a Session: one way to format and write each row, whichever carries it."""

    __slots__ = ("dbapi", "dialect")

    def __init__(self, dbapi: sqlite3.Connection, dialect: Any) -> None:
        self.dbapi, self.dialect = dbapi, dialect


Db = Union[Session, Tx]


class OwnConnection:
    """One SQLite connection of `engine`'s kept out of its pool for one thread's plain writes (the
    event loop's inline store calls, tui/inline_store.py), with a busy timeout of its own.

    Why: through the pool each transaction paid a checkout and a return (their listeners, the
    reset on return) and, as the print worker's thread checks the same connections out with the
    store's 5 s, a busy timeout changed to the inline 0 and back: ~0.17 ms of a parcel scan.
    It is made as the pool makes its connections (checked out once and detached: the engine's
    `connect` listeners ran on it, the store's pragmas among them), then given `busy_ms`. It is
    made again after a rollback failed (a connection in an unknown state is not used again) and
    after the engine's pool was replaced (`engine.dispose()`): what the pool's connections get,
    it gets. Only one thread uses it at a time; `close` may come from another (the store's)."""

    __slots__ = ("engine", "dialect", "busy_ms", "_raw", "_pool")

    def __init__(self, engine: Any, busy_ms: int) -> None:
        self.engine, self.dialect, self.busy_ms = engine, engine.dialect, busy_ms
        self._raw: sqlite3.Connection | None = None
        self._pool: Any = None

    def get(self) -> sqlite3.Connection:
        raw = self._raw
        if raw is None or self._pool is not self.engine.pool:
            self.close()
            pool = self.engine.pool
            pooled = self.engine.raw_connection()
            raw = pooled.driver_connection
            pooled.detach()  # the pool makes another in its place; this one is ours to close
            raw.execute(f"PRAGMA busy_timeout={int(self.busy_ms)}")
            self._raw, self._pool = raw, pool
        return raw

    def close(self) -> None:
        raw, self._raw = self._raw, None
        if raw is not None:
            try:
                raw.close()
            except sqlite3.Error:  # noqa: PERF203 - a connection already broken: nothing to keep
                pass


@contextmanager
def transaction(source: Any, begin: str) -> Iterator[Tx]:
    """`begin` … COMMIT on `source`: a connection checked out of an engine's pool, or an
    `OwnConnection`; rolled back on any error.

    What `Store.write` does, without the Session: the same connections (made by the same pool and
    its `connect` listeners: the pragmas; checked out with InlineStore's busy timeout, or with the
    own connection's), the same BEGIN, a commit that syncs the WAL (synchronous=FULL), the same
    errors (`wrapped`). A connection whose rollback fails is never used again: a pooled one is
    invalidated (the pool drops it), an own one closed and made again on its next use."""
    if type(source) is OwnConnection:
        pooled, raw = None, source.get()
    else:
        pooled = source.raw_connection()
        raw = pooled.driver_connection
    d = source.dialect
    try:
        try:
            raw.execute(begin)
        except sqlite3.Error as exc:
            raise wrapped(exc, begin, d) from exc
        try:
            yield Tx(raw, d)
            try:
                raw.commit()
            except sqlite3.Error as exc:
                raise wrapped(exc, "COMMIT", d) from exc
        except BaseException:
            try:
                raw.rollback()
            except Exception:  # noqa: BLE001 - the first error is the one to report
                if pooled is not None:
                    pooled.invalidate()
                else:
                    source.close()
            raise
    finally:
        if pooled is not None:
            pooled.close()


def wrapped(exc: sqlite3.Error, sql: str, dialect: Any) -> DBAPIError:
    """`exc` as SQLAlchemy raises a DBAPI error (a DBAPIError subclass, values hidden: customer
    data): callers, InlineStore's busy test and store_failures.explain see the same whichever
    path ran the statement. `raise wrapped(exc, ...) from exc`."""
    return DBAPIError.instance(sql, None, exc, sqlite3.Error, hide_parameters=True, dialect=dialect)


def execute(db: Db, sql: str, params: Sequence[Any] = ()) -> sqlite3.Cursor:
    """One statement on the transaction's own SQLite connection, past SQLAlchemy's per-statement
    work (a result's metadata built for every statement, events): on the fast path that cost more
    than SQLite itself. Errors come wrapped as SQLAlchemy wraps them (`wrapped`)."""
    if type(db) is Tx:
        raw, dialect = db.dbapi, db.dialect
    else:
        conn = db.connection()  # type: ignore[union-attr]  # begins the transaction (BEGIN IMMEDIATE) if it has not begun
        raw, dialect = conn.connection.dbapi_connection, conn.dialect
    try:
        return raw.execute(sql, params)  # type: ignore[union-attr]
    except sqlite3.Error as exc:
        raise wrapped(exc, sql, dialect) from exc


def first(db: Db, sql: str, params: Sequence[Any] = ()) -> Any:
    """The first row of a statement (None: none), run to its end: a write with RETURNING must not
    stay in progress until the commit."""
    found = execute(db, sql, params).fetchall()
    return found[0] if found else None


def dialect(db: Db) -> Any:
    return db.dialect if type(db) is Tx else db.get_bind().dialect  # type: ignore[union-attr]


def flush(db: Db) -> None:
    """What a Session holds back (objects added, changed) written now; a Tx holds nothing."""
    if type(db) is not Tx:
        db.flush()  # type: ignore[union-attr]


_remembered: dict[tuple[str, Any], Any] = {}  # (dialect, the datetime type's cache key) → its bind


def bind_processor(column: Any, dialect: Any) -> Any:
    """The column type's own bind processor (None: values go as they are). A datetime type's
    remembers the last value it formatted, one memory for all the columns of that type: a receipt
    stores the same `now` three times (the unit's received_at and updated_at, its event's `at`),
    each a ~3 µs format through two processors. Equal datetimes are the same instant (an aware one
    is never equal to a naive one): the same text. Every processor must send None as NULL (rows
    skips it for None values, as `decode` does)."""
    proc = column.type._cached_bind_processor(dialect)
    if proc is None:
        return None
    if proc(None) is not None:
        raise TypeError(f"{column}: rows sends None as NULL, this type binds it as {proc(None)!r}")
    if not isinstance(getattr(column.type, "impl_instance", column.type), DateTime):  # (UTCDateTime's impl)
        return proc
    key = (dialect.name, column.type._static_cache_key)  # the type and its arguments
    if key[1] is NO_CACHE:  # a type that cannot say what it is: a memory of its own
        return _remembering(proc)
    found = _remembered.get(key)
    if found is None:
        found = _remembered[key] = _remembering(proc)
    return found


def _remembering(proc: Any) -> Any:
    last: tuple[Any, Any] = (None, None)

    def remembered(value: Any) -> Any:
        nonlocal last
        seen, text = last  # one read: another thread may replace it meanwhile, never half of it
        if value is None or value != seen:
            text = proc(value)
            last = (value, text)
        return text

    return remembered


class _Table:
    """A model's table as plain SQL, with its columns' bind and result processors (one dialect)."""

    def __init__(self, model: Any, dialect: Any) -> None:
        table = model.__table__
        self.model, self.name = model, table.name
        self.columns = [c.name for c in table.columns]
        self.keys = [c.name for c in table.primary_key.columns]
        auto = table.autoincrement_column
        self.key = auto.name if auto is not None else self.keys[0]  # the one an INSERT returns
        where = " AND ".join(f"{k} = ?" for k in self.keys)
        self.autoincrement = auto is not None
        self.bind = {c.name: bind_processor(c, dialect) for c in table.columns}
        self.result = [c.type._cached_result_processor(dialect, None) for c in table.columns]
        self.select = f"SELECT {', '.join(self.columns)} FROM {self.name} WHERE {where}"
        self.where = where
        self.updates: dict[tuple[str, ...], str] = {}
        self.inserts: dict[tuple[int, ...], str] = {}  # by the columns stored as NULL
        # Per column, for an INSERT: what the model gives a column not set (a factory such as
        # utcnow, else a default; a required one: None) and the bind processor.
        fields = model.model_fields
        self.plan = [(n, None if fields[n].is_required() else fields[n].default_factory,
                      None if fields[n].is_required() or fields[n].default_factory else fields[n].default,
                      self.bind[n]) for n in self.columns]

    def insert_sql(self, nulls: tuple[int, ...]) -> str:
        """INSERT of every column, NULL written in the statement for those in `nulls` (positions):
        sqlite3 adapts a bound None the slow way (~0.35 µs each; a new unit has ~15). An
        autoincrement key that is NULL is left out, for SQLite to give, and returned."""
        auto = self.autoincrement and self.columns.index(self.key) in nulls
        cols = [(i, n) for i, n in enumerate(self.columns) if not (auto and n == self.key)]
        values = ", ".join("NULL" if i in nulls else "?" for i, _ in cols)
        return (f"INSERT INTO {self.name} ({', '.join(n for _, n in cols)}) VALUES ({values})"
                + (f" RETURNING {self.key}" if auto else ""))

    def decode(self, raw: Sequence[Any]) -> dict[str, Any]:
        return {name: (proc(v) if proc is not None and v is not None else v)
                for name, proc, v in zip(self.columns, self.result, raw)}

    def encode(self, name: str, value: Any) -> Any:
        proc = self.bind[name]
        return proc(value) if proc is not None and value is not None else value


_tables: dict[tuple[Any, str], _Table] = {}


def table(db: Db, model: Any) -> _Table:
    d = dialect(db)
    found = _tables.get((model, d.name))
    if found is None:
        found = _tables[(model, d.name)] = _Table(model, d)
    return found


class Row:
    """One row of `model` as plain values; set attributes, then `save` writes the changed ones.

    The values are the instance's `__dict__`: a column is read as a plain attribute. (With the
    values behind `__getattr__`, every read first failed the normal lookup, and CPython formats
    an AttributeError message for each before calling it: ~40 reads a receipt.)"""

    __slots__ = ("_table", "_changed", "__dict__")

    def __init__(self, tbl: _Table, values: dict[str, Any]) -> None:
        object.__setattr__(self, "_table", tbl)
        object.__setattr__(self, "__dict__", values)
        object.__setattr__(self, "_changed", set())

    def __getattr__(self, name: str) -> Any:  # only for a name that is no column
        raise AttributeError(f"{self._table.name} has no column {name!r}")

    def __setattr__(self, name: str, value: Any) -> None:
        values = self.__dict__
        if name not in values:
            raise AttributeError(f"{self._table.name} has no column {name!r}")
        values[name] = value
        self._changed.add(name)

    def __repr__(self) -> str:
        return f"Row({self._table.name}, {self.__dict__!r})"


def columns(model: Any, alias: str) -> str:
    """The model's columns for a SELECT that reads it among others (then `from_raw`)."""
    return ", ".join(f"{alias}.{c.name}" for c in model.__table__.columns)


def width(model: Any) -> int:
    return len(model.__table__.columns)


def from_raw(db: Db, model: Any, raw: Sequence[Any]) -> Row:
    """A Row from the model's columns as SQLite returned them (in `columns` order)."""
    tbl = table(db, model)
    return Row(tbl, tbl.decode(raw))


def decode(db: Db, model: Any, column: str, value: Any) -> Any:
    """One column's value as SQLite returned it, through the column's type."""
    tbl = table(db, model)
    proc = tbl.result[tbl.columns.index(column)]
    return proc(value) if proc is not None and value is not None else value


def get(db: Db, model: Any, key: Any) -> Row | None:
    """The row with primary key `key` (a tuple for a composite key), or None (what session.get
    gives, as a Row)."""
    tbl = table(db, model)
    flush(db)  # rows the ORM still holds back (what session.get would see)
    raw = first(db, tbl.select, key if isinstance(key, tuple) else (key,))
    return Row(tbl, tbl.decode(raw)) if raw is not None else None


def insert(db: Db, model: Any, **values: Any) -> Row:
    """INSERT a new row with the model's defaults for what is not given (as constructing the model
    and flushing it does); an autoincrement key comes back in the Row."""
    tbl = table(db, model)
    row: dict[str, Any] = {}
    params = []
    nulls = []
    for i, (name, factory, default, bind) in enumerate(tbl.plan):  # one pass: the values, their binds
        value = row[name] = values[name] if name in values else factory() if factory is not None else default
        if value is None:
            nulls.append(i)
        else:
            params.append(bind(value) if bind is not None else value)
    key = tuple(nulls)
    sql = tbl.inserts.get(key)
    if sql is None:
        sql = tbl.inserts[key] = tbl.insert_sql(key)
    if tbl.autoincrement and row[tbl.key] is None:
        row[tbl.key] = first(db, sql, params)[0]
    else:
        execute(db, sql, params)
    return Row(tbl, row)


def save(db: Db, row: Row) -> None:
    """UPDATE the columns set since the row was read (or last saved); nothing when none was."""
    changed = row._changed
    if not changed:
        return
    tbl = row._table
    names = tuple(n for n in tbl.columns if n in changed)
    sql = tbl.updates.get(names)
    if sql is None:
        sql = tbl.updates[names] = (f"UPDATE {tbl.name} SET {', '.join(f'{n}=?' for n in names)} "
                                    f"WHERE {tbl.where}")
    values = row.__dict__
    execute(db, sql, (*(tbl.encode(n, values[n]) for n in names), *(tbl.encode(k, values[k]) for k in tbl.keys)))
    changed.clear()
