"""Wake-ups for the projection runner: PostgreSQL NOTIFY, else a plain wait.

A wake-up only shortens the wait before the runner next reads the log; the runner
never depends on one arriving (notifications are lost while disconnected).
"""

from __future__ import annotations

import contextlib
import threading
import time
from typing import Any

import psycopg
from psycopg import sql

from adapters.store import StoreSettings


class Pulse:
    """An in-process wake-up: the ledger pulses after each save, waiters return early."""

    def __init__(self) -> None:
        self._condition = threading.Condition()
        self._count = 0

    def pulse(self) -> None:
        with self._condition:
            self._count += 1
            self._condition.notify_all()

    def wait(self, timeout: float) -> None:
        with self._condition:
            seen = self._count
            self._condition.wait_for(lambda: self._count != seen, timeout)

    @property
    def count(self) -> int:
        return self._count


class PostgresWakeup:
    """LISTEN on the event table's channel; reconnects quietly when the connection dies."""

    def __init__(self, settings: StoreSettings, channel: str, local: Pulse) -> None:
        assert settings.postgres is not None
        self.conninfo = settings.postgres.conninfo()
        self.channel = channel
        self.local = local
        self._connection: psycopg.Connection[Any] | None = None

    def wait(self, timeout: float) -> None:
        """Until a NOTIFY, an in-process pulse (checked every 0.1 s: also how a stop is
        noticed), or ``timeout``."""
        deadline = time.monotonic() + timeout
        seen = self.local.count
        try:
            connection = self._listening()
            while (left := deadline - time.monotonic()) > 0 and self.local.count == seen:
                for _ in connection.notifies(timeout=min(left, 0.1), stop_after=1):
                    return
        except psycopg.Error:
            self.close()
            self.local.wait(max(deadline - time.monotonic(), 0))

    def _listening(self) -> psycopg.Connection[Any]:
        if self._connection is None or self._connection.closed:
            self._connection = psycopg.connect(self.conninfo, autocommit=True)
            self._connection.execute(sql.SQL("LISTEN {}").format(sql.Identifier(self.channel)))
        return self._connection

    def close(self) -> None:
        if self._connection is not None:
            with contextlib.suppress(psycopg.Error):
                self._connection.close()
            self._connection = None
