"""Which invoice bills which days of a contract's units: each day of each unit exactly once.

A contract's units come in tranches: the lines a term starts with, and each addition
(seats added to a line, a product added) from its effective day. The rule (ADR 0007):

- the **invoice of a billing period** bills, for the whole period, the units in force on
  the period's first day, except those their own invoice charges for that period;
- an **addition's own invoice**, issued when it is recorded, charges it from its first
  day to the end of that day's billing period, prorated by day, and, when it is recorded
  later than that (a backdated correction), every further period up to the one it is
  recorded in, whose invoices may already be out without it.

Period invoices are issued once their period has begun, so an invoice issued before an
addition is recorded is one of the periods the addition's own invoice charges: nothing
is billed twice, and nothing is missed, whichever is issued first.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, timedelta
from fractions import Fraction

from domain.errors import InvalidValue
from domain.period import BillingPeriod, DateRange, billed_share, billing_periods

# Every invoice is due this long after the day it is issued (docs/events.md, ``due_on``).
PAYMENT_TERMS = timedelta(days=30)


def due_on(issued_on: date) -> date:
    """The day an invoice issued on ``issued_on`` must be paid by."""
    return issued_on + PAYMENT_TERMS


@dataclass(frozen=True)
class Tranche:
    """``quantity`` units of one line in force from ``starts_on`` to the term's end.

    ``added_on`` is the day an addition was recorded; None for the lines a term starts
    with, which have no invoice of their own (the period invoices bill them)."""

    line_id: str
    quantity: int
    starts_on: date
    added_on: date | None = None


@dataclass(frozen=True)
class Charge:
    """A share of one billing period, from ``first_day`` to the period's end."""

    period: DateRange
    first_day: date
    share: Fraction


def charged_apart(term: DateRange, billing: BillingPeriod, tranche: Tranche) -> list[Charge]:
    """What an addition's own invoice charges: one charge per billing period, from the
    period its first day falls in through the one it was recorded in (at least one)."""
    if tranche.added_on is None:
        return []
    if tranche.starts_on not in term:
        raise InvalidValue(f"{tranche.starts_on} is outside the term {term.start} .. {term.end}")
    last_day = term.end - timedelta(days=1)
    through = min(max(tranche.starts_on, tranche.added_on), last_day)
    charges = []
    for period in billing_periods(term, billing):
        if period.end <= tranche.starts_on:
            continue
        if period.start > through:
            break
        first = max(period.start, tranche.starts_on)
        charges.append(Charge(period, first, billed_share(period, billing, first)))
    return charges


def on_period_invoice(
    term: DateRange, billing: BillingPeriod, tranche: Tranche, period: DateRange
) -> bool:
    """Whether the invoice of ``period`` bills ``tranche`` (for the whole period)."""
    if tranche.starts_on > period.start:
        return False
    apart = charged_apart(term, billing, tranche)
    return not apart or apart[-1].period.end <= period.start


def period_quantities(
    term: DateRange, billing: BillingPeriod, tranches: Iterable[Tranche], period: DateRange
) -> dict[str, int]:
    """Units per line that the invoice of ``period`` bills (lines with none are left out)."""
    quantities: dict[str, int] = {}
    for tranche in tranches:
        if on_period_invoice(term, billing, tranche, period):
            quantities[tranche.line_id] = quantities.get(tranche.line_id, 0) + tranche.quantity
    return quantities
