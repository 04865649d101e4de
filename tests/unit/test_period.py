"""Dates, terms, billing periods and day-based proration."""

from datetime import date
from fractions import Fraction
from itertools import pairwise

import pytest

from domain.errors import DateOutsideTerm, InvalidValue
from domain.period import (
    BillingPeriod,
    DateRange,
    add_months,
    billed_share,
    billing_periods,
    period_containing,
    term_of,
)


@pytest.mark.parametrize(
    ("day", "months", "expected"),
    [
        (date(2026, 1, 31), 1, date(2026, 2, 28)),
        (date(2028, 1, 31), 1, date(2028, 2, 29)),
        (date(2026, 3, 31), 1, date(2026, 4, 30)),
        (date(2026, 1, 15), 1, date(2026, 2, 15)),
        (date(2026, 11, 30), 3, date(2027, 2, 28)),
        (date(2026, 3, 1), 12, date(2027, 3, 1)),
        (date(2028, 2, 29), 12, date(2029, 2, 28)),
        (date(2026, 3, 31), -1, date(2026, 2, 28)),
        (date(2026, 1, 10), -1, date(2025, 12, 10)),
        (date(2026, 5, 5), 0, date(2026, 5, 5)),
    ],
)
def test_add_months_keeps_the_day_clamped_to_the_month_end(day, months, expected):
    assert add_months(day, months) == expected


def test_a_range_is_half_open_and_counts_its_days():
    march = DateRange(date(2026, 3, 1), date(2026, 4, 1))
    assert march.days == 31
    assert date(2026, 3, 1) in march
    assert date(2026, 3, 31) in march
    assert date(2026, 4, 1) not in march
    assert date(2026, 2, 28) not in march


@pytest.mark.parametrize("end", [date(2026, 3, 1), date(2026, 2, 1)])
def test_a_range_that_does_not_end_after_it_starts_is_refused(end):
    with pytest.raises(InvalidValue):
        DateRange(date(2026, 3, 1), end)


def test_a_term_runs_from_its_start_to_the_same_day_months_later():
    assert term_of(date(2026, 3, 1), 12) == DateRange(date(2026, 3, 1), date(2027, 3, 1))
    assert term_of(date(2026, 1, 31), 1) == DateRange(date(2026, 1, 31), date(2026, 2, 28))


@pytest.mark.parametrize("months", [0, -12])
def test_a_term_shorter_than_a_month_is_refused(months):
    with pytest.raises(InvalidValue):
        term_of(date(2026, 3, 1), months)


def test_a_12_month_term_billed_monthly_is_tiled_by_12_periods():
    term = term_of(date(2026, 3, 1), 12)
    periods = billing_periods(term, BillingPeriod.MONTHLY)
    assert len(periods) == 12
    assert periods[0] == DateRange(date(2026, 3, 1), date(2026, 4, 1))
    assert periods[-1] == DateRange(date(2027, 2, 1), date(2027, 3, 1))
    assert all(a.end == b.start for a, b in pairwise(periods))
    assert sum(p.days for p in periods) == term.days == 365


def test_monthly_periods_of_a_term_starting_on_the_31st_follow_its_anniversary_day():
    periods = billing_periods(term_of(date(2026, 1, 31), 12), BillingPeriod.MONTHLY)
    assert [p.start for p in periods[:4]] == [
        date(2026, 1, 31),
        date(2026, 2, 28),
        date(2026, 3, 31),
        date(2026, 4, 30),
    ]
    assert all(a.end == b.start for a, b in pairwise(periods))
    assert periods[-1].end == date(2027, 1, 31)


def test_a_12_month_term_billed_annually_is_one_period():
    term = term_of(date(2026, 3, 1), 12)
    assert billing_periods(term, BillingPeriod.ANNUAL) == [term]


def test_the_last_annual_period_of_an_18_month_term_is_cut_at_the_term_end():
    term = term_of(date(2026, 1, 1), 18)
    assert billing_periods(term, BillingPeriod.ANNUAL) == [
        DateRange(date(2026, 1, 1), date(2027, 1, 1)),
        DateRange(date(2027, 1, 1), date(2027, 7, 1)),
    ]


def test_the_period_containing_a_day_is_found():
    term = term_of(date(2026, 1, 1), 12)
    found = period_containing(term, BillingPeriod.MONTHLY, date(2026, 4, 10))
    assert found == DateRange(date(2026, 4, 1), date(2026, 5, 1))


@pytest.mark.parametrize("day", [date(2025, 12, 31), date(2027, 1, 1)])
def test_a_day_outside_the_term_is_in_no_period(day):
    with pytest.raises(DateOutsideTerm):
        period_containing(term_of(date(2026, 1, 1), 12), BillingPeriod.MONTHLY, day)


@pytest.mark.parametrize(
    ("day", "fraction"),
    [
        (date(2026, 1, 1), Fraction(1)),
        (date(2026, 4, 10), Fraction(266, 365)),
        (date(2026, 7, 2), Fraction(183, 365)),
        (date(2026, 12, 31), Fraction(1, 365)),
    ],
)
def test_the_remaining_fraction_counts_days_from_the_given_day_inclusive(day, fraction):
    assert DateRange(date(2026, 1, 1), date(2027, 1, 1)).remaining_fraction(day) == fraction


@pytest.mark.parametrize("day", [date(2025, 12, 31), date(2027, 1, 1)])
def test_the_remaining_fraction_from_a_day_outside_the_period_is_refused(day):
    with pytest.raises(DateOutsideTerm):
        DateRange(date(2026, 1, 1), date(2027, 1, 1)).remaining_fraction(day)


def test_a_billing_period_knows_its_months():
    assert (BillingPeriod.MONTHLY.months, BillingPeriod.ANNUAL.months) == (1, 12)


def test_a_whole_period_is_billed_in_full_and_a_short_last_period_by_its_days():
    term = term_of(date(2026, 1, 1), 18)
    first, last = billing_periods(term, BillingPeriod.ANNUAL)
    assert billed_share(first, BillingPeriod.ANNUAL) == 1
    # 1 Jan to 1 Jul 2027 is 181 of the 365 days of a full year from 1 Jan 2027
    assert billed_share(last, BillingPeriod.ANNUAL) == Fraction(181, 365)
    assert billed_share(first, BillingPeriod.ANNUAL, date(2026, 12, 1)) == Fraction(31, 365)
