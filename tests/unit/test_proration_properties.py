"""Properties of day-based proration and of invoices (DESIGN.md, "Money").

A prorated charge is ``InvoiceLine.charge`` with ``share = period.remaining_fraction(day)``:
quantity x unit price x share, rounded half-up once per line, and its tax rounded once.
The ledger bills ``billed_share`` of each billing period of a term, which must agree with
that for every full period and never exceed one period for any.
"""

from __future__ import annotations

import itertools
from datetime import date, timedelta
from decimal import Decimal
from fractions import Fraction
from uuid import uuid4

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from domain.errors import DomainError, InvoiceNotOpen, PaymentExceedsBalance
from domain.invoice import Invoice, InvoiceLine, InvoiceStatus
from domain.money import MINOR_UNITS, Money, minor_unit, round_half_up
from domain.period import (
    BillingPeriod,
    DateRange,
    add_months,
    billed_share,
    billing_periods,
    term_of,
)
from domain.tax import TAX_RATES
from tests.builders import cause

CURRENCIES = sorted(MINOR_UNITS)
ISSUED = cause()


def unit_prices(currency: str) -> st.SearchStrategy[Money]:
    unit = minor_unit(currency)
    return st.integers(min_value=1, max_value=10**7).map(
        lambda units: Money(units * unit, currency)
    )


prices = st.sampled_from(CURRENCIES).flatmap(unit_prices)
quantities = st.integers(min_value=1, max_value=1000)
tax_rates = st.one_of(
    st.sampled_from(sorted(set(TAX_RATES.values()))),
    st.decimals(min_value=0, max_value=Decimal("0.3"), places=4),
)
# Billing periods as the ledger makes them (a month, a quarter, a year, leap years too)
# and arbitrary half-open ranges of days.
periods = st.one_of(
    st.builds(
        term_of,
        st.dates(min_value=date(2020, 1, 1), max_value=date(2035, 12, 31)),
        st.sampled_from([1, 3, 12]),
    ),
    st.builds(
        lambda start, days: DateRange(start, start + timedelta(days=days)),
        st.dates(min_value=date(2020, 1, 1), max_value=date(2035, 12, 31)),
        st.integers(min_value=1, max_value=400),
    ),
)


def day_in(period: DateRange) -> st.SearchStrategy[date]:
    return st.integers(min_value=0, max_value=period.days - 1).map(
        lambda n: period.start + timedelta(days=n)
    )


def charge(
    quantity: int, price: Money, period: DateRange, share: Fraction, rate: Decimal
) -> InvoiceLine:
    return InvoiceLine.charge("line", "sales-cloud", quantity, price, period, share, rate)


def prorated(
    quantity: int, price: Money, period: DateRange, day: date, rate: Decimal
) -> InvoiceLine:
    return charge(quantity, price, period, period.remaining_fraction(day), rate)


def units(money: Money) -> Fraction:
    """An amount counted in minor units."""
    return Fraction(money.amount) / Fraction(minor_unit(money.currency))


@given(quantities, prices, periods.flatmap(lambda p: st.tuples(st.just(p), day_in(p))), tax_rates)
def test_a_prorated_charge_never_exceeds_the_full_period_and_is_never_negative(
    quantity, price, period_and_day, rate
):
    period, day = period_and_day
    part = prorated(quantity, price, period, day, rate)
    whole = charge(quantity, price, period, Fraction(1), rate)
    zero = Money.zero(price.currency)
    assert zero <= part.amount <= whole.amount
    assert zero <= part.tax <= whole.tax
    assert part.amount + part.tax <= whole.amount + whole.tax


@given(quantities, prices, periods, tax_rates)
def test_prorating_from_the_first_day_charges_the_full_period(quantity, price, period, rate):
    assert prorated(quantity, price, period, period.start, rate) == charge(
        quantity, price, period, Fraction(1), rate
    )


@given(quantities, prices, periods.filter(lambda p: p.days >= 2), tax_rates, st.data())
def test_splitting_a_period_adds_up_to_the_whole_within_a_minor_unit_per_part(
    quantity, price, period, rate, data
):
    split = data.draw(day_in(period).filter(lambda d: d > period.start), label="split")
    before = charge(
        quantity, price, period, Fraction((split - period.start).days, period.days), rate
    )
    after = prorated(quantity, price, period, split, rate)
    whole = charge(quantity, price, period, Fraction(1), rate)
    parts = 2
    assert abs(units(before.amount + after.amount) - units(whole.amount)) <= parts
    assert abs(units(before.tax + after.tax) - units(whole.tax)) <= parts
    # Rounding three figures half-up can move the sum by at most 3/2 of a minor unit.
    assert abs(units(before.amount + after.amount) - units(whole.amount)) <= Fraction(3, 2)


