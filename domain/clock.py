"""The clock port: where recorded time comes from."""

from datetime import datetime
from typing import Protocol


class Clock(Protocol):
    def now(self) -> datetime:
        """The current recorded time, timezone-aware (UTC)."""
        ...
