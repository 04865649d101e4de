"""One worker per store: wait to be elected by a lock, do the work, stand by if it is lost.

The projection runner, the webhook worker and the NATS relay each run in every process
that starts them; a lock (adapters/runner_lock.py) elects one, and the others wait to
take over. The elected work is woken by PostgreSQL NOTIFY where there is one, else by a
datagram from the processes writing to the SQLite store (and the ledger's in-process
pulse), and checks at each wait that it still holds the lock.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass

from adapters.runner_lock import RunnerLock
from adapters.store import StoreSettings
from adapters.wakeup import DatagramWakeup, PostgresWakeup, Pulse
from service.ledger.application import Ledger

log = logging.getLogger("subledger.election")


class LockLost(Exception):
    """The elected worker no longer holds its lock: another may have taken over."""


@dataclass(frozen=True)
class Elected:
    lock: RunnerLock
    wakeup: PostgresWakeup | DatagramWakeup | None
    local: Pulse

    def wait(self, timeout: float) -> None:
        """Until something may have been written, or ``timeout``; LockLost if deposed."""
        if not self.lock.still_held():
            raise LockLost()
        (self.wakeup or self.local).wait(timeout)


def serve_when_elected(
    settings: StoreSettings,
    ledger: Ledger,
    lock: RunnerLock,
    stop: threading.Event,
    work: Callable[[Elected], None],
    what: str,
    on_duty: Callable[[bool], None] = lambda _: None,
) -> None:
    """Until ``stop``: take ``lock`` when free, then run ``work`` while holding it."""
    while not stop.is_set():
        try:
            elected = lock.try_acquire()
        except Exception as error:  # the store may be down: try again
            log.warning("cannot take the %s lock yet: %s", what, error)
            elected = False
        if not elected:
            stop.wait(2.0)
            continue
        log.info("elected: the %s of %s", what, settings.describe())
        wakeup: PostgresWakeup | DatagramWakeup | None = None
        if settings.postgres is not None:
            channel = str(ledger.recorder.channel_name)  # type: ignore[attr-defined]
            wakeup = PostgresWakeup(settings, channel, ledger.saved)
        elif settings.sqlite_path is not None:
            wakeup = DatagramWakeup(settings.sqlite_path, what, ledger.saved)
        on_duty(True)
        try:
            work(Elected(lock, wakeup, ledger.saved))
        except LockLost:
            log.warning("lost the %s lock; waiting to be elected again", what)
        finally:
            on_duty(False)
            if wakeup is not None:
                wakeup.close()
            lock.release()
