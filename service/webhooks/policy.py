"""How hard the webhook worker tries: timeout, backoff, and when it gives up.

After the n-th consecutive failure of an endpoint the next attempt waits a random time
between 0 and ``min(cap, base * 2**(n-1))`` ("full jitter": endpoints that failed
together do not retry together). An endpoint is disabled, with the reason recorded as
an event, after ``disable_after_failures`` consecutive failures or once it has been
failing for ``give_up_after`` seconds, whichever comes first. With the defaults (base
5 s, cap 1 h) about 150 attempts fit in the 3 days, so the time limit is the one that
applies unless the count is set lower.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, fields

from domain.errors import InvalidValue
from service.config.settings import Settings

THREE_DAYS = 3 * 24 * 3600.0


@dataclass(frozen=True)
class DeliveryPolicy:
    timeout: float = 10.0  # seconds for each of connect, write and read
    backoff_base: float = 5.0
    backoff_cap: float = 3600.0
    disable_after_failures: int = 200
    give_up_after: float = THREE_DAYS
    batch_size: int = 100  # events read from the log at a time, per endpoint
    concurrency: int = 4  # endpoints served at once (each endpoint: one request at a time)
    poll: float = 1.0  # the longest wait for new events without a wake-up

    def __post_init__(self) -> None:
        for field in fields(self):
            if getattr(self, field.name) <= 0:
                raise InvalidValue(f"webhook {field.name} must be positive")
        if self.backoff_cap < self.backoff_base:
            raise InvalidValue("webhook backoff_cap must be at least backoff_base")

    @classmethod
    def from_settings(cls, settings: Settings) -> DeliveryPolicy:
        """``SUBLEDGER_WEBHOOK_TIMEOUT``, ``..._BACKOFF_BASE`` and so on."""
        return cls(**{f.name: getattr(settings, "webhook_" + f.name) for f in fields(cls)})

    def backoff(self, failures: int, rng: random.Random | None = None) -> float:
        """Seconds to wait after the ``failures``-th consecutive failure (full jitter)."""
        exponent = min(max(failures - 1, 0), 60)  # 2**60 seconds outlasts any cap
        ceiling = min(self.backoff_cap, self.backoff_base * 2**exponent)
        return (rng or random).uniform(0, ceiling)

    def exhausted(self, failures: int, failing_since: float, now: float) -> bool:
        """True once an endpoint has failed long enough, or often enough, to be disabled."""
        return failures >= self.disable_after_failures or now - failing_since >= self.give_up_after
