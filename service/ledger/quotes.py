"""A quote: the fingerprint of the invoices a command issues, so that a command confirmed
after its preview issues exactly what the preview showed, or nothing (ADR 0024).

If-Match binds the subject's version, but a prorated price also moves with the day (a
preview seen before midnight, confirmed after): the quote covers that, and anything
else a price depends on, by comparing the invoices themselves inside the command.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable

from domain.base import LedgerAggregate
from domain.invoice import Invoice


def issued(aggregates: Iterable[LedgerAggregate]) -> list[Invoice]:
    """The invoices a command's work creates (new aggregates, not ones it changes)."""
    return [a for a in aggregates if isinstance(a, Invoice) and a.version == len(a.pending_events)]


def quote(aggregates: Iterable[LedgerAggregate]) -> str:
    """The quote of the invoices a command's work creates."""
    return quote_of(issued(aggregates))


def quote_of(invoices: Iterable[Invoice]) -> str:
    """What the invoices charge: lines, periods, tax, totals and dates."""
    parts = [
        repr((i.currency, i.issued_on, i.due_on, i.lines, i.subtotal, i.tax, i.total))
        for i in invoices
    ]
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()[:32]
