"""The one place where ports meet adapters: settings in; the Ledger, the read side, the
signing key and the workers out. Every entry point (the HTTP app, each command, each
worker) builds what it needs here, from one checked ``Settings``."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime

from adapters.clock import SystemClock
from adapters.payments import FakePaymentProvider
from adapters.signing import SigningKey
from adapters.store import StoreSettings
from adapters.wakeup import DatagramWakeup
from domain.clock import Clock
from domain.payment_provider import PaymentProvider
from service.audit.digests import signing_key_at
from service.billing.run import BillingSettings
from service.clock.test_clock import stored_instant, use_test_clock
from service.config.settings import Settings, load_settings
from service.ledger.application import Ledger
from service.reads.read_side import RUNNER, ReadSide
from service.webhooks.policy import DeliveryPolicy
from service.webhooks.worker import WebhookWorker


class ClockMisconfigured(ValueError):
    """SUBLEDGER_CLOCK names a clock this store cannot run on."""


def payment_provider(settings: Settings) -> PaymentProvider:
    """The embedded, sandbox-like provider: the only one there is (adapters/payments.py)."""
    return FakePaymentProvider()


def open_ledger(
    settings: Settings,
    clock: Clock | None = None,
    test_clock_start: datetime | None = None,
    provider: PaymentProvider | None = None,
    reading: bool = False,
    env: Mapping[str, str] | None = None,
) -> Ledger:
    """The Ledger on the store the settings name, on the clock they name: the system
    clock, or the store's test clock (started at ``test_clock_start``, default now, if the
    store has none). ``clock`` replaces the system clock (tests). ``reading``: for commands
    that only read (history, audit, projections), on the system clock whatever the store's.

    A store whose test clock is ahead of the system clock is refused the system clock:
    its events would be recorded before ones it already holds."""
    store = settings.store()
    ledger = ledger_on(settings, store, clock, provider, env)
    if reading:
        return ledger
    if settings.clock == "test":
        use_test_clock(ledger, test_clock_start)
        return ledger
    rehearsed = stored_instant(ledger.events)
    if rehearsed is not None and rehearsed > ledger.clock.now():
        ledger.close()
        raise ClockMisconfigured(
            f"{store.describe()} runs on a test clock, now at {rehearsed.isoformat()},"
            " ahead of the system clock: use --test-clock (SUBLEDGER_CLOCK=test)"
        )
    return ledger


def ledger_on(
    settings: Settings,
    store: StoreSettings,
    clock: Clock | None = None,
    provider: PaymentProvider | None = None,
    env: Mapping[str, str] | None = None,
) -> Ledger:
    """The Ledger on ``store`` with the settings' seller and provider: the configured
    store's, or another's (the new store a migration writes, service/privacy/migration.py)."""
    store.prepare()
    ledger = Ledger(
        env=store.eventsourcing_env() | dict(env or {}),
        clock=clock or SystemClock(),
        payment_provider=provider or payment_provider(settings),
        seller=settings.seller(),
        retention=settings.retention(),
    )
    if store.sqlite_path is not None:
        # SQLite has no NOTIFY: a runner in another process (serve's, ADR 0005) is told of
        # each save, so that reads naming a position wait milliseconds, not a poll interval
        ledger.saved.also(DatagramWakeup(store.sqlite_path, RUNNER).announce)
    return ledger


@dataclass
class Service:
    """What an entry point runs on, built on demand from the settings and closed once."""

    settings: Settings
    ledger: Ledger
    _read_side: ReadSide | None = field(default=None, init=False)
    _signing_key: SigningKey | None = field(default=None, init=False)

    @property
    def store(self) -> StoreSettings:
        return self.settings.store()

    @property
    def read_side(self) -> ReadSide:
        if self._read_side is None:
            self._read_side = ReadSide(self.store, self.ledger)
        return self._read_side

    @property
    def signing_key(self) -> SigningKey:
        if self._signing_key is None:
            self._signing_key = signing_key_at(self.settings.path(self.settings.signing_key))
        return self._signing_key

    def billing(self) -> BillingSettings:
        return BillingSettings.from_settings(self.settings)

    def webhook_worker(self) -> WebhookWorker:
        return WebhookWorker(
            self.ledger,
            self.store,
            DeliveryPolicy.from_settings(self.settings),
            public_url=self.settings.public_url,
            destinations=self.settings.destinations(),
        )

    def close(self) -> None:
        if self._read_side is not None:
            self._read_side.stop()
        self.ledger.close()


def bootstrap(
    settings: Settings | None = None,
    clock: Clock | None = None,
    test_clock_start: datetime | None = None,
    reading: bool = False,
) -> Service:
    """The service on the configured store (raising StoreUnreachable with one clear line)."""
    settings = settings or load_settings()
    ledger = open_ledger(settings, clock, test_clock_start, reading=reading)
    return Service(settings, ledger)
