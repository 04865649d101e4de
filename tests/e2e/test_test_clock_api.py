"""The test clock over HTTP, on both stores (ADR 0015): staff and operators move it
forward and watch the billing run issue invoices and mark them overdue on the days they
fall due; it never goes back; without a test clock its routes answer 404.

The seed (tests/e2e/conftest.py) is recorded on 5 January 2026 at 09:00 UTC, where the
test clock starts: two annual contracts whose first invoices fall due on 4 February.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from adapters.store import StoreSettings
from service.clock.test_clock import use_test_clock
from service.http.app import create_app
from service.ledger.application import Ledger
from service.reads.read_side import ReadSide
from tests.e2e.conftest import Api, seed_ledger

CLOCK = "/v1/test-clock"
T0 = "2026-01-05T09:00:00Z"


@pytest.fixture
def rehearsal(store: StoreSettings, ledger: Ledger) -> Iterator[Api]:
    """The API over the seed, served on the store's test clock (started at the seed's time)."""
    seed = seed_ledger(ledger)
    use_test_clock(ledger)
    with TestClient(create_app(ReadSide(store, ledger))) as client:
        yield Api(client, ledger, seed)


def move(api: Api, who: str, body: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
    return api.wrote(api.post(CLOCK, who, json=body, **kwargs))


def test_every_role_reads_the_clock(rehearsal: Api) -> None:
    for who in ("admin", "auditor", "integration", "operator"):
        response = rehearsal.get(CLOCK, who)
        assert response.status_code == 200, response.text
        assert response.json() == {"now": T0, "today": "2026-01-05", "version": 1}


def test_staff_advance_it_and_watch_invoices_appear_on_their_days(rehearsal: Api) -> None:
    acme = f"/v1/accounts/{rehearsal.acme.account_id}"
    bought = rehearsal.wrote(
        rehearsal.post(
            f"{acme}/subscriptions",
            "admin",
            json={
                "lines": [{"product_code": "service-cloud", "quantity": 2}],
                "billing_period": "monthly",
            },
        ),
        201,
    )
    monthly = bought["subscription"]["id"]

    moved = move(rehearsal, "billing_staff", {"advance": "P1M"})

    assert (moved["previous"], moved["now"], moved["today"]) == (
        T0,
        "2026-02-05T09:00:00Z",
        "2026-02-05",
    )
    done = [(a["day"], a["kind"], a["subject"]) for a in moved["actions"]]
    # the first invoices (the seed's two and this one's) fell due on 4 February unpaid;
    # on one day a run invoices first, then marks overdue, each in id order
    first_invoices = [rehearsal.acme.invoice_id, rehearsal.other.invoice_id, bought["invoice_id"]]
    assert done == [
        ("2026-02-05", "invoice", monthly),
        *sorted(("2026-02-05", "overdue", str(i)) for i in first_invoices),
    ]
    assert moved["failures"] == []
    invoices = rehearsal.get(f"{acme}/invoices", "admin").json()
    february = [i for i in invoices if i["issued_on"] == "2026-02-05"]
    assert [(i["subscription_id"], i["due_on"]) for i in february] == [(monthly, "2026-03-07")]
    assert rehearsal.get(CLOCK, "admin").json()["now"] == "2026-02-05T09:00:00Z"


def test_an_operator_moves_it_to_an_instant_and_a_repeat_moves_nothing(rehearsal: Api) -> None:
    moved = move(rehearsal, "operator", {"to": "2026-01-20T00:00:00+01:00"})
    assert (moved["now"], moved["actions"]) == ("2026-01-19T23:00:00Z", [])

    again = move(rehearsal, "operator", {"to": "2026-01-19T23:00:00Z"})
    assert (again["now"], again["version"]) == (moved["now"], moved["version"])


def test_it_never_goes_back_and_bad_moves_are_refused_writing_nothing(rehearsal: Api) -> None:
    move(rehearsal, "billing_staff", {"advance": "P1D"})

    problem = rehearsal.refused(409, "POST", CLOCK, "billing_staff", json={"to": T0})
    assert problem["type"] == "/problems/clock-cannot-go-back"
    assert "only moves forward" in problem["detail"]
    for body in (
        {"advance": "-P1D"},
        {"advance": "P1M", "to": "2026-03-01T00:00:00Z"},
        {},
        {"to": "2026-03-01T00:00:00"},  # no time zone
        {"advance": "P11Y"},
    ):
        rehearsal.refused(422, "POST", CLOCK, "billing_staff", json=body)
    for who in ("admin", "account_manager", "auditor", "integration"):
        rehearsal.refused(403, "POST", CLOCK, who, json={"advance": "P1D"})
    assert rehearsal.get(CLOCK, "admin").json()["now"] == "2026-01-06T09:00:00Z"


def test_a_retried_move_moves_once(rehearsal: Api) -> None:
    key = {"Idempotency-Key": "advance-once"}
    first = rehearsal.post(CLOCK, "billing_staff", json={"advance": "P1D"}, headers=key)
    assert first.status_code == 200, first.text
    head = rehearsal.head

    again = rehearsal.post(CLOCK, "billing_staff", json={"advance": "P1D"}, headers=key)
    assert again.status_code == 200, again.text
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.json()["now"] == first.json()["now"] == "2026-01-06T09:00:00Z"
    assert rehearsal.head == head


def test_without_a_test_clock_the_routes_answer_404_and_nothing_moves(api: Api) -> None:
    for who in ("billing_staff", "operator"):
        api.refused(404, "GET", CLOCK, who)
        api.refused(404, "POST", CLOCK, who, json={"advance": "P1M"})
    assert api.ledger.clock.now().isoformat() == "2026-01-05T09:00:00+00:00"
