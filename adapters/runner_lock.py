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
from typing import IO, Any

import psycopg

from adapters.store import StoreSettings


class RunnerLock:
    def __init__(self, settings: StoreSettings, name: str = "projections") -> None:
        self.settings = settings
        self.name = name
        self._connection: psycopg.Connection[Any] | None = None
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

    def still_held(self) -> bool:
        """False once the PostgreSQL session holding the lock has gone."""
        if self._connection is not None:
            try:
                self._connection.execute("SELECT 1")
            except psycopg.Error:
                self.release()
                return False
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
