"""The database connection: which URL, which engine, which guarantees, which errors.

SQLite (the default, a file in ``Settings.data_dir``) runs with ``journal_mode=WAL``,
``synchronous=FULL``, foreign keys on and a busy timeout; each new connection sets them and
reads them back, and a connection where they did not take is refused. Writes begin with
``BEGIN IMMEDIATE`` so two writers queue (up to the busy timeout) instead of deadlocking
half-way; a process's own threads queue on a lock first, so only one of them polls SQLite.

PostgreSQL comes through ``DATABASE_URL`` (Heroku's ``postgres://`` accepted) and is driven
by psycopg 3, with ``lock_timeout`` set to the same timeout so a stuck lock surfaces as
``StorageUnavailable`` rather than a hung request.

Every SQLAlchemy failure leaves here as ``StorageUnavailable`` (down, locked, unreachable:
try again) or ``StorageError`` (anything else); parameters are kept out of messages because
they can hold user ids.
"""

from __future__ import annotations

import logging
import os
import random
import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from sqlalchemy import Connection, Engine, Insert, Table, create_engine, event, exc, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import URL, make_url
from sqlalchemy.pool import ConnectionPoolEntry

from bot.config import Settings
from bot.errors import ConfigError, StorageBusy, StorageError, StorageUnavailable

log = logging.getLogger(__name__)

DB_FILENAME = "policybot.db"
DEFAULT_BUSY_TIMEOUT = 5.0
CONNECT_TIMEOUT_SECONDS = 5
_WRITE = "policybot_write"
_DURABLE = "policybot_durable"
_WAIT = "policybot_wait"

Dialect = Literal["sqlite", "postgresql"]


def resolve_url(settings: Settings) -> URL:
    """The SQLAlchemy URL for these settings.

    No ``DATABASE_URL``: an SQLite file ``data_dir/policybot.db``. ``postgres://`` and
    ``postgresql://`` (Heroku's forms) become ``postgresql+psycopg://`` for psycopg 3.
    """
    if settings.database_url is None:
        return URL.create("sqlite", database=str(settings.data_dir / DB_FILENAME))
    raw = settings.database_url.strip()
    for prefix in ("postgres://", "postgresql://"):
        if raw.startswith(prefix):
            raw = "postgresql+psycopg://" + raw[len(prefix) :]
    try:
        url = make_url(raw)
    except exc.ArgumentError:
        raise ConfigError("DATABASE_URL is not a database URL.") from None
    if url.drivername == "sqlite":
        if url.database in (None, "", ":memory:"):
            raise ConfigError("DATABASE_URL: an in-memory SQLite database cannot be shared.")
        return url
    if url.drivername == "sqlite+pysqlite":
        return url.set(drivername="sqlite")
    if url.drivername == "postgresql+psycopg":
        return url
    raise ConfigError(
        f"DATABASE_URL: unsupported database {url.drivername!r} "
        "(use postgres://, postgresql:// or sqlite:///PATH)."
    )


