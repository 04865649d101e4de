"""One projection runner at a time per store.

PostgreSQL: a session advisory lock, held by a connection of its own for as long as
the runner lives (and released by the server if the process dies). SQLite: an
exclusive ``flock`` on a file beside the database (released by the kernel likewise).
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import select
import time
from typing import IO, Any

import psycopg

from adapters.store import StoreSettings


class RunnerLock:
    def __init__(
        self, settings: StoreSettings, name: str = "projections", confirm_every: float = 1.0
    ) -> None:
        self.settings = settings
        self.name = name
        # PostgreSQL: how often ``still_held`` asks the server (a round trip) when nothing
        # came on the lock's connection meanwhile.
        self.confirm_every = confirm_every
        self._connection: psycopg.Connection[Any] | None = None
        self._confirmed_at = 0.0  # when the server last answered on it (time.monotonic())
        self._file: IO[bytes] | None = None

    def _key(self) -> int:
        where = self.settings.describe()
        digest = hashlib.sha256(f"subledger:{self.name}:{where}".encode()).digest()
        return int.from_bytes(digest[:8], "big", signed=True)

    def try_acquire(self) -> bool:
        if self.settings.postgres is not None:
            connection = psycopg.connect(self.settings.postgres.conninfo(), autocommit=True)
            row = connection.execute("SELECT pg_try_advisory_lock(%s)", (self._key(),)).fetchone()
            if row is not None and row[0]:
                self._connection = connection
                self._confirmed_at = time.monotonic()
                return True
            connection.close()
            return False
        assert self.settings.sqlite_path is not None
        handle = open(f"{self.settings.sqlite_path}.{self.name}.lock", "wb")  # noqa: SIM115
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.close()
            return False
        handle.write(str(os.getpid()).encode())
        handle.flush()
        self._file = handle
        return True

    def is_held(self) -> bool:
        """Whether any process holds the lock now, this one included; it is not taken.

        PostgreSQL: the server's lock table (a bigint advisory key is listed as its high
        and low 32 bits). SQLite: a shared ``flock`` is refused while a runner holds the
        exclusive one (taken for an instant when free: a runner that tries then waits for
        its next election round)."""
        if self._connection is not None or self._file is not None:
            return True
        if self.settings.postgres is not None:
            key = self._key() & 0xFFFF_FFFF_FFFF_FFFF
            with psycopg.connect(self.settings.postgres.conninfo(), autocommit=True) as conn:
                row = conn.execute(
                    "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted"
                    " AND database = (SELECT oid FROM pg_database"
                    " WHERE datname = current_database())"
                    " AND classid::bigint = %s AND objid::bigint = %s AND objsubid = 1",
                    (key >> 32, key & 0xFFFF_FFFF),
                ).fetchone()
            return bool(row and row[0])
        assert self.settings.sqlite_path is not None
        with open(f"{self.settings.sqlite_path}.{self.name}.lock", "ab") as handle:
            try:
                fcntl.flock(handle, fcntl.LOCK_SH | fcntl.LOCK_NB)
            except BlockingIOError:
                return True
            fcntl.flock(handle, fcntl.LOCK_UN)
            return False

    def still_held(self) -> bool:
        """False once the PostgreSQL session holding the lock has gone.

        The server is asked (``SELECT 1``, a round trip) only when something came on the
        lock's idle connection (a session ended by the server sends its error, or the
        socket closes: both make it readable) or ``confirm_every`` seconds have passed
        (a connection lost without a word), not before every wait of a busy runner. A
        runner deposed meanwhile goes on for that long at most, as it did until its next
        wait: the claimed positions keep two runners from applying a batch twice."""
        if self._connection is not None:
            if time.monotonic() - self._confirmed_at < self.confirm_every and not _readable(
                self._connection
            ):
                return True
            try:
                self._connection.execute("SELECT 1")
            except psycopg.Error:
                self.release()
                return False
            self._confirmed_at = time.monotonic()
            return True
        return self._file is not None

    def release(self) -> None:
        if self._connection is not None:
            with contextlib.suppress(psycopg.Error):
                self._connection.close()
            self._connection = None
        if self._file is not None:
            fcntl.flock(self._file, fcntl.LOCK_UN)
            self._file.close()
            self._file = None


def _readable(connection: psycopg.Connection[Any]) -> bool:
    """Whether anything waits to be read on an idle connection (a closed one counts)."""
    try:
        readable, _, _ = select.select([connection.fileno()], [], [], 0)
    except (OSError, ValueError, psycopg.Error):
        return True
    return bool(readable)
