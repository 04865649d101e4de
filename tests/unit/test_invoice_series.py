"""The numbering rule (domain/invoice_series.py): which series, which number, in what order."""

from datetime import UTC, datetime
from uuid import uuid4

import pytest

from domain.invoice_series import (
    InvoiceSeries,
    NumberedOutOfOrder,
    SeriesKind,
    next_number,
    series_id,
)
from tests.builders import cause

ACCOUNT = uuid4()


def on(month: int, day: int, year: int = 2026):
    return cause(datetime(year, month, day, 9, tzinfo=UTC))


def test_the_first_document_of_a_kind_and_year_opens_its_series_at_one() -> None:
    series, number = next_number(None, SeriesKind.INVOICE, ACCOUNT, "inv-1", on(3, 2))
    assert number == "F-2026-000001"
    assert series.id == series_id(SeriesKind.INVOICE, 2026)
    assert (series.last_number, series.last_issued_on) == (number, on(3, 2).today)

    _, credit = next_number(None, SeriesKind.CREDIT_NOTE, ACCOUNT, "cn-1", on(3, 2))
    assert credit == "A-2026-000001"
    assert (
        series_id(SeriesKind.CREDIT_NOTE, 2026) != series.id != series_id(SeriesKind.INVOICE, 2027)
    )


def test_each_next_document_takes_the_number_after_the_series_last() -> None:
    series, _ = next_number(None, SeriesKind.INVOICE, ACCOUNT, "inv-1", on(3, 2))
    numbers = [
        next_number(series, SeriesKind.INVOICE, ACCOUNT, f"inv-{n}", on(3, 2 + n))[1]
        for n in range(2, 12)
    ]
    assert numbers == [f"F-2026-{n:06d}" for n in range(2, 12)]
    assert series.version == 11 and series.last_number == "F-2026-000011"


def test_a_date_of_issue_before_the_series_last_is_refused_unless_told_otherwise() -> None:
    series, _ = next_number(None, SeriesKind.INVOICE, ACCOUNT, "inv-1", on(3, 10))
    with pytest.raises(NumberedOutOfOrder, match="2026-03-09 is before F-2026-000001"):
        next_number(series, SeriesKind.INVOICE, ACCOUNT, "inv-2", on(3, 9))
    assert series.version == 1  # the refused document took no number

    _, number = next_number(series, SeriesKind.INVOICE, ACCOUNT, "inv-2", on(3, 9), False)
    assert number == "F-2026-000002"


def test_a_document_of_another_year_is_not_numbered_in_this_year_series() -> None:
    series, _ = next_number(None, SeriesKind.INVOICE, ACCOUNT, "inv-1", on(12, 31, 2025))
    with pytest.raises(ValueError, match="not in the 2025 series"):
        next_number(series, SeriesKind.INVOICE, ACCOUNT, "inv-2", on(1, 1, 2026))
    assert isinstance(series, InvoiceSeries) and series.version == 1
