"""Commands on one subject run one at a time within a process.

Two requests on the same contract that run side by side both load it, both change it,
and one save is refused as stale (ADR 0001). The ledger retries a stale command once;
with many request threads on one contract most of them then failed with 409 (16
threads: about 1 in 8 succeeded). Queued behind each other instead, they all see
fresh state and succeed. Across processes the version check still decides, and the
retry stays.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from uuid import UUID

# Locks are striped: bounded memory for any number of subjects; two subjects that share
# a stripe merely wait for each other.
STRIPES = 1024


class SubjectLocks:
    def __init__(self, stripes: int = STRIPES) -> None:
        self._stripes = [threading.Lock() for _ in range(stripes)]
        self._inside = threading.local()

    @contextmanager
    def holding(self, subject: UUID) -> Iterator[None]:
        """The subject's lock for the outermost command of this thread; a command run
        inside another already holds one, and taking a second could deadlock."""
        if getattr(self._inside, "command", False):
            yield
            return
        with self._stripes[subject.int % len(self._stripes)]:
            self._inside.command = True
            try:
                yield
            finally:
                self._inside.command = False
