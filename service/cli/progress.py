"""A progress bar on stderr for long CLI jobs (rebuilds, verification, migration), drawn
by rich.

On a terminal rich redraws it in place; to a file or a pipe (a log, CI) it draws no
frame and writes the bar once, as one plain line, when the job is done. Whether stderr is
a terminal decides alone: ``FORCE_COLOR`` and the like do not give a log frames."""

from __future__ import annotations

import sys
from types import TracebackType

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskProgressColumn,
    TextColumn,
    TimeElapsedColumn,
)


class ProgressBar:
    """A bar for ``total`` steps, shown from now until ``finish`` (or the ``with`` ends);
    the job calls ``advance`` with each count done."""

    def __init__(self, label: str, total: int) -> None:
        self._progress = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TaskProgressColumn(),
            TimeElapsedColumn(),
            console=Console(stderr=True, force_terminal=sys.stderr.isatty()),
        )
        self._task = self._progress.add_task(label, total=max(total, 1))
        self._progress.start()
        self._shown = True

    def advance(self, count: int) -> None:
        self._progress.advance(self._task, count)

    def finish(self) -> None:
        """End the bar (its last line); once: a second stop would print an empty line."""
        if self._shown:
            self._shown = False
            self._progress.stop()

    def __enter__(self) -> ProgressBar:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self.finish()
