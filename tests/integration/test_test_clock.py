"""The test clock on a real store (SQLite and PostgreSQL): kept in the log, read by every
ledger on the store, never moved back, and moving it bills exactly as a billing run every
night at midnight would have (ADR 0015)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from typing import Any
from uuid import NAMESPACE_URL, uuid5

import pytest

from adapters.clock import ControllableClock
from adapters.payments import FakePaymentProvider
from adapters.runner_lock import RunnerLock
from adapters.store import StoreSettings
from domain.catalog import Edition
from domain.period import BillingPeriod
from service.billing.run import BILLING_LOCK, BillingRun, Kind
from service.bootstrap import ClockMisconfigured, open_ledger
from service.clock import test_clock
from service.clock.durations import parse_duration
from service.config.settings import SettingsInvalid
from service.ledger.application import Ledger, period_invoice_id
from service.ledger.context import CommandContext
from tests.builders import administrator
from tests.builders import billing as billing_details
from tests.conftest import T0
from tests.e2e.live_server import settings_for, store_environ
from tests.integration.test_cli import run_cli

STAFF = CommandContext("staff-1", "billing_staff")
ADMIN = CommandContext("ada", "admin")
ACCOUNT = uuid5(NAMESPACE_URL, "test-clock:account")
MONTHLY = uuid5(NAMESPACE_URL, "test-clock:monthly")
ANNUAL = uuid5(NAMESPACE_URL, "test-clock:annual")


def history(ledger: Ledger) -> None:
    """An account with a two-month monthly contract that renews and an annual one whose
    renewal is cancelled, nothing paid: invoices, reminders, a renewal, overdue marks."""
    admin, details = administrator(), billing_details("DE")
    ledger.open_account(
        STAFF, "Acme", Edition.PROFESSIONAL, "EUR", details, admin, account_id=ACCOUNT
    )
    ledger.start_subscription(
        ADMIN,
        ACCOUNT,
        {"sales-cloud": 2},
        term_months=2,
        billing_period=BillingPeriod.MONTHLY,
        subscription_id=MONTHLY,
    )
    ledger.start_subscription(ADMIN, ACCOUNT, {"inbox": 3}, term_months=3, subscription_id=ANNUAL)
    ledger.cancel_renewal(ADMIN, ANNUAL)


def billed(ledger: Ledger) -> list[tuple[Any, ...]]:
    """Every event but the clock's own: what it is, whose, when recorded, when effective."""
    found = []
    for notification in ledger.recorder.select_notifications(1, 100_000):
        event: Any = ledger.mapper.to_domain_event(notification)
        if not isinstance(event, test_clock.StoredClock.Event):
            what = (type(event).__qualname__, event.originator_id, event.originator_version)
            found.append((*what, event.timestamp, event.effective()))
    return found


@pytest.fixture
def rehearsed(ledger: Ledger, store: StoreSettings) -> test_clock.ClockControl:
    history(ledger)
    test_clock.use_test_clock(ledger)
    return test_clock.ClockControl(ledger, store)


def test_moving_the_clock_bills_as_a_run_every_midnight_would_have(
    rehearsed: test_clock.ClockControl,
) -> None:
    end = datetime(2026, 5, 20, 12, tzinfo=UTC)
    move = rehearsed.move_to(STAFF, end)

    nightly_clock = ControllableClock(T0)
    nightly = Ledger(
        {"PERSISTENCE_MODULE": "eventsourcing.popo"},
        nightly_clock,
        payment_provider=FakePaymentProvider(),
    )
    history(nightly)
    day = T0.date() + timedelta(days=1)
    while day <= end.date():
        nightly_clock.set(datetime(day.year, day.month, day.day, tzinfo=UTC))
        BillingRun(nightly).run()
        day += timedelta(days=1)

    assert billed(rehearsed.ledger) == billed(nightly)
    kinds = {action.kind for action in move.billing.actions}
    assert kinds == set(Kind)  # invoices, reminders, a renewal, an expiry, overdue marks
    assert (move.previous, move.now, rehearsed.ledger.clock.now()) == (T0, end, end)
    assert move.position == rehearsed.ledger.head_position()


def test_every_ledger_on_the_store_reads_the_clock_from_it(
    rehearsed: test_clock.ClockControl, make_ledger: Callable[[], Ledger]
) -> None:
    other_process = make_ledger()
    test_clock.use_test_clock(other_process)  # finds the clock: does not start another
    assert other_process.clock.now() == T0

    rehearsed.advance(STAFF, parse_duration("P1M"))
    assert other_process.clock.now() == datetime(2026, 2, 5, 9, tzinfo=UTC)
    test_clock.ClockControl(other_process, rehearsed.store).advance(STAFF, parse_duration("PT1H"))
    assert rehearsed.ledger.clock.now() == datetime(2026, 2, 5, 10, tzinfo=UTC)