@dataclass(frozen=True)
class Database:
    """An engine plus the transaction shapes the stores use."""

    engine: Engine
    dialect: Dialect
    busy_timeout: float = DEFAULT_BUSY_TIMEOUT
    # SQLite has one writer at a time: this process's threads queue here, in the kernel,
    # instead of all polling the file lock (which can starve one of them past the timeout).
    _writer: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @contextmanager
    def write(self, *, durable: bool = True, wait: bool = True) -> Iterator[Connection]:
        """A transaction that may write; committed on exit, rolled back on any error.

        On SQLite it starts with ``BEGIN IMMEDIATE``: the write lock is taken up front, so
        the busy timeout applies and no reader-turned-writer can fail half-way. Not
        re-entrant: do everything a transaction needs on the connection it yields.

        ``durable=False`` is for records whose last few rows may be lost to a power cut
        (never to a crash of the process): the question log and the delivery ledger. It
        skips the disk flush on commit (SQLite ``synchronous=NORMAL`` in WAL mode,
        PostgreSQL ``synchronous_commit=off``). Acknowledgements always stay durable.

        ``wait=False`` (SQLite) raises ``StorageBusy`` at once, having written nothing, when
        another writer holds the lock, instead of waiting up to the busy timeout.
        """
        with storage_errors(), self._turn(wait), self.engine.connect() as conn:
            conn.execution_options(**{_WRITE: True, _DURABLE: durable, _WAIT: wait})
            with conn.begin():
                if not durable and self.dialect == "postgresql":
                    conn.exec_driver_sql("SET LOCAL synchronous_commit = off")
                yield conn

    @contextmanager
    def _turn(self, wait: bool = True) -> Iterator[None]:
        if self.dialect != "sqlite":
            yield
            return
        if not wait:
            if not self._writer.acquire(blocking=False):
                raise StorageBusy("Another writer holds the database; not waiting.")
        elif not self._writer.acquire(timeout=self.busy_timeout):
            raise StorageUnavailable("The database is unavailable (database is busy); try again.")
        try:
            yield
        finally:
            self._writer.release()

    @contextmanager
    def read(self) -> Iterator[Connection]:
        """A read-only transaction on one consistent snapshot (for verify and export)."""
        with storage_errors(), self.engine.connect() as conn:
            if self.dialect == "postgresql":
                conn.execution_options(isolation_level="REPEATABLE READ", postgresql_readonly=True)
            with conn.begin():
                yield conn

    def check(self) -> None:
        """Raise ``StorageUnavailable`` unless the database answers a trivial query."""
        with self.read() as conn:
            conn.execute(text("SELECT 1")).scalar_one()

    def close(self) -> None:
        """Close every pooled connection."""
        self.engine.dispose()


def open_database(url: URL, *, busy_timeout: float = DEFAULT_BUSY_TIMEOUT) -> Database:
    """Create the engine for ``url`` with PolicyBot's pragmas, timeouts and error hygiene.

    ``busy_timeout`` (seconds) is how long a write waits for a lock before giving up with
    ``StorageUnavailable``: SQLite's busy timeout, PostgreSQL's ``lock_timeout``.
    """
    if url.drivername == "sqlite":
        return _open_sqlite(url, busy_timeout)
    return _open_postgresql(url, busy_timeout)


def _open_sqlite(url: URL, busy_timeout: float) -> Database:
    if url.database and not url.database.startswith("file:"):
        path = Path(url.database)
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        # The file holds who acknowledged what: readable by its owner only. SQLite gives
        # the -wal and -shm files the database file's permissions.
        os.close(os.open(path, os.O_RDWR | os.O_CREAT, 0o600))
    engine = create_engine(url, hide_parameters=True, connect_args={"timeout": busy_timeout})
    timeout_ms = int(busy_timeout * 1000)

    @event.listens_for(engine, "connect")
    def _configure(dbapi_connection: Any, record: ConnectionPoolEntry) -> None:
        # SQLAlchemy, not the sqlite3 module, decides where transactions begin.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute(f"PRAGMA busy_timeout = {timeout_ms}")
            if cursor.execute("PRAGMA journal_mode").fetchone()[0] != "wal":
                cursor.execute("PRAGMA journal_mode = WAL")
            cursor.execute("PRAGMA synchronous = FULL")
            cursor.execute("PRAGMA foreign_keys = ON")
            found = {
                name: cursor.execute(f"PRAGMA {name}").fetchone()[0]
                for name in ("journal_mode", "synchronous", "foreign_keys", "busy_timeout")
            }
        finally:
            cursor.close()
        wanted = {
            "journal_mode": "wal",
            "synchronous": 2,
            "foreign_keys": 1,
            "busy_timeout": timeout_ms,
        }
        if found != wanted:
            dbapi_connection.close()
            raise StorageError(
                f"SQLite did not accept PolicyBot's settings: wanted {wanted}, got {found}."
            )

    @event.listens_for(engine, "begin")
    def _begin(conn: Connection) -> None:
        options = conn.get_execution_options()
        if not options.get(_WRITE, False):
            conn.exec_driver_sql("BEGIN")
            return
        # Per transaction: the pragma cannot change inside one. FULL flushes the WAL on
        # every commit; NORMAL only at checkpoints (safe against crashes, not power cuts).
        level = "FULL" if options.get(_DURABLE, True) else "NORMAL"
        patience = busy_timeout if options.get(_WAIT, True) else 0.0
        _begin_immediate(conn.connection.dbapi_connection, patience, timeout_ms, level)

    return Database(engine=engine, dialect="sqlite", busy_timeout=busy_timeout)


