"""A fake of the system clock for what runs on real time (web sessions, sign-in links):
it reads the system clock, so time passes as it does in production, and a test may jump
it ahead (never back) instead of waiting half an hour."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta


class RealTimeAhead:
    def __init__(self) -> None:
        self.ahead = timedelta(0)

    def now(self) -> datetime:
        return datetime.now(tz=UTC) + self.ahead

    def advance(self, delta: timedelta) -> None:
        if delta < timedelta(0):
            raise ValueError("real time does not go back")
        self.ahead += delta
