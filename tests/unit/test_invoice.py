"""The Invoice: lines rounded half-up, payments, InvoicePaid, voiding and credit notes."""

from datetime import UTC, date, datetime
from decimal import Decimal
from fractions import Fraction
from uuid import uuid4

import pytest

from domain.errors import (
    AlreadyExists,
    AlreadyInThatState,
    AmountNotPositive,
    CreditExceedsInvoice,
    CurrencyMismatch,
    InvalidValue,
    InvoiceNotOpen,
    PaymentExceedsBalance,
    ReasonRequired,
    UnknownCurrency,
)
from domain.invoice import Invoice, InvoiceLine, InvoiceStatus
from domain.money import Money
from domain.period import DateRange
from tests.builders import cause

ACCOUNT = uuid4()
CONTRACT = uuid4()
YEAR_2026 = DateRange(date(2026, 1, 1), date(2027, 1, 1))
DUE = date(2026, 2, 4)
LATER = datetime(2026, 1, 20, 10, tzinfo=UTC)
WHY = "goodwill after outage"


def usd(amount):
    return Money.of(amount, "USD")


def charge(unit_price="100.00", quantity=1, share=Fraction(1), rate="0", currency="USD"):
    return InvoiceLine.charge(
        "Sales Cloud",
        "sales-cloud",
        quantity,
        Money.of(unit_price, currency),
        YEAR_2026,
        share,
        Decimal(rate),
    )


def issue(*lines, currency="USD", due=DUE):
    return Invoice.issue(
        uuid4(), ACCOUNT, CONTRACT, "INV-1", currency, list(lines or [charge()]), due, cause()
    )


def recorded(invoice):
    """The classes of the events recorded since the last call (and forget them)."""
    return [type(event) for event in invoice.collect_events()]


@pytest.fixture
def invoice():
    """An open invoice of 100.00 USD."""
    invoice = issue()
    invoice.collect_events()
    return invoice


# -- lines and totals -------------------------------------------------------------------


def test_a_prorated_line_is_rounded_half_up_to_the_cent():
    # 3 seats x 300.00 for the 266 days left of 365: 655.8904... -> 655.89
    share = YEAR_2026.remaining_fraction(date(2026, 4, 10))
    assert share == Fraction(266, 365)
    line = charge("300.00", quantity=3, share=share)
    assert line.amount == usd("655.89")
    assert (line.period_start, line.period_end) == (date(2026, 1, 1), date(2027, 1, 1))


def test_a_line_tax_is_rounded_half_up_on_the_rounded_amount():
    line = charge("300.00", quantity=3, share=Fraction(266, 365), rate="0.19", currency="EUR")
    assert line.tax == Money.of("124.62", "EUR")  # 655.89 x 0.19 = 124.6191


def test_an_exact_half_cent_rounds_up():
    # 3 x 12.35 x 1/2 = 18.525 -> 18.53 (banker's rounding would give 18.52); 20% of it 3.706
    line = charge("12.35", quantity=3, share=Fraction(1, 2), rate="0.20", currency="EUR")
    assert (line.amount, line.tax) == (Money.of("18.53", "EUR"), Money.of("3.71", "EUR"))


def test_the_total_is_the_sum_of_rounded_lines_plus_their_rounded_taxes():
    half = charge("12.35", quantity=3, share=Fraction(1, 2), rate="0.20", currency="EUR")
    seats = charge("300.00", quantity=3, share=Fraction(266, 365), rate="0.19", currency="EUR")
    invoice = issue(half, half, seats, currency="EUR")
    assert invoice.subtotal == Money.of("692.95", "EUR")  # 18.53 + 18.53 + 655.89
    assert invoice.tax == Money.of("132.04", "EUR")  # 3.71 + 3.71 + 124.62
    assert invoice.total == Money.of("824.99", "EUR")
    assert invoice.balance == invoice.total


