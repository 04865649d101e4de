"""``subledger privacy erase SUBJECT`` on a SQLite store: the contact reads as erased after,
and a subject the ledger does not know is refused with one line."""

from __future__ import annotations

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
