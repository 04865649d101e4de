"""A run repeated every few seconds in a thread of ``subledger serve``, one process per
store at a time: each round takes a named store lock (as the run's own CLI command
does), so of several processes one runs and the others skip that round."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Generic, TypeVar

from adapters.runner_lock import RunnerLock
from adapters.store import StoreSettings

Report = TypeVar("Report")


class PeriodicRun(Generic[Report]):
    def __init__(
        self,
        store: StoreSettings,
        lock_name: str,
        interval: float,
        run: Callable[[], Report],
        log: logging.Logger,
    ) -> None:
        self.store = store
        self.lock_name = lock_name
        self.interval = interval
        self._run = run
        self._log = log
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(
            target=self._loop, name=f"{self.lock_name}-run", daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)

    def _loop(self) -> None:
        while not self._stop.is_set():
            self.run_once()
            self._stop.wait(self.interval)

    def run_once(self) -> Report | None:
        """One run if this process gets the lock; None if another holds it or it failed
        (logged: the next round tries again)."""
        lock = RunnerLock(self.store, self.lock_name)
        try:
            if not lock.try_acquire():
                return None
            try:
                return self._run()
            finally:
                lock.release()
        except Exception:
            self._log.exception(
                "the %s run failed; it runs again in %s s", self.lock_name, self.interval
            )
            return None
