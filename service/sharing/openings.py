"""How often anonymous visitors may open share links, and the openings not yet recorded.

A share link works without logging in, so whoever holds it (or tries addresses at
random) must neither grow the hash-chained log without bound nor pin the service down:

- a link records at most one opening per hour (``ShareLink.record_access``); the
  openings in between are counted here, per link, and the link's next recorded opening
  carries their number (``ShareLinkAccessed.count``);
- within ``OpeningLimits.window``, one link opens at most ``per_link`` times and one
  client address opens links at most ``per_address`` times; past either the visitor is
  refused (429, ``TooManyOpenings``) and nothing is served or counted.

Both are kept in this process's memory (a restart forgets the openings not yet recorded,
and each process behind a load balancer keeps its own), which is enough to bound what a
visitor costs; the log's record of openings is a lower bound of how often a link was opened.
"""

from __future__ import annotations

import math
import threading
from collections import Counter, deque
from dataclasses import dataclass
from datetime import datetime, timedelta
from uuid import UUID

SWEEP_EVERY = 1000  # admissions between sweeps of the addresses seen once and gone


@dataclass(frozen=True)
class OpeningLimits:
    per_link: int = 30
    per_address: int = 30
    window: timedelta = timedelta(minutes=10)


class TooManyOpenings(Exception):
    """A rate limit, not a refusal by the ledger: the HTTP layer answers 429."""

    def __init__(self, retry_after: timedelta) -> None:
        super().__init__("this shared invoice was opened too often just now; retry later")
        self.retry_after = max(1, math.ceil(retry_after.total_seconds()))


class Openings:
    def __init__(self, limits: OpeningLimits | None = None) -> None:
        self.limits = limits or OpeningLimits()
        self._lock = threading.Lock()
        self._recent: dict[str, deque[datetime]] = {}
        self._unrecorded: Counter[UUID] = Counter()
        self._admitted = 0

    def admit(self, link_id: UUID, client_address: str, now: datetime) -> None:
        """Count one opening of ``link_id`` from ``client_address``, or refuse it."""
        keys = {
            f"link:{link_id}": self.limits.per_link,
            f"address:{client_address}": self.limits.per_address,
        }
        with self._lock:
            since = now - self.limits.window
            for key, limit in keys.items():
                recent = self._recent.setdefault(key, deque())
                while recent and recent[0] <= since:
                    recent.popleft()
                if len(recent) >= limit:
                    raise TooManyOpenings(recent[0] - since)
            for key in keys:
                self._recent[key].append(now)
            self._admitted += 1
            if self._admitted % SWEEP_EVERY == 0:
                self._sweep(since)

    def _sweep(self, since: datetime) -> None:
        for key in [k for k, recent in self._recent.items() if not recent or recent[-1] <= since]:
            del self._recent[key]

    def unrecorded(self, link_id: UUID) -> int:
        with self._lock:
            return self._unrecorded[link_id]

    def not_recorded(self, link_id: UUID) -> None:
        with self._lock:
            self._unrecorded[link_id] += 1

    def recorded(self, link_id: UUID, included: int) -> None:
        """A recorded opening stood for ``included`` of the openings counted here."""
        with self._lock:
            left = self._unrecorded[link_id] - included
            if left > 0:
                self._unrecorded[link_id] = left
            else:
                del self._unrecorded[link_id]
