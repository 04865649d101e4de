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


class PostgresWakeup:
    """LISTEN on the event table's channel; reconnects quietly when the connection dies."""

    def __init__(self, settings: StoreSettings, channel: str, local: Pulse) -> None:
        assert settings.postgres is not None
        self.conninfo = settings.postgres.conninfo()
        self.channel = channel
        self.local = local
        self._connection: psycopg.Connection[Any] | None = None

    def wait(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        try:
            connection = self._listening()
            for _ in connection.notifies(timeout=max(deadline - time.monotonic(), 0), stop_after=1):
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
