"""The seats an account holds on a day, over HTTP: seats bought from a later day are not
held yet but scheduled, and ``as_of`` / ``effective`` read them as the other point-in-time
reads do (ADR 0004).

The history, on the seed's Acme contract of 5 Sales Cloud seats (one assigned to ada),
recorded 5 January 2026:

- 10 January: the administrator adds 3 seats from 5 February;
- 20 January: staff end the contract from 1 June (its 8 seats go then; ada's seat is
  taken back at once, as the domain does when seats are removed).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from adapters.clock import ControllableClock
from tests.e2e.conftest import Api


@pytest.fixture
def licenses(api: Api, clock: ControllableClock) -> str:
    clock.set(datetime(2026, 1, 10, 10, tzinfo=UTC))
    api.wrote(
        api.post(
            f"/v1/subscriptions/{api.acme.subscription_id}/licenses",
            "admin",
            json={"product_code": "sales-cloud", "quantity": 3, "effective": "2026-02-05"},
        )
    )
    clock.set(datetime(2026, 1, 20, 10, tzinfo=UTC))
    api.wrote(
        api.post(
            f"/v1/subscriptions/{api.acme.subscription_id}/cancellation",
            "billing_staff",
            json={"reason": "negotiated exit", "effective": "2026-06-01"},
        )
    )
    return f"/v1/accounts/{api.acme.account_id}/licenses"


def seats(api: Api, path: str, **params: str) -> list[dict[str, Any]]:
    response = api.get(path, "admin", params=params)
    assert response.status_code == 200, response.text
    found: list[dict[str, Any]] = response.json()
    return found


def change(day: str, by: int, held: int) -> dict[str, Any]:
    return {"effective_on": day, "change": by, "held": held}


def test_today_seats_that_start_next_month_are_scheduled_not_held(api: Api, licenses: str) -> None:
    (pool,) = seats(api, licenses)  # today is 20 January

    assert (pool["product_code"], pool["held"], pool["assigned"], pool["available"]) == (
        "sales-cloud",
        5,
        [],
        5,
    )
    assert pool["scheduled"] == [change("2026-02-05", 3, 8), change("2026-06-01", -8, 0)]


@pytest.mark.parametrize(
    ("effective", "held", "scheduled"),
    [
        ("2026-02-04", 5, [change("2026-02-05", 3, 8), change("2026-06-01", -8, 0)]),
        ("2026-02-05", 8, [change("2026-06-01", -8, 0)]),
        ("2026-05-31", 8, [change("2026-06-01", -8, 0)]),
        ("2026-06-01", 0, []),
    ],
)
def test_in_force_on_another_day(
    api: Api, licenses: str, effective: str, held: int, scheduled: list[dict[str, Any]]
) -> None:
    (pool,) = seats(api, licenses, effective=effective)
    assert (pool["held"], pool["scheduled"]) == (held, scheduled)


def test_as_known_at_an_earlier_instant(api: Api, licenses: str) -> None:
    (before_the_add,) = seats(api, licenses, as_of="2026-01-09")
    assert (before_the_add["held"], before_the_add["scheduled"]) == (5, [])
    assert before_the_add["assigned"] == ["ada"]

    (before_the_cancellation,) = seats(api, licenses, as_of="2026-01-15T00:00:00Z")
    assert before_the_cancellation["held"] == 5
    assert before_the_cancellation["scheduled"] == [change("2026-02-05", 3, 8)]
    assert before_the_cancellation["available"] == 4

    (then_in_february,) = seats(api, licenses, as_of="2026-01-15", effective="2026-02-10")
    assert (then_in_february["held"], then_in_february["scheduled"]) == (8, [])

    assert seats(api, licenses, as_of="2026-01-04") == []  # no seats were known yet


def test_another_account_sees_only_its_own_pool_and_bad_dates_are_refused(
    api: Api, licenses: str
) -> None:
    other = f"/v1/accounts/{api.other.account_id}/licenses"
    response = api.get(other, "other_admin")
    assert [(p["held"], p["scheduled"]) for p in response.json()] == [(5, [])]
    api.refused(404, "GET", other, "admin")
    api.refused(422, "GET", licenses, "admin", params={"as_of": "last tuesday"})
    api.refused(422, "GET", licenses, "admin", params={"effective": "2026-13-01"})
