"""The read store: where projections keep their tables and their positions.

Projections write plain SQL that both SQLite and PostgreSQL accept, with ``?``
placeholders (turned into ``%s`` for psycopg). Amounts are stored as integers of minor
units with their currency, so sums in SQL stay exact on both databases.
"""

from __future__ import annotations

import contextlib
import re
import sqlite3
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any, Literal, Protocol

import psycopg
from eventsourcing.persistence import InterfaceError, OperationalError

from adapters.store import StoreSettings

Dialect = Literal["sqlite", "postgres"]

# Errors after which the connection is dropped and made again.
CONNECTION_ERRORS: tuple[type[Exception], ...] = (
    OperationalError,  # the event store's, as the library raises them
    InterfaceError,
    sqlite3.OperationalError,
    psycopg.OperationalError,
    psycopg.InterfaceError,
)
# PostgreSQL error classes that say the connection or the server failed, not the
# statement: connection exception, operator intervention (a shutdown), insufficient
# resources, transaction rollback (deadlock, serialization); and a lock timeout.
_TRANSIENT_CLASSES = ("08", "57", "53", "40")


def lost_connection(error: BaseException) -> bool:
    """Whether ``error`` is the connection's or the server's (try again on a new one) rather
    than the statement's: psycopg files some statement errors (a value beyond a limit of
    the server's, e.g. an index row too large) under OperationalError too."""
    if not isinstance(error, CONNECTION_ERRORS):
        return False
    sqlstate = getattr(error, "sqlstate", None)
    return sqlstate is None or sqlstate[:2] in _TRANSIENT_CLASSES or sqlstate == "55P03"


class Cursor(Protocol):
    def execute(self, sql: str, params: Sequence[Any] = ...) -> Any: ...
    def fetchone(self) -> Any: ...
    def fetchall(self) -> list[Any]: ...


