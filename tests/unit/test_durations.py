"""ISO 8601 durations forward in time, as a test clock is moved by them."""

from __future__ import annotations

import calendar
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from domain.errors import InvalidValue
from service.clock.durations import parse_duration

NOON = datetime(2027, 1, 31, 12, tzinfo=UTC)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("P1M", datetime(2027, 2, 28, 12, tzinfo=UTC)),  # clamped to the month's end
        ("P1Y", datetime(2028, 1, 31, 12, tzinfo=UTC)),
        ("P1Y1M", datetime(2028, 2, 29, 12, tzinfo=UTC)),  # a leap year
        ("P2W", datetime(2027, 2, 14, 12, tzinfo=UTC)),
        ("P1M1D", datetime(2027, 3, 1, 12, tzinfo=UTC)),  # months first, then days
        ("PT6H", datetime(2027, 1, 31, 18, tzinfo=UTC)),
        ("P1DT1H30M15S", datetime(2027, 2, 1, 13, 30, 15, tzinfo=UTC)),
        ("P0D", NOON),
    ],
)
def test_a_duration_moves_an_instant_by_calendar_months_then_elapsed_time(text, expected):
    assert parse_duration(text).after(NOON) == expected


@pytest.mark.parametrize(
    "text", ["", "P", "PT", "1M", "-P1M", "P-1D", "P1.5D", "P1H", "PT1D", "P1M ago", "p1m"]
)
def test_anything_but_a_duration_forward_in_time_is_refused_naming_examples(text):
    with pytest.raises(InvalidValue, match=r"e\.g\. P1M"):
        parse_duration(text)


def test_a_duration_past_year_9999_is_refused():
    with pytest.raises(InvalidValue, match="past year 9999"):
        parse_duration("P9999Y").after(NOON)


@given(
    st.integers(0, 40),
    st.integers(0, 11),
    st.integers(0, 400),
    st.integers(0, 48),
    st.datetimes(
        min_value=datetime(2000, 1, 1),
        max_value=datetime(2100, 1, 1),
        timezones=st.just(UTC),
    ),
)
def test_a_duration_never_moves_back_and_months_land_in_the_month_they_name(
    years, months, days, hours, moment
):
    text = f"P{years}Y{months}M{days}DT{hours}H"
    later = parse_duration(text).after(moment)

    assert later >= moment
    by_months = later - timedelta(days=days, hours=hours)
    month_index = moment.year * 12 + moment.month - 1 + years * 12 + months
    assert by_months.year * 12 + by_months.month - 1 == month_index
    last_day = calendar.monthrange(by_months.year, by_months.month)[1]
    assert by_months.day == min(moment.day, last_day)
    assert by_months.timetz() == moment.timetz()
