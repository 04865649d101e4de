"""``subledger history``: an account's state and timeline at a point in time, on SQLite."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import UTC, date, datetime
from pathlib import Path
from uuid import UUID, uuid4

import pytest

from adapters.clock import ControllableClock
from adapters.payments import FakePaymentProvider
from adapters.store import StoreSettings
from service.ledger.application import Ledger
from service.ledger.context import CommandContext
from tests.builders import open_account

SUBLEDGER = str(Path(sys.executable).with_name("subledger"))
ADMIN = CommandContext("ada", "admin")
STAFF = CommandContext("staff-1", "billing_staff", reason="seats missed on the order")


def history(db: Path, *args: str) -> subprocess.CompletedProcess[str]:
    environ = {k: v for k, v in os.environ.items() if not k.startswith("SUBLEDGER_")}
    return subprocess.run(
        [SUBLEDGER, "history", *args],
        env=environ | {"SUBLEDGER_DB": str(db)},
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.fixture(scope="module")
def book(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, UUID]:
    """10 seats from 2 March; on 20 March 5 more from 1 April; on 3 April 2 more from
    25 March (a backdated correction)."""
    db = tmp_path_factory.mktemp("history") / "ledger.db"
    clock = ControllableClock(datetime(2026, 3, 2, 9, tzinfo=UTC))
    ledger = Ledger(
        env=StoreSettings(sqlite_path=str(db)).eventsourcing_env(),
        clock=clock,
        payment_provider=FakePaymentProvider(),
    )
    try:
        account_id = open_account(ledger, CommandContext("staff-1", "billing_staff"))
        ledger.set_payment_method(ADMIN, account_id, "pm_card_visa")
        sub_id = ledger.start_subscription(ADMIN, account_id, {"sales-cloud": 10}).aggregate_id
        clock.set(datetime(2026, 3, 20, 9, tzinfo=UTC))
        ledger.add_licenses(ADMIN, sub_id, "sales-cloud", 5, date(2026, 4, 1))
        clock.set(datetime(2026, 4, 3, 9, tzinfo=UTC))
        ledger.add_licenses(STAFF, sub_id, "sales-cloud", 2, date(2026, 3, 25))
    finally:
        ledger.close()
    return db, account_id


def section(output: str, title: str) -> list[str]:
    lines = output.splitlines()
    start = lines.index(title) + 3  # the title, the headers, the rule
    return lines[start : lines.index("", start) if "" in lines[start:] else len(lines)]


def test_what_the_ledger_said_on_5_april_about_31_march(book: tuple[Path, UUID]) -> None:
    db, account_id = book
    result = history(db, str(account_id), "--as-of", "2026-04-05", "--effective", "2026-03-31")

    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert out.startswith("As known at 2026-04-05 23:59:59 UTC, in force on 2026-03-31")
    assert "edition         Essentials" in out
    assert "payment method  pm_card_visa" in out
    (line,) = section(out, "Contract lines")
    assert line.split()[1:3] == ["sales-cloud", "12"]  # 10 + the backdated 2, not the April 5
    (seats,) = section(out, "Seats")
    assert seats.split() == ["sales-cloud", "12", "0"]
    events = [row.split()[2] for row in section(out, "Timeline")]
    assert events.count("Subscription.LineQuantityIncreased") == 2
    later = [row for row in section(out, "Timeline") if row.endswith(" later")]
    assert len(later) == 2  # the April addition, on the contract and on the seats
    assert "seats missed on the order" in out


def test_as_of_an_earlier_day_the_later_facts_are_unknown(book: tuple[Path, UUID]) -> None:
    db, account_id = book
    result = history(db, str(account_id), "--as-of", "2026-03-31T12:00:00Z")

    assert result.returncode == 0, result.stderr
    (line,) = section(result.stdout, "Contract lines")
    assert line.split()[1:3] == ["sales-cloud", "10"]
    assert "seats missed" not in result.stdout
    invoices = [row for row in section(result.stdout, "Invoices") if row.startswith("F-")]
    assert len(invoices) == 2  # the first period's, and the prorated five seats'
    assert "open balance: 4376.71 USD" in result.stdout


def test_an_unknown_account_or_a_malformed_instant_is_one_clear_line(
    book: tuple[Path, UUID],
) -> None:
    db, account_id = book
    unknown = history(db, str(uuid4()), "--as-of", "2026-04-05")
    assert unknown.returncode == 1
    # the store the command opened, then the one line that says what is wrong
    assert unknown.stderr.splitlines()[0] == f"store: SQLite file {db}"
    assert unknown.stderr.splitlines()[1].startswith("subledger: no account")

    too_early = history(db, str(account_id), "--as-of", "2026-03-01")
    assert too_early.returncode == 1
    assert "no account" in too_early.stderr

    malformed = history(db, str(account_id), "--as-of", "yesterday")
    assert malformed.returncode == 1
    assert malformed.stderr.splitlines()[-1] == (
        "subledger: as_of must be an ISO 8601 date or date-time, got 'yesterday'"
    )
