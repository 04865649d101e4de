"""How long issued invoices are kept: the legal retention of the buyer's identity (ADR 0027).

An invoice belongs to the financial year in which it is issued, named by the calendar
year in which that financial year ends (with the default year end, 31 December, the
calendar year). The law (art. L123-22 of the Code de commerce, and art. 17(3)(b) GDPR for
the personal data in it) keeps an invoice for ``years`` after the end of its financial
year; the day after, its buyer's identity is no longer retained and is destroyed.
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import date, timedelta

from domain.errors import InvalidValue


@dataclass(frozen=True)
class Retention:
    years: int = 10
    year_end_month: int = 12  # the financial year ends on this month and day
    year_end_day: int = 31

    def __post_init__(self) -> None:
        if not 1 <= self.years <= 100:
            raise InvalidValue(f"a retention period is 1 to 100 years, not {self.years}")
        if not 1 <= self.year_end_month <= 12:
            raise InvalidValue(f"no month {self.year_end_month}")
        # A 29 February end is refused: it would not exist most years.
        if not 1 <= self.year_end_day <= calendar.monthrange(2027, self.year_end_month)[1]:
            raise InvalidValue(f"no day {self.year_end_day} in month {self.year_end_month}")

    def year_end(self, financial_year: int) -> date:
        """The last day of the financial year named ``financial_year``."""
        return date(financial_year, self.year_end_month, self.year_end_day)

    def financial_year(self, day: date) -> int:
        """The financial year ``day`` falls in: the calendar year in which it ends."""
        return day.year if day <= self.year_end(day.year) else day.year + 1

    def ends(self, financial_year: int) -> date:
        """The first day on which the documents of ``financial_year`` are no longer retained."""
        end = self.year_end(financial_year)
        return end.replace(year=end.year + self.years) + timedelta(days=1)