def _begin_immediate(
    dbapi_connection: Any, busy_timeout: float, timeout_ms: int, synchronous: str
) -> None:
    """``BEGIN IMMEDIATE``, retried every few milliseconds until the busy timeout.

    SQLite's own busy handler backs off to one try per 100 ms, so under steady traffic
    from another process a waiting writer can lose every race until it times out. Short,
    jittered retries give each waiting process a fair chance at every release. With a
    timeout of 0, one try: ``StorageBusy`` if another process holds the lock.
    """
    deadline = time.monotonic() + busy_timeout
    cursor = dbapi_connection.cursor()
    cursor.execute(f"PRAGMA synchronous = {synchronous}")
    cursor.execute("PRAGMA busy_timeout = 0")
    try:
        while True:
            try:
                cursor.execute("BEGIN IMMEDIATE")
                return
            except sqlite3.OperationalError as error:
                if "locked" in str(error) and busy_timeout <= 0:
                    raise StorageBusy("Another process holds the database; not waiting.") from None
                if "locked" not in str(error) or time.monotonic() >= deadline:
                    # Raised outside SQLAlchemy's own execution, so wrap it as it would.
                    raise exc.OperationalError("BEGIN IMMEDIATE", None, error) from error
            time.sleep(random.uniform(0.0005, 0.004))
    finally:
        cursor.execute(f"PRAGMA busy_timeout = {timeout_ms}")
        cursor.close()


def _open_postgresql(url: URL, busy_timeout: float) -> Database:
    # libpq "options" may already carry settings (tests put search_path there); keep them.
    query = dict(url.query)
    options = query.pop("options", "")
    if isinstance(options, tuple):
        options = " ".join(options)
    options = f"{options} -c lock_timeout={int(busy_timeout * 1000)}".strip()
    engine = create_engine(
        url.set(query=query),
        hide_parameters=True,
        pool_pre_ping=True,
        connect_args={"options": options, "connect_timeout": CONNECT_TIMEOUT_SECONDS},
    )
    return Database(engine=engine, dialect="postgresql", busy_timeout=busy_timeout)


def dialect_insert(dialect: str, table: Table) -> postgresql.Insert | sqlite.Insert:
    """An ``INSERT`` with this dialect's ``ON CONFLICT`` clauses (``on_conflict_do_*``)."""
    make = postgresql.insert if dialect == "postgresql" else sqlite.insert
    return make(table)


def insert_or_skip(db: Database | Connection, table: Table) -> Insert:
    """``INSERT ... ON CONFLICT DO NOTHING`` for this database: atomic across processes."""
    dialect = db.dialect if isinstance(db, Database) else db.dialect.name
    return dialect_insert(dialect, table).on_conflict_do_nothing()


@contextmanager
def storage_errors() -> Iterator[None]:
    """Translate SQLAlchemy failures into PolicyBot's storage errors, without parameters."""
    try:
        yield
    except (
        exc.OperationalError,
        exc.InterfaceError,
        exc.DisconnectionError,
        exc.TimeoutError,
    ) as error:
        reason = _first_line(error)
        if "no such table" in reason:
            raise _not_migrated() from error
        log.warning("database unavailable: %s", reason)
        raise StorageUnavailable(f"The database is unavailable ({reason}); try again.") from error
    except exc.ProgrammingError as error:
        reason = _first_line(error)
        if "does not exist" in reason and "relation" in reason:
            raise _not_migrated() from error
        raise StorageError(f"The database refused a request ({reason}).") from error
    except exc.SQLAlchemyError as error:
        raise StorageError(f"The database refused a request ({_first_line(error)}).") from error


def _not_migrated() -> StorageError:
    return StorageError("The database has no PolicyBot tables yet: run `policybot db upgrade`.")


def _first_line(error: exc.SQLAlchemyError) -> str:
    # The driver's own message, first line only: later lines (PostgreSQL's DETAIL) may quote
    # the values of a row.
    source: object = getattr(error, "orig", None) or error
    lines = str(source).strip().splitlines() or [type(source).__name__]
    return lines[0][:200]
