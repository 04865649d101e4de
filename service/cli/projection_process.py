"""The projection runner in a process of its own, started and watched by ``subledger serve``.

Projection work is CPU-bound Python: in a thread of the server it holds the GIL that the
requests need (ADR 0005). So, by default (``SUBLEDGER_PROJECTIONS_RUNNER=process``),
``serve`` starts this module as a child process and restarts it if it dies; the child
competes for the runner lock like any ``subledger projections run``, runs on the same
settings and clock as the server, and logs through the same set-up. It stops on SIGTERM
(what ``serve`` sends it when it stops), and also when its standard input closes: the
server holds the other end, so a server killed outright leaves no orphan behind.
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import threading
import time

from service.bootstrap import bootstrap
from service.cli.runner import STARTUP_ERRORS
from service.config.collector import freeze_what_started, tune_for_long_running
from service.config.logs import configure_logging
from service.config.settings import load_settings

log = logging.getLogger("subledger.serve")

COMMAND = [sys.executable, "-m", "service.cli.projection_process"]


class RunnerProcess:
    """Keeps one child process running the projections until ``stop``."""

    def __init__(
        self, command: list[str] | None = None, pause: float = 1.0, max_pause: float = 30.0
    ) -> None:
        self.command = command or COMMAND
        self.pause = pause
        self.max_pause = max_pause
        self.process: subprocess.Popen[bytes] | None = None
        self.started = 0  # how many children were started (1 + restarts)
        self._stop = threading.Event()
        self._lock = threading.Lock()  # between starting a child and stopping
        self._thread = threading.Thread(target=self._supervise, name="runner-process", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def _supervise(self) -> None:
        pause = self.pause
        while True:
            with self._lock:
                if self._stop.is_set():
                    return
                began = time.monotonic()
                # stdin: a pipe the child watches, closed when this process ends however.
                process = subprocess.Popen(self.command, stdin=subprocess.PIPE)
                self.process = process
                self.started += 1
            log.info("the projection runner process %d started", process.pid)
            code = process.wait()
            if self._stop.is_set():
                return
            if time.monotonic() - began >= 10:
                pause = self.pause
            log.error(
                "the projection runner process %d exited with %s; another starts in %.0f s",
                process.pid,
                code,
                pause,
            )
            self._stop.wait(pause)
            # One that dies at once again (the store down, say) is restarted ever later.
            pause = min(pause * 2, self.max_pause)

    def stop(self, timeout: float = 10.0) -> None:
        """Stop the child (SIGTERM: it finishes its batch) and stop restarting it."""
        with self._lock:
            self._stop.set()
            process = self.process
        if process is not None:
            if process.poll() is None:
                process.terminate()
                try:
                    process.wait(timeout)
                except subprocess.TimeoutExpired:
                    log.warning("the projection runner process %d is killed", process.pid)
                    process.kill()
                    process.wait()
            if process.stdin is not None:
                process.stdin.close()
        if self._thread.is_alive():
            self._thread.join(timeout)


def child() -> int:
    """The child: run the projections until SIGTERM, or until the parent is gone."""
    settings = load_settings()
    configure_logging(settings)
    try:
        # on serve's clock (SUBLEDGER_CLOCK): the hash chain seals by it
        svc = bootstrap(settings)
    except STARTUP_ERRORS as error:  # the store down, say: serve tries again later
        log.error("the projection runner process cannot start: %s", error)
        return 2
    read_side = svc.read_side
    tune_for_long_running()
    freeze_what_started()
    signal.signal(signal.SIGTERM, lambda *_: read_side.stop_soon())
    # Ctrl-C in a terminal reaches the whole process group: serve stops this one itself.
    signal.signal(signal.SIGINT, signal.SIG_IGN)

    def until_parent_gone() -> None:
        # Raw reads (a buffered one would hold its lock at exit): b"" at end of file.
        while os.read(sys.stdin.fileno(), 512):
            pass
        read_side.stop_soon()

    threading.Thread(target=until_parent_gone, name="parent-watch", daemon=True).start()
    try:
        read_side.run()
    finally:
        svc.close()
    return 0


if __name__ == "__main__":
    sys.exit(child())