@given(quantities, prices, periods, tax_rates, st.data())
def test_splitting_a_period_into_many_parts_stays_within_a_minor_unit_per_part(
    quantity, price, period, rate, data
):
    cuts = data.draw(
        st.lists(day_in(period).filter(lambda d: d > period.start), unique=True, max_size=12),
        label="cuts",
    )
    bounds = [period.start, *sorted(cuts), period.end]
    pieces = [
        charge(quantity, price, period, Fraction((end - start).days, period.days), rate)
        for start, end in itertools.pairwise(bounds)
    ]
    whole = charge(quantity, price, period, Fraction(1), rate)
    summed = sum((units(p.amount) for p in pieces), Fraction(0))
    assert abs(summed - units(whole.amount)) <= len(pieces)


@given(
    quantities,
    prices,
    periods.flatmap(lambda p: st.tuples(st.just(p), day_in(p), day_in(p))),
    tax_rates,
)
def test_proration_by_day_is_monotonic(quantity, price, period_and_days, rate):
    period, one, other = period_and_days
    earlier, later = min(one, other), max(one, other)
    from_earlier = prorated(quantity, price, period, earlier, rate)
    from_later = prorated(quantity, price, period, later, rate)
    assert from_later.amount <= from_earlier.amount
    assert from_later.tax <= from_earlier.tax


@given(quantities, prices, periods.flatmap(lambda p: st.tuples(st.just(p), day_in(p))), tax_rates)
def test_a_prorated_line_is_the_exact_charge_rounded_half_up(quantity, price, period_and_day, rate):
    period, day = period_and_day
    line = prorated(quantity, price, period, day, rate)
    exact = Fraction(price.amount) * quantity * Fraction((period.end - day).days, period.days)
    assert line.amount.amount == round_half_up(exact, price.currency)
    assert line.tax.amount == round_half_up(
        Fraction(line.amount.amount) * Fraction(rate), price.currency
    )


# -- the share the ledger bills: billing periods of a term ---------------------------------


@st.composite
def ledger_periods(draw: st.DrawFn) -> tuple[DateRange, BillingPeriod, bool]:
    """One billing period of a term as the ledger tiles it (month ends and leap days too),
    and whether it is a full one (only a term's last period can be shorter)."""
    start = draw(
        st.dates(min_value=date(2024, 1, 1), max_value=date(2032, 12, 31))
        | st.sampled_from([date(2026, 1, 31), date(2027, 8, 31), date(2028, 2, 29)])
    )
    billing = draw(st.sampled_from(BillingPeriod))
    term = term_of(start, draw(st.sampled_from([1, 3, 6, 12, 18, 24, 36])))
    tiles = billing_periods(term, billing)
    n = draw(st.integers(min_value=0, max_value=len(tiles) - 1))
    full = tiles[n].end == add_months(term.start, (n + 1) * billing.months)
    return tiles[n], billing, full


@given(ledger_periods(), st.data())
def test_the_billed_share_of_any_billing_period_is_a_share_of_one_period(case, data):
    period, billing, full = case
    day = data.draw(day_in(period), label="from")
    whole = billed_share(period, billing)
    part = billed_share(period, billing, day)
    assert 0 < part <= whole <= 1
    assert (whole == 1) == full
    if full:  # within a full period, the billed share is the share of days left
        assert part == period.remaining_fraction(day)


@given(quantities, prices, ledger_periods(), tax_rates, st.data())
def test_a_billed_charge_never_exceeds_the_full_period_charge(quantity, price, case, rate, data):
    period, billing, _ = case
    day = data.draw(day_in(period), label="from")
    whole = charge(quantity, price, period, Fraction(1), rate)
    billed = charge(quantity, price, period, billed_share(period, billing, day), rate)
    assert Money.zero(price.currency) <= billed.amount <= whole.amount


# -- invoices ---------------------------------------------------------------------------


@st.composite
def invoice_lines(draw: st.DrawFn, currency: str) -> InvoiceLine:
    period = draw(periods)
    day = draw(day_in(period))
    return prorated(draw(quantities), draw(unit_prices(currency)), period, day, draw(tax_rates))


def issue(currency: str, lines: list[InvoiceLine]) -> Invoice:
    invoice = Invoice.issue(
        uuid4(), uuid4(), None, "INV-1", currency, lines, ISSUED.today + timedelta(days=30), ISSUED
    )
    invoice.collect_events()
    return invoice


# Aggregates are mutable (and unhashable): strategies draw the lines, tests issue the invoice.
invoice_drafts = st.sampled_from(CURRENCIES).flatmap(
    lambda c: st.tuples(st.just(c), st.lists(invoice_lines(c), min_size=1, max_size=8))
)


