"""A progress bar on stderr for long CLI jobs (rebuilds, verification).

Redrawn in place (``\r``) only on a terminal; to a file or a pipe (a log, CI) it writes
one line when the job is done, not a frame every tenth of a second."""

from __future__ import annotations

import sys
import time


class ProgressBar:
    def __init__(self, label: str, total: int, width: int = 30) -> None:
        self.label = label
        self.total = max(total, 1)
        self.width = width
        self.done = 0
        self.started = time.monotonic()
        self._drawn = 0.0
        self.live = sys.stderr.isatty()

    def advance(self, count: int) -> None:
        self.done += count
        now = time.monotonic()
        if self.live and (now - self._drawn >= 0.1 or self.done >= self.total):
            self._draw(now)

    def _draw(self, now: float) -> None:
        self._drawn = now
        share = min(self.done / self.total, 1.0)
        filled = int(share * self.width)
        rate = self.done / max(now - self.started, 1e-9)
        sys.stderr.write(
            ("\r" if self.live else "")
            + f"{self.label} [{'#' * filled}{'.' * (self.width - filled)}] "
            f"{self.done}/{self.total} ({rate:,.0f}/s)"
        )
        sys.stderr.flush()

    def finish(self) -> None:
        if self._drawn == 0.0 or self.done < self.total:
            self._draw(time.monotonic())
        sys.stderr.write("\n")
        sys.stderr.flush()