class Sql:
    """A cursor that speaks ``?`` placeholders on either database."""

    def __init__(self, cursor: Any, dialect: Dialect) -> None:
        self._cursor = cursor
        self.dialect = dialect

    def execute(self, statement: str, params: Sequence[Any] = ()) -> Sql:
        if self.dialect == "postgres":
            statement = statement.replace("%", "%%").replace("?", "%s")
        self._cursor.execute(statement, tuple(params))
        return self

    def fetchone(self) -> Any:
        return self._cursor.fetchone()

    def fetchall(self) -> list[Any]:
        return list(self._cursor.fetchall())

    def scalar(self, statement: str, params: Sequence[Any] = ()) -> Any:
        row = self.execute(statement, params).fetchone()
        return None if row is None else row[0]

    @contextmanager
    def savepoint(self, name: str) -> Iterator[None]:
        """Inside a transaction: if the block raises, its statements alone are undone and
        the transaction goes on (on PostgreSQL, a failed statement otherwise aborts it).
        Not after a lost connection or an interrupt: the whole transaction is lost then,
        and the block's error is raised as is. If the undo itself fails, its error is
        raised: the transaction cannot go on."""
        self._cursor.execute(f"SAVEPOINT {name}")
        try:
            yield
        except BaseException as error:
            if isinstance(error, Exception) and not lost_connection(error):
                self._cursor.execute(f"ROLLBACK TO SAVEPOINT {name}")
                self._cursor.execute(f"RELEASE SAVEPOINT {name}")
            raise
        self._cursor.execute(f"RELEASE SAVEPOINT {name}")

    def executemany(self, statement: str, rows: Sequence[Sequence[Any]]) -> None:
        """One statement for many rows: psycopg sends them in one pipeline (no round trip
        per row), SQLite steps one prepared statement. None for no rows, and one row is
        executed plainly (a pipeline's set-up costs psycopg twice the statement's CPU)."""
        if not rows:
            return
        if len(rows) == 1:
            self.execute(statement, rows[0])
            return
        if self.dialect == "postgres":
            statement = statement.replace("%", "%%").replace("?", "%s")
            self._cursor.executemany(statement, [tuple(row) for row in rows])
            return
        # A cursor of its own, closed at once: Python 3.11's sqlite3 leaves the statement
        # of an executemany unreset, and a connection closed with it (after an error)
        # lingers, holding the write lock.
        cursor = self._cursor.connection.cursor()
        try:
            cursor.executemany(statement, [tuple(row) for row in rows])
        finally:
            cursor.close()

    def returning_many(
        self, insert: str, tail: str, width: int, rows: Sequence[Sequence[Any]]
    ) -> list[Any]:
        """``{insert} VALUES (?, ...) {tail}`` (``width`` values; ``tail`` ends in a
        RETURNING clause) for ``rows``, and every row it returns: in multi-row VALUES of
        up to 500 rows, so no two of ``rows`` may conflict. Not ``executemany``: SQLite's
        drops what a statement returns, and psycopg's pipeline cost twice the CPU of one
        statement (a live batch's few rows; the same at 32)."""
        marks = "(" + ", ".join("?" for _ in range(width)) + ")"
        found = []
        for start in range(0, len(rows), 500):
            chunk = rows[start : start + 500]
            values = ", ".join(marks for _ in chunk)
            found += self.execute(
                f"{insert} VALUES {values} {tail}", [value for row in chunk for value in row]
            ).fetchall()
        return found

    def insert_many(
        self, table: str, columns: Sequence[str], rows: Sequence[Sequence[Any]]
    ) -> None:
        """Plain INSERTs of many rows: COPY on PostgreSQL (one stream, the cheapest way in),
        one prepared INSERT stepped over the rows on SQLite. One row is a plain INSERT on
        both: COPY's set-up costs psycopg more CPU than the statement (28 against 17 us),
        and a live batch (a command's few events) writes one row to most tables."""
        if not rows:
            return
        names = ", ".join(columns)
        if len(rows) == 1:
            marks = ", ".join("?" for _ in columns)
            self.execute(f"INSERT INTO {table} ({names}) VALUES ({marks})", rows[0])
            return
        if self.dialect == "postgres":
            with self._cursor.copy(f"COPY {table} ({names}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
            return
        marks = ", ".join("?" for _ in columns)
        self.executemany(f"INSERT INTO {table} ({names}) VALUES ({marks})", rows)


_READ = re.compile(r"\s*(SELECT|WITH)\b", re.IGNORECASE)
_WRITES = re.compile(r"\b(INSERT|UPDATE|DELETE|REPLACE|CREATE|DROP|ALTER)\b", re.IGNORECASE)


def reads_only(statement: str) -> bool:
    """Whether ``statement`` only reads: a SELECT (or WITH ... SELECT) naming no write.
    Conservative: a read that merely mentions such a word counts as a write."""
    return _READ.match(statement) is not None and _WRITES.search(statement) is None


class WriteWhenNeeded(Sql):
    """SQLite: a transaction opened at the first write, not before. Until then every
    statement reads (``reads_only``) and runs in autocommit, each its own short read
    transaction, holding no lock; the first write, or ``begin``, takes the write lock
    (``BEGIN IMMEDIATE``) and calls ``on_begin`` inside the new transaction, and
    everything after runs in it. So a projection folds its batch (reads of its tables,
    then Python) while another process writes, and holds the lock only for its writes.

    A read transaction is never upgraded: in WAL mode one that began before another
    writer committed could not become a writer (SQLITE_BUSY_SNAPSHOT). Reads are
    fetched whole and their cursors closed, so none is left open at the BEGIN."""

    def __init__(self, connection: sqlite3.Connection, on_begin: Callable[[Sql], None]) -> None:
        super().__init__(connection.cursor(), "sqlite")
        self._connection = connection
        self._on_begin = on_begin
        self.began = False
        self._read: list[Any] | None = None  # the last autocommit read's rows

    def begin(self) -> None:
        if not self.began:
            self._connection.execute("BEGIN IMMEDIATE")
            self.began = True
            self._on_begin(self)

    def execute(self, statement: str, params: Sequence[Any] = ()) -> Sql:
        if not self.began and reads_only(statement):
            cursor = self._connection.cursor()
            try:
                self._read = cursor.execute(statement, tuple(params)).fetchall()
            finally:
                cursor.close()
            return self
        self.begin()
        self._read = None
        return super().execute(statement, params)

    def fetchone(self) -> Any:
        if self._read is not None:
            return self._read.pop(0) if self._read else None
        return super().fetchone()

    def fetchall(self) -> list[Any]:
        if self._read is not None:
            rows, self._read = self._read, []
            return rows
        return super().fetchall()

    def executemany(self, statement: str, rows: Sequence[Sequence[Any]]) -> None:
        if rows:
            self.begin()
        super().executemany(statement, rows)

    @contextmanager
    def savepoint(self, name: str) -> Iterator[None]:
        self.begin()
        with super().savepoint(name):
            yield


class ReadStore:
    """One connection to the read store, made again after it fails."""

    def __init__(self, connect: Callable[[], Any], dialect: Dialect) -> None:
        self._connect = connect
        self.dialect: Dialect = dialect
        self._connection: Any = None

    @property
    def connection(self) -> Any:
        if self._connection is None:
            self._connection = self._connect()
        return self._connection

    @contextmanager
    def transaction(self) -> Iterator[Sql]:
        """A transaction: committed if the block succeeds, rolled back if it raises."""
        connection = self.connection
        try:
            if self.dialect == "sqlite":
                connection.execute("BEGIN IMMEDIATE")
            cursor = connection.cursor()
            yield Sql(cursor, self.dialect)
            connection.commit()
        except CONNECTION_ERRORS:
            self.reset()
            raise
        except BaseException:
            self._rollback()
            raise

    @contextmanager
    def write_when_needed(self, on_begin: Callable[[Sql], None]) -> Iterator[WriteWhenNeeded]:
        """SQLite only: a transaction opened at the block's first write (``WriteWhenNeeded``),
        committed if the block succeeds and rolled back if it raises."""
        assert self.dialect == "sqlite"
        connection = self.connection
        sql = WriteWhenNeeded(connection, on_begin)
        try:
            yield sql
            if sql.began:
                connection.commit()
        except CONNECTION_ERRORS:
            self.reset()
            raise
        except BaseException:
            if sql.began:
                self._rollback()
            raise

    def _rollback(self) -> None:
        try:
            self.connection.rollback()
        except CONNECTION_ERRORS:
            self.reset()

    def reset(self) -> None:
        """Forget the connection (it failed); the next transaction makes a new one."""
        if self._connection is not None:
            with contextlib.suppress(Exception):
                self._connection.close()
            self._connection = None

    def close(self) -> None:
        self.reset()

    def scrub(self) -> None:
        """After rows were erased: on SQLite, their earlier page images are in the
        write-ahead log until it is checkpointed and truncated (deleted bytes themselves
        are zeroed by ``secure_delete``). PostgreSQL keeps dead tuples until VACUUM
        (docs/security.md)."""
        if self.dialect == "sqlite":
            self.connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")


def sqlite_connector(path: str, sync_each_commit: bool = True) -> Callable[[], sqlite3.Connection]:
    """Connections to the SQLite read store. ``sync_each_commit=False`` is for the
    projection runner's own connection only: tables kept beside the read models (webhook
    deliveries, web sessions) are not the log's to rebuild, and keep a sync per commit."""

    def connect() -> sqlite3.Connection:
        connection = sqlite3.connect(
            path, timeout=30, isolation_level=None, check_same_thread=False
        )
        connection.execute("PRAGMA journal_mode=WAL")
        if not sync_each_commit:
            # No fsync per commit (in WAL mode, only at checkpoints): a commit is still
            # atomic, rows and position together, and what a power cut loses of the last
            # ones the runner applies again from the position left (ADR 0025).
            connection.execute("PRAGMA synchronous=NORMAL")
        connection.execute("PRAGMA busy_timeout=30000")
        connection.execute("PRAGMA secure_delete=ON")  # deleted rows' bytes are zeroed
        return connection

    return connect


def postgres_connector(conninfo: str, schema: str) -> Callable[[], psycopg.Connection[Any]]:
    def connect() -> psycopg.Connection[Any]:
        connection = psycopg.connect(conninfo, options=f"-c search_path={schema}")
        return connection

    return connect


class ReaderPool:
    """Connections for queries from many threads (the runner keeps its own)."""

    def __init__(self, connect: Callable[[], Any], dialect: Dialect, pool: Any = None) -> None:
        self._connect = connect
        self.dialect: Dialect = dialect
        self._pool = pool  # a psycopg_pool.ConnectionPool for PostgreSQL

    @contextmanager
    def transaction(self) -> Iterator[Sql]:
        if self._pool is not None:
            with self._pool.connection() as connection, connection.transaction():
                yield Sql(connection.cursor(), self.dialect)
            return
        connection = self._connect()
        try:
            connection.execute("BEGIN")  # one snapshot for all of the request's queries
            yield Sql(connection.cursor(), self.dialect)
        finally:
            connection.close()

    def close(self) -> None:
        if self._pool is not None:
            self._pool.close()


def postgres_reader_pool(conninfo: str, schema: str, size: int = 4) -> ReaderPool:
    from psycopg_pool import ConnectionPool

    pool = ConnectionPool(
        conninfo,
        kwargs={"options": f"-c search_path={schema}"},
        min_size=1,
        max_size=size,
        open=True,
        check=ConnectionPool.check_connection,
    )
    return ReaderPool(postgres_connector(conninfo, schema), "postgres", pool)


def reader_pool(settings: StoreSettings) -> ReaderPool:
    """Connections for reading the read models of the store ``settings`` names (never the
    projection runner's)."""
    if settings.postgres is not None:
        pg = settings.postgres
        return postgres_reader_pool(pg.conninfo(), pg.schema)
    return ReaderPool(sqlite_connector(settings.read_sqlite_path), "sqlite")


@contextmanager
def side_transaction(pool: ReaderPool | None, sqlite_path: str | None) -> Iterator[Sql]:
    """A transaction on a table kept beside the read models: the readers' pool on
    PostgreSQL, a short-lived connection on SQLite (the read store's own connection
    belongs to the projection runner)."""
    if pool is not None:
        with pool.transaction() as sql:
            yield sql
        return
    assert sqlite_path is not None
    store = ReadStore(sqlite_connector(sqlite_path), "sqlite")
    try:
        with store.transaction() as sql:
            yield sql
    finally:
        store.close()


def create_tables(create: Callable[[], None]) -> None:
    """Run ``create`` (CREATE ... IF NOT EXISTS): two processes starting at once may
    collide once, so a failure is retried once after a pause."""
    try:
        create()
    except Exception:
        time.sleep(0.5)
        create()
