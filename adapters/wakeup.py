"""Wake-ups for the projection runner: PostgreSQL NOTIFY, a datagram between the
processes of one SQLite store, else a plain wait.

A wake-up only shortens the wait before the runner next reads the log; the runner
never depends on one arriving (notifications are lost while disconnected).
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import select
import socket
import sys
import threading
import time
from collections.abc import Callable
from typing import Any

import psycopg
from psycopg import sql

from adapters.store import StoreSettings


class Pulse:
    """An in-process wake-up: the ledger pulses after each save, waiters return early."""

    def __init__(self) -> None:
        self._condition = threading.Condition()
        self._count = 0
        self._listeners: list[Callable[[], None]] = []

    def also(self, listener: Callable[[], None]) -> None:
        """Call ``listener`` too on each pulse (to tell other processes)."""
        self._listeners.append(listener)

    def pulse(self) -> None:
        with self._condition:
            self._count += 1
            self._condition.notify_all()
        for listener in self._listeners:
            listener()

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


class DatagramWakeup:
    """Wake-ups between the processes of one SQLite store, which has no NOTIFY: a writer
    sends a datagram to a Unix socket named after the store's file and the worker (in
    Linux's abstract namespace: no file to leave behind), which the elected worker alone
    receives.

    Sending never blocks nor fails: with no runner listening, or its queue full (it is
    already due to wake), the datagram is dropped. Elsewhere than Linux it does nothing,
    and a runner in another process sees writes within its poll interval."""

    supported = sys.platform.startswith("linux")

    def __init__(self, sqlite_path: str, worker: str, local: Pulse | None = None) -> None:
        named = f"{os.path.realpath(sqlite_path)}\0{worker}"
        digest = hashlib.sha256(named.encode()).hexdigest()[:32]
        self.address = f"\0subledger-wakeup-{digest}"
        self.local = local or Pulse()
        self._receiver: socket.socket | None = None

    def announce(self) -> None:
        """Tell the runner, wherever it runs, that something was written."""
        if not self.supported:
            return
        with contextlib.suppress(OSError):
            _sender().sendto(b"!", self.address)

    def wait(self, timeout: float) -> None:
        """Until a datagram, an in-process pulse (checked every 0.1 s: also how a stop is
        noticed), or ``timeout``."""
        deadline = time.monotonic() + timeout
        seen = self.local.count
        receiver = self._listening()
        if receiver is None:
            self.local.wait(timeout)
            return
        while (left := deadline - time.monotonic()) > 0 and self.local.count == seen:
            readable, _, _ = select.select([receiver], [], [], min(left, 0.1))
            if readable:
                with contextlib.suppress(BlockingIOError):
                    while receiver.recv(64):  # one wake-up for all that came
                        pass
                return

    def _listening(self) -> socket.socket | None:
        if self._receiver is None and self.supported:
            receiver = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
            try:
                receiver.bind(self.address)  # a deposed runner may still hold it: poll
            except OSError:
                receiver.close()
                return None
            receiver.setblocking(False)
            self._receiver = receiver
        return self._receiver

    def close(self) -> None:
        if self._receiver is not None:
            self._receiver.close()
            self._receiver = None


_SENDER: list[socket.socket] = []  # one unbound socket sends every process's datagrams


def _sender() -> socket.socket:
    if not _SENDER:
        sender = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        sender.setblocking(False)
        _SENDER.append(sender)
    return _SENDER[0]