@given(invoice_drafts)
def test_invoice_total_is_the_sum_of_rounded_line_amounts_and_rounded_line_taxes(draft):
    invoice = issue(*draft)
    currency = invoice.currency
    amounts = sum((Fraction(line.amount.amount) for line in invoice.lines), Fraction(0))
    taxes = sum((Fraction(line.tax.amount) for line in invoice.lines), Fraction(0))
    for line in invoice.lines:
        assert line.amount.amount == round_half_up(line.amount.amount, currency)
        assert line.tax.amount == round_half_up(line.tax.amount, currency)
    assert Fraction(invoice.subtotal.amount) == amounts
    assert Fraction(invoice.tax.amount) == taxes
    assert Fraction(invoice.total.amount) == amounts + taxes
    assert invoice.total.currency == currency
    assert invoice.total.amount.as_tuple().exponent == -MINOR_UNITS[currency]


# What to pay, relative to the balance at the time: part of it, all of it, more than it,
# or a number of minor units drawn without looking at the balance at all.
payment_plans = st.lists(
    st.one_of(
        st.tuples(st.just("part"), st.fractions(min_value=0, max_value=1)),
        st.tuples(st.just("all"), st.just(0)),
        st.tuples(st.just("over"), st.integers(min_value=1, max_value=1000)),
        st.tuples(st.just("units"), st.integers(min_value=1, max_value=10**9)),
    ),
    max_size=15,
)


def planned_amount(invoice: Invoice, kind: str, n: Fraction | int) -> Money:
    unit = minor_unit(invoice.currency)
    balance = units(invoice.balance)
    chosen = {
        "part": max(1, int(balance * n)),
        "all": balance,
        "over": balance + n,
        "units": n,
    }[kind]
    return Money(int(chosen) * unit, invoice.currency)


@given(invoice_drafts, payment_plans)
def test_payments_never_exceed_the_balance(draft, plan):
    invoice = issue(*draft)
    assume(invoice.total.is_positive)
    received = Money.zero(invoice.currency)
    for n, (kind, size) in enumerate(plan):
        amount = planned_amount(invoice, kind, size)
        balance, version, status = invoice.balance, invoice.version, invoice.status
        if status is InvoiceStatus.PAID:
            with pytest.raises(InvoiceNotOpen):
                invoice.record_payment(f"p{n}", amount, "pm_1", ISSUED)
            assert invoice.version == version
            continue
        if amount > balance:
            with pytest.raises(PaymentExceedsBalance):
                invoice.record_payment(f"p{n}", amount, "pm_1", ISSUED)
            assert (invoice.version, invoice.balance) == (version, balance)
            continue
        invoice.record_payment(f"p{n}", amount, "pm_1", ISSUED)
        received = received + amount
        recorded = [type(event).__name__ for event in invoice.collect_events()]
        assert invoice.balance == balance - amount
        assert invoice.balance >= Money.zero(invoice.currency)
        assert invoice.balance == invoice.total - invoice.credited - invoice.paid
        assert invoice.paid == received
        settled = invoice.balance.is_zero
        assert recorded == (["PaymentRecorded", "InvoicePaid"] if settled else ["PaymentRecorded"])
        assert (invoice.status is InvoiceStatus.PAID) == settled
    assert invoice.paid <= invoice.total


@given(
    invoice_drafts,
    st.lists(
        st.tuples(
            st.sampled_from(["pay", "credit"]),
            st.sampled_from(["part", "all", "over", "units"]),
            st.integers(min_value=1, max_value=10**6),
        ),
        max_size=15,
    ),
)
def test_payments_and_credit_notes_keep_the_balance_between_zero_and_the_total(draft, plan):
    invoice = issue(*draft)
    assume(invoice.total.is_positive)
    zero = Money.zero(invoice.currency)
    staff = cause(reason="goodwill")
    for n, (action, kind, size) in enumerate(plan):
        sized = Fraction(size, 10**6) if kind == "part" else size
        amount = planned_amount(invoice, kind, sized)
        was_paid = invoice.status is InvoiceStatus.PAID
        try:
            if action == "pay":
                invoice.record_payment(f"p{n}", amount, "pm_1", ISSUED)
            else:
                refund = invoice.issue_credit_note(f"c{n}", amount, staff, "A-1")
                assert zero <= refund <= amount
        except DomainError:
            assert not invoice.collect_events()
        recorded = [type(event).__name__ for event in invoice.collect_events()]
        assert zero <= invoice.balance == invoice.total - invoice.credited - invoice.paid
        assert zero <= invoice.paid <= invoice.total
        assert zero <= invoice.credited <= invoice.total
        assert (invoice.status is InvoiceStatus.PAID) == invoice.balance.is_zero
        assert ("InvoicePaid" in recorded) == (invoice.balance.is_zero and not was_paid)
