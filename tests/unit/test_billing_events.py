"""What the billing run records: a renewal reminder once per term, an overdue mark once."""

from datetime import UTC, date, datetime, time
from decimal import Decimal
from fractions import Fraction
from uuid import uuid4

import pytest

from domain.errors import (
    AlreadyExists,
    ContractNotActive,
    InvalidValue,
    InvoiceNotOpen,
    RenewalRule,
)
from domain.invoice import Invoice, InvoiceLine, InvoiceStatus
from domain.money import Money
from domain.period import BillingPeriod, DateRange
from domain.subscription import Line, Subscription
from tests.builders import cause

SALES = Line("sales-cloud", "sales-cloud", 5, Money.of("300.00", "USD"))
DUE = date(2026, 2, 4)


def on(day: date) -> datetime:
    return datetime.combine(day, time(2), tzinfo=UTC)


def contract(renews: bool = True) -> Subscription:
    sub = Subscription.start(
        uuid4(), uuid4(), "USD", BillingPeriod.ANNUAL, date(2026, 1, 5), 12, [SALES], cause()
    )
    if renews:
        sub.schedule_renewal(12, [SALES], cause())
    sub.collect_events()
    return sub


def open_invoice() -> Invoice:
    line = InvoiceLine.charge(
        "Sales Cloud",
        "sales-cloud",
        1,
        Money.of("100.00", "USD"),
        DateRange(date(2026, 1, 5), date(2027, 1, 5)),
        Fraction(1),
        Decimal("0"),
    )
    invoice = Invoice.issue(uuid4(), uuid4(), None, "INV-1", "USD", [line], DUE, cause())
    invoice.collect_events()
    return invoice


def test_a_renewal_reminder_goes_once_per_term_and_says_whether_the_contract_renews():
    sub = contract()
    sub.send_renewal_reminder(cause(on(date(2026, 12, 6))))

    (event,) = sub.collect_events()
    assert isinstance(event, Subscription.RenewalReminderSent)
    assert (event.term_end, event.renews, event.effective()) == (date(2027, 1, 5), True, None)
    assert sub.reminded_for == date(2027, 1, 5)
    with pytest.raises(AlreadyExists):
        sub.send_renewal_reminder(cause(on(date(2026, 12, 7))))

    sub.renew(cause(on(date(2027, 1, 5))))  # a new term: a new reminder is due before it ends
    sub.send_renewal_reminder(cause(on(date(2027, 12, 6))))
    assert sub.reminded_for == date(2028, 1, 5)


def test_a_reminder_for_a_contract_that_will_not_renew_says_so():
    sub = contract(renews=False)
    sub.send_renewal_reminder(cause(on(date(2026, 12, 6))))
    (event,) = sub.collect_events()
    assert event.renews is False


def test_no_reminder_once_the_term_has_ended_or_the_contract_has_ended():
    sub = contract(renews=False)
    with pytest.raises(RenewalRule, match="too late"):
        sub.send_renewal_reminder(cause(on(date(2027, 1, 5))))
    sub.expire(cause(on(date(2027, 1, 5))))
    with pytest.raises(ContractNotActive):
        sub.send_renewal_reminder(cause(on(date(2027, 1, 5))))


def test_an_invoice_open_after_its_due_date_is_marked_overdue_once_and_can_still_be_paid():
    invoice = open_invoice()
    with pytest.raises(InvalidValue, match="not overdue yet"):
        invoice.mark_overdue(cause(on(DUE)))

    invoice.mark_overdue(cause(on(date(2026, 2, 20))))  # noticed late: overdue since 5 Feb

    (event,) = invoice.collect_events()
    assert isinstance(event, Invoice.InvoiceOverdue)
    assert (event.effective_at, event.balance) == (date(2026, 2, 5), Money.of("100.00", "USD"))
    assert invoice.overdue and invoice.overdue_since == date(2026, 2, 5)
    with pytest.raises(AlreadyExists):
        invoice.mark_overdue(cause(on(date(2026, 2, 21))))

    invoice.record_payment("p1", Money.of("100.00", "USD"), "pm_card_visa", cause(on(DUE)))
    assert invoice.status is InvoiceStatus.PAID
    assert not invoice.overdue and invoice.overdue_since == date(2026, 2, 5)  # paid late


def test_a_paid_or_void_invoice_is_never_marked_overdue():
    paid = open_invoice()
    paid.record_payment("p1", Money.of("100.00", "USD"), "pm_card_visa", cause())
    with pytest.raises(InvoiceNotOpen):
        paid.mark_overdue(cause(on(date(2026, 3, 1))))


def restored_without(aggregate, attribute):
    """The aggregate as a snapshot from before ``attribute`` existed restores it (no __init__)."""
    old = object.__new__(type(aggregate))
    old.__dict__.update({k: v for k, v in vars(aggregate).items() if k != attribute})
    return old


def test_states_snapshotted_before_these_events_existed_read_as_never_reminded_or_overdue():
    assert restored_without(contract(), "reminded_for").reminded_for is None
    invoice = restored_without(open_invoice(), "overdue_since")
    assert invoice.overdue_since is None and not invoice.overdue
