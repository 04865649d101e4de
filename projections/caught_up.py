"""Read models a caller brings up to the log's head itself before it reads them.

The projection runner keeps every read model current, but a little behind the log, and
it may not be running (a command of the CLI, a test, a runner being elected). A caller
that must not miss anything recorded before it asked (the billing run, the tokens of a
user being removed) reads through ``CaughtUp``: it applies whatever the runner has not
applied yet to the projections it reads, in the runner's own transactions (the position
claimed, so a runner applying the same batch waits and then skips it), and answers
only once they have reached the position the log's head had when it asked.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager

from projections.projection import Projection
from projections.runner import ProjectionRunner, ReadLog, positions
from projections.store import ReadStore, Sql, create_tables


class NotCaughtUp(Exception):
    """A projection could not reach the log's head (it fails on an event there)."""

    def __init__(self, reached: dict[str, int], head: int) -> None:
        behind = ", ".join(f"{name} at {at}" for name, at in reached.items() if at < head)
        super().__init__(f"read models behind the log's head {head}: {behind}")
        self.reached = reached
        self.head = head


class CaughtUp:
    def __init__(
        self,
        store: ReadStore,
        read_log: ReadLog,
        head: Callable[[], int],
        projections: Sequence[Projection],
        keep: bool = False,
    ) -> None:
        """``keep``: hold the connection between reads (an in-memory store)."""
        self.store = store
        self.keep = keep
        self.head = head
        self.names = [p.name for p in projections]
        self.runner = ProjectionRunner(store, read_log, head, projections)
        self._prepared = False
        self._lock = threading.Lock()  # one connection: one caller at a time

    @contextmanager
    def reading(self) -> Iterator[Sql]:
        """A transaction on the read models, every one at or past the log's head as it was
        when this was called; NotCaughtUp if one fails to get there."""
        with self._lock:
            try:
                head = self.head()
                if not self._prepared:
                    create_tables(self.runner.prepare)
                    self._prepared = True
                self.runner.catch_up()
                with self.store.transaction() as sql:
                    reached = positions(sql, self.names)
                    if min(reached.values()) < head:
                        raise NotCaughtUp(reached, head)
                    yield sql
            finally:
                if not self.keep:  # used now and then: no connection held in between
                    self.store.reset()
