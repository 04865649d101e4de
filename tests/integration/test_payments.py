"""Payments and refunds through the provider on a real store: what happens when the
provider and the ledger disagree for a moment (each test runs on SQLite and PostgreSQL)."""

from __future__ import annotations

import dataclasses
import itertools
import threading
from collections import Counter
from collections.abc import Callable
from typing import Any

import pytest

from adapters.payments import FakePaymentProvider
from domain.errors import DomainError, InvoiceNotOpen
from domain.invoice import Invoice
from domain.money import Money
from domain.payment_provider import PaymentProviderUnavailable
from service.ledger.application import Ledger
from service.ledger.context import CommandContext
from service.ledger.errors import PreconditionFailed
from service.payments.payments import Payments
from tests.builders import open_account

STAFF_REFUND = CommandContext("staff-1", "billing_staff", reason="price error")


class Flaky(FakePaymentProvider):
    """The fake, with a hook run before each call (to fail it, or to race it)."""

    def __init__(self) -> None:
        super().__init__()
        self.before: dict[str, Any] = {}

    def charge(self, method_reference: str, amount: Money, idempotency_key: str) -> Any:
        if hook := self.before.pop("charge", None):
            hook()
        return super().charge(method_reference, amount, idempotency_key)

    def refund(self, charge_id: str, amount: Money, idempotency_key: str) -> str:
        hooks = self.before.get("refund", [])
        if hooks and (hook := hooks.pop(0)):
            hook()
        return super().refund(charge_id, amount, idempotency_key)


@pytest.fixture
def flaky(ledger: Ledger) -> Flaky:
    ledger.payment_provider = Flaky()
    return ledger.payment_provider


def an_invoice(ledger: Ledger, staff: CommandContext, admin: CommandContext) -> Invoice:
    """A new contract's first invoice (1500.00 USD), on an account paying by pm_card_visa."""
    account_id = open_account(ledger, staff)
    ledger.set_payment_method(admin, account_id, "pm_card_visa")
    receipt = ledger.start_subscription(admin, account_id, {"sales-cloud": 5})
    (invoice,) = [a for a in map(ledger.repository.get, receipt.created) if isinstance(a, Invoice)]
    return invoice


def test_a_charge_the_ledger_then_refuses_is_refunded_at_once(ledger, staff, admin, flaky):
    invoice = an_invoice(ledger, staff, admin)

    def settled_meanwhile() -> None:  # another payment wins the race after our checks
        ledger.record_payment(admin, invoice.id, invoice.balance)

    flaky.before["charge"] = settled_meanwhile
    with pytest.raises(InvoiceNotOpen):
        Payments(ledger).pay(admin, invoice.id)
    (charge,) = flaky.charges.values()
    assert flaky.refunded(charge.charge_id) == charge.amount
    assert charge.charge_id not in ledger.invoice(invoice.id).payments


def test_a_payout_interrupted_by_an_outage_is_finished_by_its_retry_paying_nothing_twice(
    ledger, staff, admin, flaky
):
    invoice = an_invoice(ledger, staff, admin)
    payments = Payments(ledger)
    half = Money.of("750.00", "USD")
    payments.pay(admin, invoice.id, half)
    payments.pay(admin, invoice.id, half)

    def outage() -> None:
        raise PaymentProviderUnavailable("down")

    flaky.before["refund"] = [None, outage]  # the first refund goes through, the second fails
    head = ledger.head_position()
    with pytest.raises(PaymentProviderUnavailable):
        payments.refund(STAFF_REFUND, invoice.id, Money.of("1000.00", "USD"))
    assert ledger.head_position() == head
    assert len(flaky.refunds) == 1

    receipt = payments.refund(STAFF_REFUND, invoice.id, Money.of("1000.00", "USD"))
    assert receipt.refund == Money.of("1000.00", "USD")
    assert sorted(r.amount.amount for r in flaky.refunds.values()) == [250, 750]
    after = ledger.invoice(invoice.id)
    assert sum(m.amount for m in after.refunded.values()) == 1000
    assert after.refund_due == Money.of("0.00", "USD")


# -- checked before charged (each check under the invoice's lock, ADR 0014) ----------------


def at_once(threads: int, act: Callable[[], object]) -> Counter[str]:
    """Run ``act`` in ``threads`` threads released together; how each ended."""
    barrier = threading.Barrier(threads)
    outcomes: Counter[str] = Counter()

    def run() -> None:
        barrier.wait()
        try:
            act()
            outcomes["done"] += 1
        except DomainError as refused:
            outcomes[type(refused).__name__] += 1

    workers = [threading.Thread(target=run) for _ in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=60)
    return outcomes


def test_concurrent_payments_make_no_more_charges_than_succeed(ledger, staff, admin, flaky):
    invoice = an_invoice(ledger, staff, admin)  # 1500.00
    payments = Payments(ledger)

    outcomes = at_once(16, lambda: payments.pay(admin, invoice.id, Money.of("200.00", "USD")))

    assert outcomes == Counter(done=7, PaymentExceedsBalance=9)  # 7 x 200 <= 1500 < 8 x 200
    assert len(flaky.charges) == 7  # each refused payment was refused before its charge
    assert flaky.refunds == {}  # so nothing had to be given back
    assert set(ledger.invoice(invoice.id).payments) == set(flaky.charges)


def test_a_stale_if_match_is_refused_before_the_charge(ledger, staff, admin, flaky):
    invoice = an_invoice(ledger, staff, admin)
    stale = dataclasses.replace(admin, expected_version=invoice.version - 1)

    with pytest.raises(PreconditionFailed):
        Payments(ledger).pay(stale, invoice.id)

    assert (flaky.charges, flaky.refunds) == ({}, {})


def test_concurrent_refunds_pay_out_only_what_the_ledger_records(ledger, staff, admin, flaky):
    invoice = an_invoice(ledger, staff, admin)
    payments = Payments(ledger)
    payments.pay(admin, invoice.id)  # 1500.00 paid

    keys = itertools.count()  # a key each: eight different requests, not retries of one

    def refund() -> object:
        ctx = dataclasses.replace(STAFF_REFUND, idempotency_key=f"r-{next(keys)}", fingerprint="f")
        return payments.refund(ctx, invoice.id, Money.of("1000.00", "USD"))

    outcomes = at_once(8, refund)

    assert outcomes == Counter(done=1, CreditExceedsInvoice=7)
    (refund,) = flaky.refunds.values()
    assert refund.amount == Money.of("1000.00", "USD")
    assert ledger.invoice(invoice.id).refunded_of(refund.charge_id) == refund.amount
