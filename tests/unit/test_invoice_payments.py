"""The Invoice and the payment provider: checks before a charge, declines, refunds paid out."""

from datetime import date
from decimal import Decimal
from fractions import Fraction
from uuid import uuid4

import pytest

from domain.errors import (
    AmountNotPositive,
    CreditExceedsInvoice,
    InvoiceNotOpen,
    NotFound,
    PaymentExceedsBalance,
)
from domain.invoice import Invoice, InvoiceLine
from domain.money import Money
from domain.period import DateRange
from tests.builders import cause

WHY = "price error"


def usd(amount):
    return Money.of(amount, "USD")


@pytest.fixture
def invoice():
    """An open invoice of 100.00 USD."""
    line = InvoiceLine.charge(
        "Sales Cloud",
        "sales-cloud",
        1,
        usd("100.00"),
        DateRange(date(2026, 1, 1), date(2027, 1, 1)),
        Fraction(1),
        Decimal(0),
    )
    invoice = Invoice.issue(
        uuid4(), uuid4(), uuid4(), "INV-1", "USD", [line], date(2026, 2, 4), cause()
    )
    invoice.collect_events()
    return invoice


def test_require_payable_refuses_what_record_payment_would_and_records_nothing(invoice):
    invoice.require_payable(usd("100.00"))
    with pytest.raises(PaymentExceedsBalance):
        invoice.require_payable(usd("100.01"))
    with pytest.raises(AmountNotPositive):
        invoice.require_payable(usd("0"))
    invoice.record_payment("ch_1", usd("100.00"), "pm_card_visa", cause())
    with pytest.raises(InvoiceNotOpen):
        invoice.require_payable(usd("1.00"))


def test_a_declined_charge_is_recorded_and_changes_no_balance(invoice):
    invoice.record_payment_failure(
        usd("100.00"), "pm_card_declined", "card_declined", "Your card was declined.", cause()
    )
    (event,) = invoice.collect_events()
    assert isinstance(event, Invoice.PaymentFailed)
    assert (event.amount, event.method_reference, event.decline_code, event.reason) == (
        usd("100.00"),
        "pm_card_declined",
        "card_declined",
        "Your card was declined.",
    )
    assert invoice.balance == usd("100.00")


def test_a_decline_is_not_recorded_on_a_paid_invoice(invoice):
    invoice.record_payment("ch_1", usd("100.00"), "pm_card_visa", cause())
    with pytest.raises(InvoiceNotOpen):
        invoice.record_payment_failure(usd("1.00"), "pm_card_visa", "card_declined", "No.", cause())


def test_a_refund_comes_from_the_newest_payments_first(invoice):
    invoice.record_payment("ch_1", usd("30.00"), "pm_card_visa", cause())
    invoice.record_payment("ch_2", usd("50.00"), "pm_card_visa", cause())
    assert invoice.refunds_for(usd("20.00")) == [("ch_2", usd("20.00"))]
    assert invoice.refunds_for(usd("70.00")) == [("ch_2", usd("50.00")), ("ch_1", usd("20.00"))]
    with pytest.raises(CreditExceedsInvoice):
        invoice.refunds_for(usd("80.01"))


def test_refunds_paid_out_never_exceed_the_refunds_due_nor_a_payment(invoice):
    invoice.record_payment("ch_1", usd("30.00"), "pm_card_visa", cause())
    invoice.record_payment("ch_2", usd("70.00"), "pm_card_visa", cause())
    due = invoice.issue_credit_note("cn1", usd("60.00"), cause(reason=WHY), "A-1")
    assert due == usd("60.00") == invoice.refund_due
    with pytest.raises(CreditExceedsInvoice):  # beyond what is left of the payment
        invoice.record_refund("ch_1", "re_1", usd("30.01"), "cn1", cause())
    invoice.record_refund("ch_2", "re_1", usd("50.00"), "cn1", cause())
    assert invoice.refunds_for(usd("30.00")) == [("ch_2", usd("20.00")), ("ch_1", usd("10.00"))]
    with pytest.raises(CreditExceedsInvoice):  # beyond the refunds due
        invoice.record_refund("ch_1", "re_2", usd("10.01"), "cn1", cause())
    invoice.record_refund("ch_1", "re_2", usd("10.00"), "cn1", cause())
    assert invoice.refund_due == usd("0.00")
    assert invoice.refunded == {"ch_2": usd("50.00"), "ch_1": usd("10.00")}
    assert (invoice.paid, invoice.balance) == (usd("40.00"), usd("0.00"))  # unchanged by payouts


def test_a_refund_names_a_payment_and_a_credit_note_of_the_invoice(invoice):
    invoice.record_payment("ch_1", usd("100.00"), "pm_card_visa", cause())
    invoice.issue_credit_note("cn1", usd("10.00"), cause(reason=WHY), "A-1")
    with pytest.raises(NotFound):
        invoice.record_refund("ch_x", "re_1", usd("10.00"), "cn1", cause())
    with pytest.raises(NotFound):
        invoice.record_refund("ch_1", "re_1", usd("10.00"), "cn_x", cause())
