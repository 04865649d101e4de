"""ISO 8601 durations forward in time (``P1M``, ``P1Y2M``, ``P2W``, ``PT6H``), as a test
clock is moved by them.

Years and months are calendar months, added to the day as a term is (31 January plus
``P1M`` is 28 or 29 February, ``domain.period.add_months``); weeks, days, hours, minutes
and seconds are then added as elapsed time. Only whole numbers, and no sign: a test clock
never goes back.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta

from domain.errors import InvalidValue
from domain.period import add_months

PATTERN = re.compile(
    r"^P(?!$)(?:(?P<years>\d{1,4})Y)?(?:(?P<months>\d{1,5})M)?(?:(?P<weeks>\d{1,5})W)?"
    r"(?:(?P<days>\d{1,6})D)?(?:T(?=\d)(?:(?P<hours>\d{1,7})H)?(?:(?P<minutes>\d{1,9})M)?"
    r"(?:(?P<seconds>\d{1,10})S)?)?$"
)
EXAMPLES = "P1M, P1Y, P2W, P10D or PT6H"


@dataclass(frozen=True)
class Duration:
    months: int
    elapsed: timedelta

    def after(self, moment: datetime) -> datetime:
        """The instant this long after ``moment`` (months first, then elapsed time)."""
        try:
            day = add_months(moment.date(), self.months)
            return datetime.combine(day, moment.timetz()) + self.elapsed
        except (ValueError, OverflowError):
            raise InvalidValue(
                f"{moment.isoformat()} plus this duration is past year 9999"
            ) from None


def parse_duration(text: str) -> Duration:
    """A duration forward in time; InvalidValue (naming the examples) for anything else."""
    match = PATTERN.fullmatch(text.strip())
    if match is None:
        raise InvalidValue(f"{text!r} is not an ISO 8601 duration forward in time, e.g. {EXAMPLES}")
    part = {name: int(value or 0) for name, value in match.groupdict().items()}
    return Duration(
        months=part["years"] * 12 + part["months"],
        elapsed=timedelta(
            weeks=part["weeks"],
            days=part["days"],
            hours=part["hours"],
            minutes=part["minutes"],
            seconds=part["seconds"],
        ),
    )
