"""Properties of the rule that says which invoice bills which days (domain/invoicing.py).

A term's units come in tranches: its lines from its first day, and additions from any
day of the term, recorded before, on or after that day (future-dated, same-day,
backdated). Period invoices are issued on or after their period's first day and know
only the additions recorded by then; each addition's own invoice is issued when it is
recorded. Whatever the order, every period in which a tranche is in force is billed for
it exactly once, never before its first day, and the money adds up to the day-prorated
value of the units in force, within one minor unit per invoice line.
"""

from __future__ import annotations

from collections import Counter
from datetime import date, timedelta
from fractions import Fraction

from hypothesis import given
from hypothesis import strategies as st

from domain.invoice import InvoiceLine
from domain.invoicing import Tranche, charged_apart, on_period_invoice, period_quantities
from domain.money import Money
from domain.period import BillingPeriod, DateRange, billed_share, billing_periods, term_of

LINES = ("sales-cloud", "data-storage")
PRICE = {"sales-cloud": Money.of("883.20", "EUR"), "data-storage": Money.of("4.60", "EUR")}
NO_TAX = Fraction(0)


@st.composite
def terms(draw: st.DrawFn) -> tuple[DateRange, BillingPeriod]:
    start = draw(st.dates(min_value=date(2024, 1, 1), max_value=date(2030, 12, 31)))
    billing = draw(st.sampled_from(BillingPeriod))
    months = draw(st.sampled_from([1, 6, 12, 13, 18, 24]))
    return term_of(start, months), billing


def day_in(first: date, last: date) -> st.SearchStrategy[date]:
    """A day in [first, last]."""
    return st.integers(0, (last - first).days).map(lambda n: first + timedelta(days=n))


@st.composite
def histories(draw: st.DrawFn) -> tuple[DateRange, BillingPeriod, list[Tranche], dict[date, date]]:
    """A term, its tranches (the term's lines, then additions), and the day each period's
    invoice is issued (on its first day or up to two months late)."""
    term, billing = draw(terms())
    last_day = term.end - timedelta(days=1)
    tranches = [Tranche(code, draw(st.integers(1, 50)), term.start) for code in LINES]
    for _ in range(draw(st.integers(0, 6))):
        starts_on = draw(day_in(term.start, last_day))
        # recorded up to two months before its first day, or (a backdated correction,
        # or a late renewal) up to the term's end and a little after
        added_on = draw(day_in(term.start - timedelta(days=60), term.end + timedelta(days=20)))
        quantity = draw(st.integers(1, 20))
        tranches.append(Tranche(draw(st.sampled_from(LINES)), quantity, starts_on, added_on))
    issued = {
        period.start: period.start + timedelta(days=draw(st.integers(0, 60)))
        for period in billing_periods(term, billing)
    }
    return term, billing, tranches, issued


def known_on(tranches: list[Tranche], day: date) -> list[Tranche]:
    return [t for t in tranches if t.added_on is None or t.added_on <= day]


def billings(
    term: DateRange, billing: BillingPeriod, tranches: list[Tranche], issued: dict[date, date]
) -> Counter[tuple[int, date]]:
    """(tranche, period start) for every billing of a tranche for a period, by any invoice."""
    billed: Counter[tuple[int, date]] = Counter()
    for period in billing_periods(term, billing):
        for n, tranche in enumerate(tranches):
            if tranche in known_on(tranches, issued[period.start]) and on_period_invoice(
                term, billing, tranche, period
            ):
                billed[(n, period.start)] += 1
    for n, tranche in enumerate(tranches):
        for charge in charged_apart(term, billing, tranche):
            billed[(n, charge.period.start)] += 1
    return billed


@given(histories())
def test_every_period_a_tranche_is_in_force_in_is_billed_for_it_exactly_once(history):
    term, billing, tranches, issued = history
    in_force = Counter(
        (n, period.start)
        for n, tranche in enumerate(tranches)
        for period in billing_periods(term, billing)
        if period.end > tranche.starts_on
    )
    assert billings(term, billing, tranches, issued) == in_force


@given(histories())
def test_an_addition_is_never_charged_before_its_first_day(history):
    term, billing, tranches, _ = history
    for tranche in tranches:
        charges = charged_apart(term, billing, tranche)
        assert (charges == []) == (tranche.added_on is None)
        for charge in charges:
            assert tranche.starts_on <= charge.first_day
            assert charge.first_day in charge.period
            assert charge.share == billed_share(charge.period, billing, charge.first_day)
        # its first charge is the period it starts in, from its first day
        if charges:
            assert tranche.starts_on in charges[0].period
            assert charges[0].first_day == tranche.starts_on


@given(histories())
def test_the_invoices_of_a_term_add_up_to_the_value_of_the_units_in_force(history):
    """Within one minor unit per invoice line: each line is rounded once."""
    term, billing, tranches, issued = history
    lines: list[InvoiceLine] = []
    for period in billing_periods(term, billing):
        known = known_on(tranches, issued[period.start])
        for code, quantity in period_quantities(term, billing, known, period).items():
            lines.append(charge(code, quantity, period, billed_share(period, billing)))
    for tranche in tranches:
        for c in charged_apart(term, billing, tranche):
            lines.append(charge(tranche.line_id, tranche.quantity, c.period, c.share))
    exact = sum(
        (
            Fraction(PRICE[t.line_id].amount)
            * t.quantity
            * billed_share(period, billing, max(period.start, t.starts_on))
            for t in tranches
            for period in billing_periods(term, billing)
            if period.end > t.starts_on
        ),
        Fraction(0),
    )
    billed = sum(Fraction(line.amount.amount) for line in lines)
    assert abs(billed - exact) <= Fraction(1, 100) * len(lines) / 2


def charge(code: str, quantity: int, period: DateRange, share: Fraction) -> InvoiceLine:
    return InvoiceLine.charge(code, code, quantity, PRICE[code], period, share, NO_TAX)