@pytest.mark.parametrize("share", [Fraction(0), Fraction(-1, 2), Fraction(366, 365)])
def test_a_charge_for_more_than_one_period_or_none_of_it_is_refused(share):
    with pytest.raises(InvalidValue):
        charge(share=share)


def test_money_of_two_currencies_cannot_be_added():
    with pytest.raises(CurrencyMismatch):
        usd("1.00") + Money.of("1.00", "EUR")


def test_money_in_an_unknown_currency_cannot_be_made():
    with pytest.raises(UnknownCurrency):
        Money.of("1.00", "XYZ")


# -- issuing ----------------------------------------------------------------------------


def test_issuing_records_the_lines_and_the_due_date():
    invoice_id = uuid4()
    invoice = Invoice.issue(invoice_id, ACCOUNT, CONTRACT, "INV-7", "USD", [charge()], DUE, cause())
    (issued,) = invoice.collect_events()
    assert isinstance(issued, Invoice.InvoiceIssued)
    assert issued.originator_id == invoice_id
    assert (issued.account_id, issued.subscription_id) == (ACCOUNT, CONTRACT)
    assert (issued.number, issued.currency, issued.lines) == ("INV-7", "USD", (charge(),))
    assert (issued.issued_on, issued.due_on) == (date(2026, 1, 5), DUE)


def test_an_issued_invoice_is_open_for_its_total(invoice):
    assert invoice.status is InvoiceStatus.OPEN
    assert (invoice.total, invoice.balance, invoice.paid) == (usd("100"), usd("100"), usd("0"))
    assert invoice.paid_on is None


def test_issuing_without_lines_is_refused():
    with pytest.raises(InvalidValue):
        Invoice.issue(uuid4(), ACCOUNT, CONTRACT, "INV-1", "USD", [], DUE, cause())


def test_issuing_with_a_line_in_another_currency_is_refused():
    with pytest.raises(CurrencyMismatch):
        issue(charge(), charge(currency="EUR"))


def test_issuing_an_invoice_due_before_today_is_refused():
    with pytest.raises(InvalidValue):
        issue(due=date(2026, 1, 4))


# -- payments ---------------------------------------------------------------------------


def test_a_partial_payment_is_recorded_and_leaves_the_invoice_open(invoice):
    invoice.record_payment("p1", usd("40.00"), "pm_card", cause(LATER))
    (event,) = invoice.collect_events()
    assert isinstance(event, Invoice.PaymentRecorded)
    assert (event.payment_id, event.amount, event.method_reference) == ("p1", usd("40"), "pm_card")
    assert event.effective_at == date(2026, 1, 20)
    assert (invoice.balance, invoice.status) == (usd("60.00"), InvoiceStatus.OPEN)


def test_paying_the_balance_records_invoice_paid(invoice):
    invoice.record_payment("p1", usd("100.00"), "pm_card", cause(LATER))
    assert recorded(invoice) == [Invoice.PaymentRecorded, Invoice.InvoicePaid]
    assert invoice.status is InvoiceStatus.PAID
    assert invoice.paid_on == date(2026, 1, 20)
    assert invoice.balance.is_zero


def test_the_payment_that_brings_the_balance_to_zero_records_invoice_paid(invoice):
    invoice.record_payment("p1", usd("40.00"), "pm_card", cause())
    invoice.collect_events()
    invoice.record_payment("p2", usd("60.00"), "pm_card", cause(LATER))
    assert recorded(invoice) == [Invoice.PaymentRecorded, Invoice.InvoicePaid]
    assert invoice.payments == {"p1": usd("40"), "p2": usd("60")}


def test_paying_a_paid_invoice_is_refused(invoice):
    invoice.record_payment("p1", usd("100.00"), "pm_card", cause())
    invoice.collect_events()
    with pytest.raises(InvoiceNotOpen):
        invoice.record_payment("p2", usd("1.00"), "pm_card", cause())
    assert recorded(invoice) == []


