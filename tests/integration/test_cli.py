"""The command line: the demo, and a clear one-line failure when the store is unreachable."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from adapters.payments import FakePaymentProvider
from domain.invoice import InvoiceStatus
from domain.period import BillingPeriod
from domain.subscription import SubscriptionStatus
from service.demo.history import LUMEN, NORTHWIND, load_demo
from service.ledger.application import Ledger
from service.ledger.errors import DemoAlreadyLoaded

SUBLEDGER = str(Path(sys.executable).with_name("subledger"))


def run_cli(*args, **env):
    environ = {k: v for k, v in os.environ.items() if not k.startswith("SUBLEDGER_")}
    return subprocess.run(
        [SUBLEDGER, *args], env=environ | env, capture_output=True, text=True, timeout=120
    )


def test_the_demo_writes_fourteen_months_for_two_accounts_once(store):
    env = store.eventsourcing_env()
    ledger, summary = load_demo(
        lambda clock: Ledger(env=env, clock=clock, payment_provider=FakePaymentProvider())
    )
    try:
        northwind = ledger.account(NORTHWIND)
        assert northwind.upgrade_requested is not None
        assert northwind.identity_licenses == ["cara"]
        northwind_sub, lumen_sub, lumen_comeback = (
            ledger.subscription(s) for s in summary.subscriptions.values()
        )
        assert northwind_sub.terms_served == 2
        assert northwind_sub.lines["sales-cloud"].quantity == 10
        assert lumen_sub.status is SubscriptionStatus.EXPIRED
        assert lumen_comeback.status is SubscriptionStatus.ACTIVE
        assert lumen_comeback.billing_period is BillingPeriod.MONTHLY
        assert ledger.account(LUMEN).currency == "EUR"
        invoices = [ledger.invoice(i) for i in summary.invoices]
        assert all(inv.status is InvoiceStatus.PAID for inv in invoices)
        late = [inv for inv in invoices if inv.paid_on and inv.paid_on > inv.due_on]
        assert len(late) == 1
        head = ledger.head_position()
        with pytest.raises(DemoAlreadyLoaded):
            load_demo(
                lambda clock: Ledger(env=env, clock=clock, payment_provider=FakePaymentProvider())
            )
        assert ledger.head_position() == head
    finally:
        ledger.close()


def test_the_demo_command_refuses_to_load_twice(tmp_path):
    db = str(tmp_path / "demo.db")
    first = run_cli("demo", SUBLEDGER_DB=db)
    assert first.returncode == 0, first.stderr
    assert "demo history written" in first.stdout

    again = run_cli("demo", SUBLEDGER_DB=db)
    assert again.returncode == 1
    assert "already in this store" in again.stderr

    tolerant = run_cli("demo", "--if-empty", SUBLEDGER_DB=db)
    assert tolerant.returncode == 0
    assert "already holds the demo history" in tolerant.stdout


def test_an_unreachable_postgresql_fails_at_start_with_one_clear_line():
    result = run_cli("demo", SUBLEDGER_DATABASE_URL="postgresql://ledger@127.0.0.1:1/ledger")

    assert result.returncode == 2
    assert result.stderr.count("\n") == 1
    assert result.stderr.startswith("subledger: cannot reach PostgreSQL ledger@127.0.0.1:1/ledger")
    assert "Traceback" not in result.stderr


def test_a_malformed_database_url_is_named():
    result = run_cli("demo", SUBLEDGER_DATABASE_URL="mysql://x@y/z")

    assert result.returncode == 2
    assert "must start with postgresql://" in result.stderr
