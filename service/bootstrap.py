"""The one place where ports meet adapters: settings in, a ready Ledger out."""

from __future__ import annotations

import os
from collections.abc import Mapping
from datetime import datetime

from adapters.clock import SystemClock
from adapters.store import StoreSettings
from domain.clock import Clock
from service.clock.test_clock import stored_instant, use_test_clock
from service.config.seller import seller_from_environ
from service.ledger.application import Ledger

CLOCKS = ("system", "test")


class ClockMisconfigured(ValueError):
    """SUBLEDGER_CLOCK names no clock, or not one this store can run on."""


def bootstrap(environ: Mapping[str, str] | None = None, clock: Clock | None = None) -> Ledger:
    """Open the configured store (raising StoreUnreachable with one clear line) and the Ledger."""
    environ = os.environ if environ is None else environ
    settings = StoreSettings.from_environ(environ)
    settings.prepare()
    return open_ledger(settings, environ, clock)


def clock_named(environ: Mapping[str, str]) -> str:
    """``SUBLEDGER_CLOCK``: ``system`` (the default) or ``test`` (ADR 0015)."""
    name = environ.get("SUBLEDGER_CLOCK", "").strip().lower() or "system"
    if name not in CLOCKS:
        raise ClockMisconfigured(f"SUBLEDGER_CLOCK must be system or test, got {name!r}")
    return name


def open_ledger(
    settings: StoreSettings,
    environ: Mapping[str, str],
    clock: Clock | None = None,
    test_clock_start: datetime | None = None,
) -> Ledger:
    """The Ledger on the clock ``SUBLEDGER_CLOCK`` names: the system clock, or the store's
    test clock (started at ``test_clock_start``, default now, if the store has none).

    A store whose test clock is ahead of the system clock is refused the system clock:
    its events would be recorded before ones it already holds."""
    ledger = Ledger(
        env=settings.eventsourcing_env(),
        clock=clock or SystemClock(),
        seller=seller_from_environ(environ),
    )
    if clock_named(environ) == "test":
        use_test_clock(ledger, test_clock_start)
        return ledger
    rehearsed = stored_instant(ledger.events)
    if rehearsed is not None and rehearsed > ledger.clock.now():
        ledger.close()
        raise ClockMisconfigured(
            f"{settings.describe()} runs on a test clock, now at {rehearsed.isoformat()},"
            " ahead of the system clock: use --test-clock (SUBLEDGER_CLOCK=test)"
        )
    return ledger