def test_paying_a_void_invoice_is_refused(invoice):
    invoice.void(cause(reason=WHY))
    invoice.collect_events()
    with pytest.raises(InvoiceNotOpen):
        invoice.record_payment("p1", usd("100.00"), "pm_card", cause())
    assert recorded(invoice) == []


def test_paying_more_than_the_balance_is_refused(invoice):
    invoice.record_payment("p1", usd("40.00"), "pm_card", cause())
    invoice.collect_events()
    with pytest.raises(PaymentExceedsBalance):
        invoice.record_payment("p2", usd("60.01"), "pm_card", cause())
    assert recorded(invoice) == []
    assert invoice.balance == usd("60.00")


@pytest.mark.parametrize("amount", ["0", "-10.00"])
def test_a_payment_that_is_not_positive_is_refused(invoice, amount):
    with pytest.raises(AmountNotPositive):
        invoice.record_payment("p1", usd(amount), "pm_card", cause())
    assert recorded(invoice) == []


def test_a_payment_in_another_currency_is_refused(invoice):
    with pytest.raises(CurrencyMismatch):
        invoice.record_payment("p1", Money.of("10.00", "EUR"), "pm_card", cause())
    assert recorded(invoice) == []


def test_a_payment_finer_than_a_cent_is_refused(invoice):
    with pytest.raises(InvalidValue):
        invoice.record_payment("p1", usd("10.005"), "pm_card", cause())
    assert recorded(invoice) == []


def test_a_payment_id_already_recorded_is_refused(invoice):
    invoice.record_payment("p1", usd("10.00"), "pm_card", cause())
    invoice.collect_events()
    with pytest.raises(AlreadyExists):
        invoice.record_payment("p1", usd("10.00"), "pm_card", cause())
    assert recorded(invoice) == []
    assert invoice.balance == usd("90.00")


# -- voiding ----------------------------------------------------------------------------


def test_voiding_an_unpaid_invoice_with_a_reason_records_it(invoice):
    invoice.void(cause(LATER, reason="issued twice"))
    (event,) = invoice.collect_events()
    assert isinstance(event, Invoice.InvoiceVoided)
    assert event.effective_at == date(2026, 1, 20)
    assert event.meta.reason == "issued twice"
    assert invoice.status is InvoiceStatus.VOID
    assert invoice.balance.is_zero


def test_voiding_without_a_reason_is_refused(invoice):
    with pytest.raises(ReasonRequired):
        invoice.void(cause())
    assert recorded(invoice) == []
    assert invoice.status is InvoiceStatus.OPEN


def test_voiding_a_partly_paid_invoice_is_refused(invoice):
    invoice.record_payment("p1", usd("10.00"), "pm_card", cause())
    invoice.collect_events()
    with pytest.raises(InvoiceNotOpen):
        invoice.void(cause(reason=WHY))
    assert recorded(invoice) == []


def test_voiding_a_paid_invoice_is_refused(invoice):
    invoice.record_payment("p1", usd("100.00"), "pm_card", cause())
    invoice.collect_events()
    with pytest.raises(InvoiceNotOpen):
        invoice.void(cause(reason=WHY))
    assert recorded(invoice) == []


def test_voiding_a_void_invoice_is_refused(invoice):
    invoice.void(cause(reason=WHY))
    invoice.collect_events()
    with pytest.raises(AlreadyInThatState):
        invoice.void(cause(reason=WHY))
    assert recorded(invoice) == []


# -- credit notes -----------------------------------------------------------------------


def test_a_credit_note_on_an_open_invoice_reduces_the_balance_and_refunds_nothing(invoice):
    refund = invoice.issue_credit_note("cn1", usd("30.00"), cause(LATER, reason=WHY), "A-1")
    (event,) = invoice.collect_events()
    assert isinstance(event, Invoice.CreditNoteIssued)
    assert (event.credit_note_id, event.amount, event.refund) == ("cn1", usd("30"), usd("0"))
    assert event.effective_at == date(2026, 1, 20)
    assert refund == usd("0")
    assert (invoice.credited, invoice.balance) == (usd("30"), usd("70"))


