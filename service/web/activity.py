"""When each portal session was last active: kept beside the log, not in it.

A session ends after a spell of inactivity, so its last activity must be known to every
process that serves it. Writing an event per request would fill the immutable log (and
the hash chain, and the audit trail) with page views, so the time goes in a small table
of the ledger's database, ``portal_session_activity``, written at most once a minute
per session and process: each process remembers when it last wrote, and skips both the
read and the write until a minute has passed (inactivity is counted in tens of minutes,
so a minute's imprecision changes nothing).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from uuid import UUID

from adapters.store import StoreSettings
from projections.store import ReaderPool, Sql, create_tables, side_transaction

TOUCH_EVERY = timedelta(minutes=1)
_REMEMBERED = 10_000  # sessions a process remembers; past that it forgets them all


class SessionActivity:
    def __init__(self, settings: StoreSettings, readers: ReaderPool | None) -> None:
        """On PostgreSQL, ``readers`` is a pool on the ledger's schema (the read side's)."""
        self._pool = readers if settings.postgres is not None else None
        self._sqlite_path = settings.sqlite_path
        self._seen: dict[UUID, datetime] = {}
        self._lock = threading.Lock()
        self._prepare()

    @contextmanager
    def _transaction(self) -> Iterator[Sql]:
        with side_transaction(self._pool, self._sqlite_path) as sql:
            yield sql

    def _prepare(self) -> None:
        create_tables(self._create)

    def _create(self) -> None:
        with self._transaction() as sql:
            sql.execute(
                "CREATE TABLE IF NOT EXISTS portal_session_activity ("
                "session_id TEXT PRIMARY KEY, last_seen DOUBLE PRECISION NOT NULL)"
            )

    def active(self, session_id: UUID, since: datetime, idle: timedelta, now: datetime) -> bool:
        """Whether the session was active within ``idle`` of ``now`` (``since``: when it
        began); if so, ``now`` becomes its last activity."""
        with self._lock:
            seen_here = self._seen.get(session_id)
        if seen_here is not None and now - seen_here < TOUCH_EVERY:
            return True
        with self._transaction() as sql:
            stored = sql.scalar(
                "SELECT last_seen FROM portal_session_activity WHERE session_id = ?",
                (str(session_id),),
            )
            last = since if stored is None else datetime.fromtimestamp(float(stored), UTC)
            if now - last > idle:
                return False
            sql.execute(
                "INSERT INTO portal_session_activity (session_id, last_seen) VALUES (?, ?) "
                "ON CONFLICT (session_id) DO UPDATE SET last_seen = excluded.last_seen",
                (str(session_id), now.timestamp()),
            )
        with self._lock:
            if len(self._seen) >= _REMEMBERED:
                self._seen.clear()
            self._seen[session_id] = now
        return True

    def forget(self, session_id: UUID) -> None:
        """The session ended: its activity is of no further use."""
        with self._lock:
            self._seen.pop(session_id, None)
        with self._transaction() as sql:
            sql.execute(
                "DELETE FROM portal_session_activity WHERE session_id = ?", (str(session_id),)
            )
