"""Clocks: the system clock for production, a controllable one for the demo and tests.

The controllable clock behaves like a payment provider's "test clock": it stands
still until moved, and it never moves backwards, because recorded time must only grow
for "as known at" queries to mean anything.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(tz=UTC)


class ControllableClock:
    def __init__(self, start: datetime) -> None:
        if start.tzinfo is None:
            raise ValueError("the clock needs a timezone-aware start")
        self._now = start

    def now(self) -> datetime:
        return self._now

    def set(self, moment: datetime) -> None:
        if moment.tzinfo is None:
            raise ValueError("the clock needs a timezone-aware time")
        if moment < self._now:
            raise ValueError(f"the clock cannot go back from {self._now} to {moment}")
        self._now = moment

    def advance(self, delta: timedelta) -> None:
        self.set(self._now + delta)
