"""The one place where ports meet adapters: settings in, a ready Ledger out."""

from __future__ import annotations

import os
from collections.abc import Mapping

from adapters.clock import SystemClock
from adapters.store import StoreSettings
from domain.clock import Clock
from service.ledger import Ledger


def bootstrap(environ: Mapping[str, str] | None = None, clock: Clock | None = None) -> Ledger:
    """Open the configured store (raising StoreUnreachable with one clear line) and the Ledger."""
    settings = StoreSettings.from_environ(os.environ if environ is None else environ)
    settings.prepare()
    return Ledger(env=settings.eventsourcing_env(), clock=clock or SystemClock())
