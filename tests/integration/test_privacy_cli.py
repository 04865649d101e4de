"""``subledger privacy erase SUBJECT`` on a SQLite store: the contact reads as erased after,
and a subject the ledger does not know is refused with one line."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime
from pathlib import Path

from adapters.clock import ControllableClock, SystemClock
from adapters.payments import FakePaymentProvider
from adapters.store import StoreSettings
from domain.personal_data import ERASED
from service.ledger.application import Ledger
from tests.builders import open_account
from tests.integration.test_audit_cli import STAFF, cli
from tests.integration.test_erasure import GRACE


def test_privacy_erase_from_the_command_line(tmp_path: Path):
    db = tmp_path / "ledger.db"
    settings = StoreSettings(sqlite_path=str(db))
    ledger = Ledger(
        env=settings.eventsourcing_env(),
        clock=ControllableClock(datetime.now(UTC)),
        payment_provider=FakePaymentProvider(),
    )
    try:
        account_id = open_account(ledger, STAFF)
        ledger.add_contact(STAFF, account_id, GRACE, contact_id="grace")
    finally:
        ledger.close()

    done = cli(db, "privacy", "erase", f"contact:{account_id}:grace", "--reason", "asked")
    assert done.returncode == 0, done.stderr
    assert f"erased contact:{account_id}:grace: 1 key(s) destroyed" in done.stdout

    unknown = cli(db, "privacy", "erase", f"contact:{account_id}:nobody", "--reason", "asked")
    assert unknown.returncode == 1
    assert (
        unknown.stderr.splitlines()[-1] == "subledger: no contact nobody in this account's history"
    )
    no_reason = cli(db, "privacy", "erase", f"contact:{account_id}:grace")
    assert no_reason.returncode == 2 and "--reason" in no_reason.stderr

    ledger = Ledger(
        env=settings.eventsourcing_env(),
        clock=SystemClock(),
        payment_provider=FakePaymentProvider(),
    )
    try:
        assert ledger.account(account_id).contacts["grace"].email == ERASED
    finally:
        ledger.close()


def test_privacy_erase_of_a_buyer_prints_what_is_held_until_when(tmp_path: Path):
    db = tmp_path / "ledger.db"
    settings = StoreSettings(sqlite_path=str(db))
    ledger = Ledger(
        env=settings.eventsourcing_env(),
        clock=SystemClock(),
        payment_provider=FakePaymentProvider(),
    )
    try:
        account_id = open_account(ledger, STAFF)
        sub = ledger.start_subscription(STAFF, account_id, {"sales-cloud": 1}).aggregate_id
        ledger.cancel_subscription(dataclasses.replace(STAFF, reason="left"), sub)
        (invoice,) = ledger.invoices_of(account_id)
        year = invoice.issued_on.year
    finally:
        ledger.close()

    done = cli(db, "privacy", "erase", f"buyer:{account_id}", "--reason", "asked")

    assert done.returncode == 0, done.stderr
    assert f"erased now: buyer:{account_id}\n" in done.stdout
    assert (
        f"held until {year + 11}-01-01 (legal retention of {invoice.number}):"
        f" buyer:{account_id}:{year}, destroyed then by the retention run"
    ) in done.stdout
    retention = cli(db, "privacy", "retention")
    assert retention.returncode == 0, retention.stderr
    assert retention.stdout.splitlines()[-1] == "0 buyer key(s) past their retention"
