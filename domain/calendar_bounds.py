"""The dates and instants the ledger accepts: from 1970-01-01 to 9998-12-31.

Python's dates end on 9999-12-31 and begin on 0001-01-01, so an instant at either end
with a UTC offset (``9999-12-31T23:59:59-23:59``) cannot even be converted to UTC, and a
day at either end has no day after or before it for a period or a report to reach. A
day of a year between these bounds always has room for both, and no business fact of a
ledger lies outside them.
"""

from __future__ import annotations

from datetime import date, datetime

from domain.errors import InvalidValue

EARLIEST_DAY = date(1970, 1, 1)
LATEST_DAY = date(9998, 12, 31)


class OutOfCalendar(InvalidValue):
    code = "date-out-of-range"

    def __init__(self, what: str, given: date | datetime) -> None:
        super().__init__(
            f"{what} must lie between {EARLIEST_DAY} and {LATEST_DAY}, got {given.isoformat()}"
        )


def bounded_day(day: date, what: str = "a date") -> date:
    if not EARLIEST_DAY <= day <= LATEST_DAY:
        raise OutOfCalendar(what, day)
    return day


def bounded_instant(moment: datetime, what: str = "an instant") -> datetime:
    """The instant's own day (before any conversion) must be within the bounds: then its
    offset, at most a day, cannot carry it past what a ``datetime`` holds."""
    if not EARLIEST_DAY <= moment.date() <= LATEST_DAY:
        raise OutOfCalendar(what, moment)
    return moment
