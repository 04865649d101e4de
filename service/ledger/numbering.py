"""The store transaction around the numbering of invoices and credit notes.

The rule is the domain's (domain/invoice_series.py, ``next_number``): a series per kind
and year, numbers ``F-YYYY-NNNNNN`` and ``A-YYYY-NNNNNN`` one after the other, no date of
issue before the series' last. Here: a command that issues a document loads its series,
takes the next number and saves the series with the document; the store's version check
makes the number unique and the log's order makes it chronological (ADR 0022).

A command that read the clock before another but reaches the series after it is refused
its number as out of order (``NumberedOutOfOrder``) and run again once, with a fresh
time; on that second run the order is not checked (a clock that is behind the series
itself, as a rewound test clock, is not waited for).

Within a process, the commands that number documents run their numbering and their save
one at a time (one lock, held from the first number an attempt takes until the attempt
is saved or dropped): otherwise every concurrent issue but one would be refused as stale
and retried. Across processes the version check decides, and the ledger retries the
loser on the fresh series (``Ledger.execute``). Previews number without the lock: what
they number is never saved.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from uuid import UUID

from domain.cause import Cause
from domain.invoice_series import InvoiceSeries, SeriesKind, next_number, series_id


@dataclass
class Attempt:
    """One attempt of one command: the series it numbered from, to be saved with it."""

    series: dict[UUID, InvoiceSeries] = field(default_factory=dict)
    loaded: dict[UUID, int] = field(default_factory=dict)  # each series' version as read
    locked: bool = False
    ordered: bool = True  # refuse a date before the series' last (the first attempt)


class Numbering:
    def __init__(self, load: Callable[[UUID], InvoiceSeries | None]) -> None:
        self._load = load
        self._lock = threading.RLock()
        self._local = threading.local()

    @contextmanager
    def attempt(self, ordered: bool = True) -> Iterator[Attempt]:
        """The scope of one attempt of a command; the lock, if it numbered, ends with it."""
        outer = getattr(self._local, "attempt", None)
        attempt = Attempt(ordered=ordered)
        self._local.attempt = attempt
        try:
            yield attempt
        finally:
            self._local.attempt = outer
            if attempt.locked:
                self._lock.release()

    def outrun(self, attempt: Attempt) -> bool:
        """Whether another process numbered from a series this attempt read, since it read
        it: the attempt's save was then refused for the series, not for its own subject."""
        for key, version in attempt.loaded.items():
            series = self._load(key)
            if (series.version if series is not None else 0) != version:
                return True
        return False

    def number(self, kind: SeriesKind, account_id: UUID, document_id: str, cause: Cause) -> str:
        """The next number of ``kind``'s series of ``cause``'s year, for ``document_id`` of
        ``account_id``."""
        attempt: Attempt | None = getattr(self._local, "attempt", None)
        if attempt is not None and not attempt.locked:
            self._lock.acquire()
            attempt.locked = True
        key = series_id(kind, cause.today.year)
        series = attempt.series.get(key) if attempt is not None else None
        if series is None:
            series = self._load(key)
            if attempt is not None:
                attempt.loaded[key] = series.version if series is not None else 0
        in_order = attempt is not None and attempt.ordered
        series, number = next_number(series, kind, account_id, document_id, cause, in_order)
        if attempt is not None:
            attempt.series[key] = series
        return number
