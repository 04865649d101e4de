"""Dates, terms and billing periods, and day-based proration.

A period is half-open, ``[start, end)``: a year's term that starts on 1 March ends on
the next 1 March, and the day count is ``(end - start).days``.
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import date
from enum import Enum
from fractions import Fraction

from domain.errors import DateOutsideTerm, InvalidValue


class BillingPeriod(Enum):
    MONTHLY = "monthly"
    ANNUAL = "annual"

    @property
    def months(self) -> int:
        return 1 if self is BillingPeriod.MONTHLY else 12


def add_months(day: date, months: int) -> date:
    """The same day ``months`` later, clamped to the month's end (31 Jan + 1 = 28/29 Feb)."""
    index = day.month - 1 + months
    year, month = day.year + index // 12, index % 12 + 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


@dataclass(frozen=True)
class DateRange:
    """A half-open range of days ``[start, end)``."""

    start: date
    end: date

    def __post_init__(self) -> None:
        if self.end <= self.start:
            raise InvalidValue(f"a period must end after it starts: {self.start} .. {self.end}")

    @property
    def days(self) -> int:
        return (self.end - self.start).days

    def __contains__(self, day: date) -> bool:
        return self.start <= day < self.end

    def remaining_fraction(self, from_day: date) -> Fraction:
        """Share of the period left from ``from_day`` (inclusive) to its end, by day."""
        if from_day not in self:
            raise DateOutsideTerm(f"{from_day} is outside the period {self.start} .. {self.end}")
        return Fraction((self.end - from_day).days, self.days)


def term_of(start: date, months: int) -> DateRange:
    if months <= 0:
        raise InvalidValue(f"a term must last at least one month, got {months}")
    return DateRange(start, add_months(start, months))


def billing_periods(term: DateRange, period: BillingPeriod) -> list[DateRange]:
    """The billing periods that tile ``term``; each begins on the term's anniversary day."""
    periods: list[DateRange] = []
    n = 0
    while True:
        start = add_months(term.start, n * period.months)
        if start >= term.end:
            return periods
        end = min(add_months(term.start, (n + 1) * period.months), term.end)
        periods.append(DateRange(start, end))
        n += 1


def billed_share(
    period: DateRange, billing: BillingPeriod, from_day: date | None = None
) -> Fraction:
    """The share of a full billing period's price due for ``period`` from ``from_day``.

    Days left in the period over the days of a *full* period starting the same day: a
    whole period is 1, and so is the price of a full year for a full year; the short last
    period of an 18-month term billed annually costs 6 months' worth of days, not a year.
    """
    start = period.start if from_day is None else from_day
    if start not in period:
        raise DateOutsideTerm(f"{start} is outside the period {period.start} .. {period.end}")
    # A period that starts on a clamped day (28 Feb, from a term starting 31 Jan) ends on
    # the term's anniversary (31 Mar), later than a period counted from its own start.
    full = DateRange(period.start, max(period.end, add_months(period.start, billing.months)))
    return Fraction((period.end - start).days, full.days)


def period_containing(term: DateRange, period: BillingPeriod, day: date) -> DateRange:
    for candidate in billing_periods(term, period):
        if day in candidate:
            return candidate
    raise DateOutsideTerm(f"{day} is outside the term {term.start} .. {term.end}")
