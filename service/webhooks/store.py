"""The webhook worker's tables, in the ledger's own database: secrets, cursors, deliveries.

- ``webhook_secrets``: each endpoint's signing secret, as generated. The worker must be
  able to sign, so it cannot keep a hash as it does for API tokens; and it is kept out of
  the event log on purpose: events are immutable and copied into the audit trail, which
  auditors read, whereas a secret must stay unreadable to them and must be erasable
  when its endpoint is deleted (ADR 0009).
- ``webhook_cursors``: per endpoint, the last log position it acknowledged (or that it
  did not want), its run of failures and when to try next. Only the worker writes them;
  the endpoint's ``version`` it last saw tells it when an operator changed something.
- ``webhook_deliveries``: one row per attempt, the delivery log.

On SQLite the tables live in the ledger's file, each transaction on a connection of its
own (``BEGIN IMMEDIATE``); on PostgreSQL in the ledger's schema, through a pool.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from adapters.store import StoreSettings
from projections.store import ReaderPool, Sql, create_tables, postgres_reader_pool, side_transaction

CURSOR_COLUMNS = "endpoint_id, position, endpoint_version, failures, failing_since, next_attempt_at"
DELIVERY_COLUMNS = (
    "id, endpoint_id, position, event_id, attempt, status_code, error, duration_ms, attempted_at"
)


@dataclass(frozen=True)
class Cursor:
    endpoint_id: UUID
    position: int  # the last position acknowledged by the endpoint, or skipped for it
    endpoint_version: int  # the endpoint's version when the worker last looked
    failures: int  # consecutive failed attempts
    failing_since: float | None  # unix time of the first of them
    next_attempt_at: float  # unix time; 0 when not backing off

    def due(self, now: float) -> bool:
        return self.next_attempt_at <= now


@dataclass(frozen=True)
class Delivery:
    """One attempt to deliver one event to one endpoint."""

    id: int
    endpoint_id: UUID
    position: int
    event_id: str
    attempt: int  # 1 for the first attempt at this event (since the last reset)
    status_code: int | None
    error: str | None
    duration_ms: int
    attempted_at: datetime

    @property
    def acknowledged(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


def _cursor(row: Sequence[Any]) -> Cursor:
    endpoint_id, position, version, failures, since, next_at = row
    return Cursor(
        UUID(str(endpoint_id)),
        int(position),
        int(version),
        int(failures),
        None if since is None else float(since),
        float(next_at),
    )


def _delivery(row: Sequence[Any]) -> Delivery:
    row_id, endpoint_id, position, event_id, attempt, status, error, duration, at = row
    return Delivery(
        int(row_id),
        UUID(str(endpoint_id)),
        int(position),
        str(event_id),
        int(attempt),
        None if status is None else int(status),
        None if error is None else str(error),
        int(duration),
        datetime.fromtimestamp(float(at), UTC),
    )


class WebhookStore:
    def __init__(self, settings: StoreSettings, readers: ReaderPool | None = None) -> None:
        """On PostgreSQL, ``readers`` (a pool on the ledger's schema, e.g. the read side's)
        is borrowed; without one the store opens a pool of its own, closed by ``close``."""
        self._pool: ReaderPool | None = None
        self._owns_pool = False
        self._sqlite_path: str | None = None
        if settings.postgres is not None:
            pg = settings.postgres
            self._owns_pool = readers is None
            self._pool = readers or postgres_reader_pool(pg.conninfo(), pg.schema, size=4)
        else:
            self._sqlite_path = settings.sqlite_path
        self._prepare()

    @property
    def dialect(self) -> str:
        return "sqlite" if self._pool is None else "postgres"

    @contextmanager
    def transaction(self) -> Iterator[Sql]:
        with side_transaction(self._pool, self._sqlite_path) as sql:
            yield sql

    def _prepare(self) -> None:
        create_tables(self._create)

    def _create(self) -> None:
        serial = "INTEGER PRIMARY KEY AUTOINCREMENT"
        if self.dialect == "postgres":
            serial = "BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY"
        with self.transaction() as sql:
            sql.execute(
                "CREATE TABLE IF NOT EXISTS webhook_secrets ("
                "endpoint_id TEXT PRIMARY KEY, secret TEXT NOT NULL)"
            )
            sql.execute(
                "CREATE TABLE IF NOT EXISTS webhook_cursors ("
                "endpoint_id TEXT PRIMARY KEY, position BIGINT NOT NULL, "
                "endpoint_version INTEGER NOT NULL, failures INTEGER NOT NULL, "
                "failing_since DOUBLE PRECISION, next_attempt_at DOUBLE PRECISION NOT NULL)"
            )
            sql.execute(
                f"CREATE TABLE IF NOT EXISTS webhook_deliveries (id {serial}, "
                "endpoint_id TEXT NOT NULL, position BIGINT NOT NULL, event_id TEXT NOT NULL, "
                "attempt INTEGER NOT NULL, status_code INTEGER, error TEXT, "
                "duration_ms INTEGER NOT NULL, attempted_at DOUBLE PRECISION NOT NULL)"
            )
            sql.execute(
                "CREATE INDEX IF NOT EXISTS webhook_deliveries_endpoint "
                "ON webhook_deliveries (endpoint_id, id)"
            )

    def close(self) -> None:
        if self._pool is not None and self._owns_pool:
            self._pool.close()

    # -- secrets ------------------------------------------------------------------------

    def put_secret(self, endpoint_id: UUID, secret: str) -> None:
        with self.transaction() as sql:
            sql.execute(
                "INSERT INTO webhook_secrets (endpoint_id, secret) VALUES (?, ?) "
                "ON CONFLICT (endpoint_id) DO UPDATE SET secret = excluded.secret",
                (str(endpoint_id), secret),
            )

    def secret(self, endpoint_id: UUID) -> str | None:
        with self.transaction() as sql:
            found = sql.scalar(
                "SELECT secret FROM webhook_secrets WHERE endpoint_id = ?", (str(endpoint_id),)
            )
        return None if found is None else str(found)

    def forget(self, endpoint_id: UUID) -> None:
        """Erase what is kept for a deleted endpoint (its events stay in the log)."""
        with self.transaction() as sql:
            for table in ("webhook_secrets", "webhook_cursors", "webhook_deliveries"):
                sql.execute(f"DELETE FROM {table} WHERE endpoint_id = ?", (str(endpoint_id),))

    def copy_into(self, target: WebhookStore, position: Callable[[int], int]) -> int:
        """Copy every endpoint's secret and cursor into ``target``, the store a migration
        wrote (ADR 0028), each cursor at the position ``position`` gives for its own: the
        endpoints then go on where they were, signed as before. How many endpoints."""
        with self.transaction() as sql:
            secrets = sql.execute("SELECT endpoint_id, secret FROM webhook_secrets").fetchall()
            rows = sql.execute(f"SELECT {CURSOR_COLUMNS} FROM webhook_cursors").fetchall()
        with target.transaction() as sql:
            sql.executemany(
                "INSERT INTO webhook_secrets (endpoint_id, secret) VALUES (?, ?)",
                [tuple(row) for row in secrets],
            )
            for cursor in map(_cursor, rows):
                self._write_cursor(sql, replace(cursor, position=position(cursor.position)))
        return len(secrets)

    # -- cursors ------------------------------------------------------------------------

    def cursors(self) -> dict[UUID, Cursor]:
        with self.transaction() as sql:
            rows = sql.execute(f"SELECT {CURSOR_COLUMNS} FROM webhook_cursors").fetchall()
        return {cursor.endpoint_id: cursor for cursor in map(_cursor, rows)}

    def cursor(self, endpoint_id: UUID) -> Cursor | None:
        with self.transaction() as sql:
            return self._read_cursor(sql, endpoint_id)

    def _read_cursor(self, sql: Sql, endpoint_id: UUID) -> Cursor | None:
        row = sql.execute(
            f"SELECT {CURSOR_COLUMNS} FROM webhook_cursors WHERE endpoint_id = ?",
            (str(endpoint_id),),
        ).fetchone()
        return None if row is None else _cursor(row)

    def _write_cursor(self, sql: Sql, cursor: Cursor) -> Cursor:
        sql.execute(
            f"INSERT INTO webhook_cursors ({CURSOR_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?) "
            "ON CONFLICT (endpoint_id) DO UPDATE SET position = excluded.position, "
            "endpoint_version = excluded.endpoint_version, failures = excluded.failures, "
            "failing_since = excluded.failing_since, next_attempt_at = excluded.next_attempt_at",
            (
                str(cursor.endpoint_id),
                cursor.position,
                cursor.endpoint_version,
                cursor.failures,
                cursor.failing_since,
                cursor.next_attempt_at,
            ),
        )
        return cursor

    def sync(
        self, endpoint_id: UUID, version: int, start_after: int, replay: tuple[int, int] | None
    ) -> Cursor:
        """The endpoint's cursor, brought up to its ``version``.

        A new endpoint starts after ``start_after``. Any change since the worker last
        looked (an update, enabling, a replay) clears the run of failures, so that an
        operator's fix is tried at once; a replay ``(requested at version, from
        position)`` not yet applied moves the cursor to just before that position.
        """
        with self.transaction() as sql:
            known = self._read_cursor(sql, endpoint_id)
            if known is not None and known.endpoint_version == version:
                return known
            seen = 0 if known is None else known.endpoint_version
            position = start_after if known is None else known.position
            if replay is not None and replay[0] > seen:
                position = replay[1] - 1
            return self._write_cursor(sql, Cursor(endpoint_id, position, version, 0, None, 0.0))

    def advance(self, cursor: Cursor, position: int) -> Cursor:
        """Move past events the endpoint does not want (nothing was sent)."""
        with self.transaction() as sql:
            return self._write_cursor(sql, replace(cursor, position=position))

    def record(self, cursor: Cursor, delivery: Delivery) -> Cursor:
        """Log an attempt and move the cursor with it, in one transaction."""
        with self.transaction() as sql:
            sql.execute(
                "INSERT INTO webhook_deliveries (endpoint_id, position, event_id, attempt, "
                "status_code, error, duration_ms, attempted_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    str(delivery.endpoint_id),
                    delivery.position,
                    delivery.event_id,
                    delivery.attempt,
                    delivery.status_code,
                    delivery.error,
                    delivery.duration_ms,
                    delivery.attempted_at.timestamp(),
                ),
            )
            return self._write_cursor(sql, cursor)

    # -- the delivery log ---------------------------------------------------------------

    def deliveries(self, endpoint_id: UUID, before: int | None, limit: int) -> list[Delivery]:
        """The newest attempts first; ``before`` (an attempt's id) pages back in time."""
        with self.transaction() as sql:
            rows = sql.execute(
                f"SELECT {DELIVERY_COLUMNS} FROM webhook_deliveries "
                "WHERE endpoint_id = ? AND id < ? ORDER BY id DESC LIMIT ?",
                (str(endpoint_id), before if before is not None else 2**62, limit),
            ).fetchall()
        return [_delivery(row) for row in rows]
