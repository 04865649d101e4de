"""A numbering series: the continuous, chronological sequence of one kind of document in
one calendar year (CGI art. 242 nonies A of annex II: no gap, no reuse, in order of issue).

Invoices are numbered ``F-2026-000123``, credit notes ``A-2026-000007``. The series is an
aggregate whose version is its counter: the n-th document of the series is its n-th
event, saved in the same transaction as the document's own event. Two documents that
claim the same number are two saves of the same version, and the store refuses the later
one (the ledger then retries it on the fresh series), so a number is given once and only
by a document that was saved: a refused command saves nothing and consumes no number.

The rule is here, whole: which series a document takes its number from (``series_id``:
its kind and the year of its date of issue), the format (``document_number``), and the
next number (``next_number``: the series opened at 000001, or the number after its last,
never for a date of issue before the last's). service/ledger/numbering.py is only the
store transaction around it.
"""

from __future__ import annotations

from datetime import date
from enum import Enum
from uuid import NAMESPACE_URL, UUID, uuid5

from domain.base import LedgerAggregate
from domain.cause import Cause

NUMBER_DIGITS = 6


class SeriesKind(Enum):
    INVOICE = "F"  # facture
    CREDIT_NOTE = "A"  # avoir


def series_id(kind: SeriesKind, year: int) -> UUID:
    return uuid5(NAMESPACE_URL, f"subledger:series:{kind.value}-{year}")


def document_number(kind: SeriesKind, year: int, sequence: int) -> str:
    return f"{kind.value}-{year}-{sequence:0{NUMBER_DIGITS}d}"


class InvoiceSeries(LedgerAggregate):
    class SeriesOpened(LedgerAggregate.Created):
        """The series' first document: its number ends in 000001."""

        prefix: str  # a SeriesKind's value
        year: int
        account_id: UUID  # the document's: a number is in its account's history
        document_id: str
        number: str
        issued_on: date

    class NumberAssigned(LedgerAggregate.Event):
        account_id: UUID
        document_id: str
        number: str
        issued_on: date

        def apply(self, series: InvoiceSeries) -> None:
            series.account_id = self.account_id
            series.last_issued_on = self.issued_on

    def __init__(
        self,
        prefix: str,
        year: int,
        account_id: UUID,
        document_id: str,
        number: str,
        issued_on: date,
    ) -> None:
        self.prefix = prefix  # snapshots keep plain values
        self.year = year
        self.account_id = account_id  # of the last document numbered
        self.last_issued_on = issued_on

    @classmethod
    def open(
        cls, kind: SeriesKind, account_id: UUID, document_id: str, cause: Cause
    ) -> tuple[InvoiceSeries, str]:
        """The series of ``cause``'s year, opened by its first document; and that number."""
        year = cause.today.year
        number = document_number(kind, year, 1)
        series = cls._begin(
            cls.SeriesOpened,
            series_id(kind, year),
            cause,
            prefix=kind.value,
            year=year,
            account_id=account_id,
            document_id=document_id,
            number=number,
            issued_on=cause.today,
        )
        return series, number

    @property
    def kind(self) -> SeriesKind:
        return SeriesKind(self.prefix)

    @property
    def last_number(self) -> str:
        return document_number(self.kind, self.year, self.version)

    def assign(self, account_id: UUID, document_id: str, cause: Cause) -> str:
        """The next number, for the document ``document_id`` issued on ``cause.today``."""
        if cause.today.year != self.year:
            raise ValueError(f"a document of {cause.today.year} is not in the {self.year} series")
        number = document_number(self.kind, self.year, self.version + 1)
        self._record(
            self.NumberAssigned,
            cause,
            account_id=account_id,
            document_id=document_id,
            number=number,
            issued_on=cause.today,
        )
        return number


class NumberedOutOfOrder(Exception):
    """The document's date of issue is before the series' last: numbers and dates of issue
    must go up together. Not a refusal: the ledger runs the command again with a fresh time
    (service/ledger/numbering.py)."""


def next_number(
    series: InvoiceSeries | None,
    kind: SeriesKind,
    account_id: UUID,
    document_id: str,
    cause: Cause,
    in_order: bool = True,
) -> tuple[InvoiceSeries, str]:
    """The number of ``document_id``, issued on ``cause.today``, in ``series`` (the one
    ``series_id(kind, cause.today.year)`` names; None: it has no number yet, and this document
    opens it with ``000001``); and the series that now ends with it, to be saved with the
    document. With ``in_order``, a date of issue before the series' last is refused
    (``NumberedOutOfOrder``); without, the number after the last is given anyway (the
    command run again after that refusal: a clock behind the series itself, as a rewound
    test clock, is not waited for)."""
    if series is None:
        return InvoiceSeries.open(kind, account_id, document_id, cause)
    if in_order and cause.today < series.last_issued_on:
        raise NumberedOutOfOrder(f"{cause.today} is before {series.last_number}")
    return series, series.assign(account_id, document_id, cause)