def test_the_clock_survives_a_restart(
    rehearsed: test_clock.ClockControl, store: StoreSettings
) -> None:
    rehearsed.advance(STAFF, parse_duration("P40D"))
    rehearsed.ledger.close()

    restarted = open_ledger(settings_for(store, SUBLEDGER_CLOCK="test"))
    try:
        assert restarted.clock.now() == T0 + timedelta(days=40)
    finally:
        restarted.close()


def test_it_never_goes_back_and_a_refusal_writes_nothing(
    rehearsed: test_clock.ClockControl,
) -> None:
    rehearsed.advance(STAFF, parse_duration("P1D"))
    head = rehearsed.ledger.head_position()

    with pytest.raises(test_clock.ClockCannotGoBack):
        rehearsed.move_to(STAFF, T0)
    with pytest.raises(test_clock.ClockCannotGoBack):
        rehearsed.ledger.repository.get(test_clock.CLOCK_ID).advance_to(T0, STAFF.cause(T0))
    assert rehearsed.ledger.head_position() == head


def test_a_retried_move_moves_once(rehearsed: test_clock.ClockControl) -> None:
    retried = CommandContext("staff-1", "billing_staff", idempotency_key="k1", fingerprint="f")
    first = rehearsed.advance(retried, parse_duration("P1D"))
    head = rehearsed.ledger.head_position()

    again = rehearsed.advance(retried, parse_duration("P1D"))
    assert again.receipt.replayed and not first.receipt.replayed
    assert rehearsed.ledger.clock.now() == T0 + timedelta(days=1)
    assert rehearsed.ledger.head_position() == head


def test_a_move_waits_for_a_billing_run_in_progress(
    rehearsed: test_clock.ClockControl, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(test_clock, "LOCK_WAIT_SECONDS", 0.3)
    running = RunnerLock(rehearsed.store, BILLING_LOCK)
    assert running.try_acquire()
    try:
        with pytest.raises(test_clock.BillingRunInProgress):
            rehearsed.advance(STAFF, parse_duration("P1D"))
    finally:
        running.release()
    assert rehearsed.ledger.clock.now() == T0


def test_without_a_test_clock_nothing_can_move_the_clock(ledger: Ledger, store: StoreSettings):
    with pytest.raises(test_clock.NoTestClock):
        test_clock.ClockControl(ledger, store)
    with pytest.raises(Exception, match="billing cannot run ahead of the clock"):
        BillingRun(ledger).run(date(2026, 2, 1))


def test_the_system_clock_is_refused_a_store_rehearsed_ahead_of_it(
    rehearsed: test_clock.ClockControl, store: StoreSettings
) -> None:
    ahead = datetime.now(UTC) + timedelta(days=30)
    rehearsed.move_to(STAFF, ahead)

    with pytest.raises(ClockMisconfigured, match="runs on a test clock"):
        open_ledger(settings_for(store))
    with pytest.raises(SettingsInvalid, match=r"SUBLEDGER_CLOCK: .*'system' or 'test'"):
        settings_for(store, SUBLEDGER_CLOCK="tomorrow")


def test_a_new_test_clock_never_starts_before_the_last_recorded_event(
    ledger: Ledger, store: StoreSettings
) -> None:
    history(ledger)  # recorded at T0
    test_clock.use_test_clock(ledger, start=T0 - timedelta(days=365))
    assert ledger.clock.now() == T0


def test_billing_run_until_a_later_day_moves_only_a_test_clock(
    rehearsed: test_clock.ClockControl, store: StoreSettings
) -> None:
    rehearsed.ledger.close()
    env = store_environ(store)

    ahead = run_cli("billing", "run", "--until", "2999-01-01", **env)  # the system clock's
    assert ahead.returncode == 1
    assert "cannot run ahead of the clock" in ahead.stderr
    assert "only a test clock" in ahead.stderr

    rehearsal = run_cli("billing", "run", "--until", "2026-02-10", SUBLEDGER_CLOCK="test", **env)
    assert rehearsal.returncode == 0, rehearsal.stderr
    lines = rehearsal.stdout.splitlines()
    assert (
        lines[0] == "test clock moved from 2026-01-05T09:00:00+00:00 to 2026-02-10T00:00:00+00:00"
    )
    assert lines[1] == "billing run up to 2026-02-10:"
    assert f"2026-02-03  reminder  {MONTHLY}" in lines[2]  # 30 days before 5 March
    assert f"2026-02-05  invoice   {MONTHLY}" in lines[3]
    assert lines[-1] == f"{len(lines) - 3} done, 0 failed"

    reopened = open_ledger(settings_for(store, SUBLEDGER_CLOCK="test"))
    try:
        assert reopened.clock.now() == datetime(2026, 2, 10, tzinfo=UTC)
        issued = reopened.invoice(period_invoice_id(MONTHLY, date(2026, 2, 5)))
        assert issued.issued_on == date(2026, 2, 5)  # on its day, not on 10 February
    finally:
        reopened.close()