def test_a_credit_note_that_brings_the_balance_to_zero_records_invoice_paid(invoice):
    invoice.record_payment("p1", usd("60.00"), "pm_card", cause())
    invoice.collect_events()
    refund = invoice.issue_credit_note("cn1", usd("40.00"), cause(reason=WHY), "A-1")
    assert recorded(invoice) == [Invoice.CreditNoteIssued, Invoice.InvoicePaid]
    assert refund == usd("0")
    assert invoice.status is InvoiceStatus.PAID


def test_a_credit_note_beyond_the_balance_refunds_what_was_paid_beyond_it(invoice):
    invoice.record_payment("p1", usd("60.00"), "pm_card", cause())
    refund = invoice.issue_credit_note("cn1", usd("50.00"), cause(reason=WHY), "A-1")
    assert refund == usd("10.00")
    assert (invoice.paid, invoice.balance, invoice.status) == (
        usd("50.00"),
        usd("0"),
        InvoiceStatus.PAID,
    )


def test_a_credit_note_on_a_paid_invoice_returns_a_refund(invoice):
    invoice.record_payment("p1", usd("100.00"), "pm_card", cause())
    invoice.collect_events()
    refund = invoice.issue_credit_note("cn1", usd("30.00"), cause(reason=WHY), "A-1")
    (event,) = invoice.collect_events()  # no second InvoicePaid
    assert event.refund == refund == usd("30.00")
    assert (invoice.paid, invoice.credited) == (usd("70.00"), usd("30.00"))
    assert (invoice.balance, invoice.status) == (usd("0"), InvoiceStatus.PAID)


def test_a_credit_note_exceeding_the_invoice_is_refused(invoice):
    with pytest.raises(CreditExceedsInvoice):
        invoice.issue_credit_note("cn1", usd("100.01"), cause(reason=WHY), "A-1")
    assert recorded(invoice) == []


def test_credit_notes_together_cannot_exceed_the_invoice(invoice):
    invoice.issue_credit_note("cn1", usd("70.00"), cause(reason=WHY), "A-1")
    invoice.collect_events()
    with pytest.raises(CreditExceedsInvoice):
        invoice.issue_credit_note("cn2", usd("30.01"), cause(reason=WHY), "A-1")
    assert recorded(invoice) == []
    assert invoice.credited == usd("70.00")


def test_a_credit_note_without_a_reason_is_refused(invoice):
    with pytest.raises(ReasonRequired):
        invoice.issue_credit_note("cn1", usd("10.00"), cause(), "A-1")
    assert recorded(invoice) == []


def test_a_credit_note_on_a_void_invoice_is_refused(invoice):
    invoice.void(cause(reason=WHY))
    invoice.collect_events()
    with pytest.raises(InvoiceNotOpen):
        invoice.issue_credit_note("cn1", usd("10.00"), cause(reason=WHY), "A-1")
    assert recorded(invoice) == []


def test_a_credit_note_id_already_issued_is_refused(invoice):
    invoice.issue_credit_note("cn1", usd("10.00"), cause(reason=WHY), "A-1")
    invoice.collect_events()
    with pytest.raises(AlreadyExists):
        invoice.issue_credit_note("cn1", usd("10.00"), cause(reason=WHY), "A-1")
    assert recorded(invoice) == []


@pytest.mark.parametrize("amount", ["0", "-5.00"])
def test_a_credit_note_that_is_not_positive_is_refused(invoice, amount):
    with pytest.raises(AmountNotPositive):
        invoice.issue_credit_note("cn1", usd(amount), cause(reason=WHY), "A-1")
    assert recorded(invoice) == []


def test_a_credit_note_in_another_currency_is_refused(invoice):
    with pytest.raises(CurrencyMismatch):
        invoice.issue_credit_note("cn1", Money.of("10.00", "EUR"), cause(reason=WHY), "A-1")
    assert recorded(invoice) == []
