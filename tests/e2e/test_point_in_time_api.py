"""Point in time over HTTP: an account, a contract, an invoice, the account's lists and the
whole book, as known at a recorded instant (``as_of``) and in force on a business day
(``effective``), checked against a history written at chosen instants (ADR 0004).

The history (recorded at 10:00 UTC on each day of February 2026, through the API):

- day 1: staff open "Timeline Ltd" (Essentials, USD, in Oldtown) and start a contract of
  10 Sales Cloud seats for a year, without auto-renewal: invoice I1, 3000.00, due 3 March;
- day 3: the city becomes Newtown;
- day 10: 2 seats are added from day 10: invoice I2, 600.00 x 356/365 = 585.21;
- day 15: I1 is paid in full;
- day 20: staff add 3 seats backdated to day 5, with a reason: invoice I3,
  900.00 x 361/365 = 890.14;
- day 22: a 12-month renewal of 12 seats is scheduled (in the plan from day 22);
- day 24: an account manager changes the edition to Professional, with a reason.

The seed (two accounts of 5 seats, each with an open invoice of 1500.00, one of them
credited 100.00) was recorded on 5 January 2026 and is part of the book.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from uuid import uuid4

import pytest

from adapters.clock import ControllableClock
from tests.e2e.conftest import Api, assert_problem

STAFF = "billing_staff"
REASON = "missed on the order form"


def day(n: int, hour: int = 10) -> datetime:
    return datetime(2026, 2, n, hour, tzinfo=UTC)


@dataclass(frozen=True)
class Timeline:
    account: str  # /v1/accounts/{id}
    subscription: str  # /v1/subscriptions/{id}
    i1: str  # /v1/invoices/{id}: the first period
    i2: str  # the 2 seats of day 10
    i3: str  # the 3 seats backdated to day 5
    ids: dict[str, str]


def build_history(api: Api, clock: ControllableClock) -> Timeline:
    clock.set(day(1))
    opened = api.wrote(
        api.post(
            "/v1/accounts",
            STAFF,
            json={
                "name": "Timeline Ltd",
                "edition": "Essentials",
                "currency": "USD",
                "billing_details": {
                    "legal_name": "Timeline Ltd",
                    "address_line1": "2 Clock St",
                    "city": "Oldtown",
                    "postal_code": "10001",
                    "country": "US",
                    "invoice_email": "ap@timeline.example",
                },
                "administrator": {"user_id": "tia", "name": "Tia", "email": "tia@example.com"},
            },
        ),
        201,
    )
    account = f"/v1/accounts/{opened['id']}"
    started = api.wrote(
        api.post(
            f"{account}/subscriptions",
            STAFF,
            json={"lines": [{"product_code": "sales-cloud", "quantity": 10}], "auto_renew": False},
        ),
        201,
    )
    sub_id = started["subscription"]["id"]
    subscription = f"/v1/subscriptions/{sub_id}"

    clock.set(day(3))
    api.wrote(api.patch(f"{account}/billing-details", STAFF, json={"city": "Newtown"}))

    clock.set(day(10))
    added = api.wrote(
        api.post(
            f"{subscription}/licenses", STAFF, json={"product_code": "sales-cloud", "quantity": 2}
        )
    )

    clock.set(day(15))
    api.wrote(api.put(f"{account}/payment-method", STAFF, json={"reference": "pm_card_visa"}))
    api.wrote(
        api.post(
            f"/v1/invoices/{started['invoice_id']}/payments",
            STAFF,
            json={"payment_method": "pm_card_visa"},
        ),
        201,
    )

    clock.set(day(20))
    backdated = {"product_code": "sales-cloud", "quantity": 3, "effective": "2026-02-05"}
    problem = api.refused(422, "POST", f"{subscription}/licenses", STAFF, json=backdated)
    assert problem["type"] == "/problems/reason-required"
    corrected = api.wrote(
        api.post(f"{subscription}/licenses", STAFF, json={**backdated, "reason": REASON})
    )

    clock.set(day(22))
    api.wrote(
        api.put(
            f"{subscription}/renewal",
            STAFF,
            json={"term_months": 12, "quantities": {"sales-cloud": 12}},
        )
    )

    clock.set(day(24))
    api.wrote(
        api.put(
            f"{account}/edition",
            "account_manager",
            json={"edition": "Professional", "reason": "upgrade agreed on the phone"},
        )
    )
    clock.set(day(26))
    ids = {
        "account": opened["id"],
        "subscription": sub_id,
        "i1": started["invoice_id"],
        "i2": added["invoice_id"],
        "i3": corrected["invoice_id"],
    }
    return Timeline(
        account,
        subscription,
        f"/v1/invoices/{ids['i1']}",
        f"/v1/invoices/{ids['i2']}",
        f"/v1/invoices/{ids['i3']}",
        ids,
    )


def read(api: Api, path: str, who: str = "auditor", **params: str) -> Any:
    response = api.get(path, who, params=params)
    assert response.status_code == 200, response.text
    return response.json()


def seats(document: dict[str, Any]) -> int:
    (line,) = document["lines"]
    return int(line["quantity"])


def usd(amount: str) -> dict[str, str]:
    return {"amount": amount, "currency": "USD"}


# -- one aggregate ---------------------------------------------------------------------------


def test_an_account_as_known_at_an_instant_and_in_force_on_a_day(
    api: Api, clock: ControllableClock
) -> None:
    t = build_history(api, clock)

    def account(**params: str) -> tuple[int, str, str]:
        found = read(api, t.account, **params)
        assert found["id"] == t.ids["account"]
        return found["version"], found["billing_details"]["city"], found["edition"]

    assert account(as_of="2026-02-02") == (1, "Oldtown", "Essentials")
    assert account(as_of="2026-02-08") == (2, "Newtown", "Essentials")
    assert account(as_of="2026-02-25") == (4, "Newtown", "Professional")  # a method on day 15
    # as known on day 25, in force on day 2: the move (day 3) and the upgrade were later
    assert account(as_of="2026-02-25", effective="2026-02-02") == (1, "Oldtown", "Essentials")
    assert account(as_of="2026-02-25", effective="2026-02-23") == (3, "Newtown", "Essentials")
    # at the very instant of a change it is known; a microsecond before, it is not
    assert account(as_of="2026-02-03T10:00:00Z") == (2, "Newtown", "Essentials")
    assert account(as_of="2026-02-03T09:59:59.999999Z") == (1, "Oldtown", "Essentials")
    # an offset is honoured: 11:30 at +02:00 is 09:30 UTC, before the move
    assert account(as_of="2026-02-03T11:30:00+02:00") == (1, "Oldtown", "Essentials")
    assert account(as_of="2026-02-03T12:30:00+02:00") == (2, "Newtown", "Essentials")
    # today's answer, from the read model, agrees with the point-in-time fold of now
    now = read(api, t.account)
    assert read(api, t.account, as_of=day(26).isoformat()) == now


def test_a_contract_as_known_at_an_instant_and_in_force_on_a_day(
    api: Api, clock: ControllableClock
) -> None:
    t = build_history(api, clock)

    def contract(**params: str) -> tuple[int, int, str, Any]:
        found = read(api, t.subscription, **params)
        assert (found["term_start"], found["term_end"]) == ("2026-02-01", "2027-02-01")
        assert found["status"] == "active"
        renewal = found["renewal"]
        planned = None if renewal is None else (renewal["starts_on"], seats(renewal))
        return found["version"], seats(found), found["period_amount"]["amount"], planned

    # as_of, effective (default: as_of's day) -> version, seats, one period, renewal plan
    assert contract(as_of="2026-02-08") == (1, 10, "3000.00", None)
    assert contract(as_of="2026-02-12") == (2, 12, "3600.00", None)
    # known on day 12, in force on day 9: the +2 from day 10 is deferred
    assert contract(as_of="2026-02-12", effective="2026-02-09") == (1, 10, "3000.00", None)
    assert contract(as_of="2026-02-12", effective="2026-02-10") == (2, 12, "3600.00", None)
    # on day 18 the backdated correction is not yet known, whatever the day asked about
    assert contract(as_of="2026-02-18", effective="2026-02-06") == (1, 10, "3000.00", None)
    assert contract(as_of="2026-02-21") == (3, 15, "4500.00", None)
    assert contract(as_of="2026-02-25") == (4, 15, "4500.00", ("2027-02-01", 12))
    # the auditor's question: as known on day 25, what was in force on day 6?
    # The +3 from day 5 is; the +2 from day 10 and the plan of day 22 are not yet.
    assert contract(as_of="2026-02-25", effective="2026-02-06") == (3, 13, "3900.00", None)
    assert contract(as_of="2026-02-25", effective="2026-02-04") == (1, 10, "3000.00", None)
    assert contract(as_of="2026-02-25", effective="2026-02-22") == (
        4,
        15,
        "4500.00",
        ("2027-02-01", 12),
    )
    # effective alone: as known now
    assert contract(effective="2026-02-06") == (3, 13, "3900.00", None)
    # the renewal plan as scheduled: 12 seats at the list price of its first day
    renewal = read(api, t.subscription, as_of="2026-02-25")["renewal"]
    assert renewal["term_months"] == 12
    (line,) = renewal["lines"]
    assert (line["unit_price"], line["amount"]) == (usd("300.00"), usd("3600.00"))


def test_an_invoice_around_its_payment(api: Api, clock: ControllableClock) -> None:
    t = build_history(api, clock)

    def invoice(path: str, **params: str) -> tuple[str, str, str, str | None]:
        found = read(api, path, **params)
        return (
            found["status"],
            found["paid"]["amount"],
            found["balance"]["amount"],
            found["paid_on"],
        )

    assert invoice(t.i1, as_of="2026-02-01T10:00:00Z") == ("open", "0.00", "3000.00", None)
    assert invoice(t.i1, as_of="2026-02-15T09:59:59Z") == ("open", "0.00", "3000.00", None)
    assert invoice(t.i1, as_of="2026-02-15T10:00:00Z") == (
        "paid",
        "3000.00",
        "0.00",
        "2026-02-15",
    )
    # known on day 25, in force on day 14: the payment of day 15 is later
    assert invoice(t.i1, as_of="2026-02-25", effective="2026-02-14") == (
        "open",
        "0.00",
        "3000.00",
        None,
    )
    first = read(api, t.i1, as_of="2026-02-02")
    assert (first["issued_on"], first["due_on"], first["total"]) == (
        "2026-02-01",
        "2026-03-03",
        usd("3000.00"),
    )
    i2 = read(api, t.i2, as_of="2026-02-12")
    assert (i2["issued_on"], i2["due_on"], i2["total"]) == (
        "2026-02-10",
        "2026-03-12",
        usd("585.21"),
    )
    i3 = read(api, t.i3, as_of="2026-02-20T10:00:00Z")
    assert (i3["issued_on"], i3["due_on"], i3["total"]) == (
        "2026-02-20",
        "2026-03-22",
        usd("890.14"),
    )
    (line,) = i3["lines"]
    assert (line["quantity"], line["period_start"], line["period_end"]) == (
        3,
        "2026-02-01",
        "2027-02-01",
    )


def test_the_accounts_contracts_and_invoices_as_of_and_effective(
    api: Api, clock: ControllableClock
) -> None:
    t = build_history(api, clock)

    def invoices(**params: str) -> list[tuple[str, str, str]]:
        found = read(api, f"{t.account}/invoices", **params)
        names = {v: k for k, v in t.ids.items()}
        return [(names[i["id"]], i["status"], i["balance"]["amount"]) for i in found]

    def contracts(**params: str) -> list[tuple[str, int]]:
        found = read(api, f"{t.account}/subscriptions", **params)
        return [(s["id"], seats(s)) for s in found]

    sub = t.ids["subscription"]
    assert invoices(as_of="2026-02-08") == [("i1", "open", "3000.00")]
    assert invoices(as_of="2026-02-12") == [("i1", "open", "3000.00"), ("i2", "open", "585.21")]
    assert invoices(as_of="2026-02-16") == [("i1", "paid", "0.00"), ("i2", "open", "585.21")]
    assert invoices(as_of="2026-02-16", effective="2026-02-12") == [
        ("i1", "open", "3000.00"),
        ("i2", "open", "585.21"),
    ]
    assert invoices(as_of="2026-02-25") == [
        ("i1", "paid", "0.00"),
        ("i2", "open", "585.21"),
        ("i3", "open", "890.14"),
    ]
    assert contracts(as_of="2026-02-08") == [(sub, 10)]
    assert contracts(as_of="2026-02-12", effective="2026-02-09") == [(sub, 10)]
    assert contracts(as_of="2026-02-18", effective="2026-02-06") == [(sub, 10)]
    assert contracts(as_of="2026-02-25", effective="2026-02-06") == [(sub, 13)]
    assert contracts(as_of="2026-02-25") == [(sub, 15)]
    # each listed contract is the one its own route answers at the same point
    (listed,) = read(api, f"{t.account}/subscriptions", as_of="2026-02-25", effective="2026-02-06")
    assert listed == read(api, t.subscription, as_of="2026-02-25", effective="2026-02-06")
    # now: the read model's lists agree with the folds of now
    assert read(api, f"{t.account}/invoices") == read(
        api, f"{t.account}/invoices", as_of=day(26).isoformat()
    )
    assert read(api, f"{t.account}/subscriptions") == read(
        api, f"{t.account}/subscriptions", as_of=day(26).isoformat()
    )


# -- the whole book ----------------------------------------------------------------------------


def test_the_book_as_of_and_effective(api: Api, clock: ControllableClock) -> None:
    build_history(api, clock)

    def book(**params: str) -> tuple[int, dict[str, int], str, str, int]:
        found = read(api, "/v1/reports/book", **params)
        assert found["active_contracts_by_currency"] == (
            {"USD": found["active_contracts"]} if found["active_contracts"] else {}
        )
        (mrr,) = found["monthly_recurring_revenue"]
        (balance,) = found["open_balance"]
        assert mrr["currency"] == balance["currency"] == "USD"
        return (
            found["active_contracts"],
            found["seats_held"],
            mrr["amount"],
            balance["amount"],
            found["open_invoices"],
        )

    # the seed alone: 2 x 5 seats at 1500.00 a year; two open invoices of 1500.00, one
    # credited 100.00
    assert book(as_of="2026-01-31") == (2, {"sales-cloud": 10}, "250.00", "2900.00", 2)
    # + Timeline: 10 seats, 3000.00 a year, I1 open
    assert book(as_of="2026-02-08") == (3, {"sales-cloud": 20}, "500.00", "5900.00", 3)
    # + 2 seats (a year of the line: 3600.00), I2 open
    assert book(as_of="2026-02-12") == (3, {"sales-cloud": 22}, "550.00", "6485.21", 4)
    # I1 paid
    assert book(as_of="2026-02-16") == (3, {"sales-cloud": 22}, "550.00", "3485.21", 3)
    # + 3 seats backdated to day 5 (4500.00 a year), I3 open
    assert book(as_of="2026-02-25") == (3, {"sales-cloud": 25}, "625.00", "4375.35", 4)
    # known on day 25, in force on day 6: 13 seats; I1 not yet paid, I2 and I3 not yet issued
    assert book(as_of="2026-02-25", effective="2026-02-06") == (
        3,
        {"sales-cloud": 23},
        "575.00",
        "5900.00",
        3,
    )
    # known on day 18, in force on day 6: the correction is not known yet
    assert book(as_of="2026-02-18", effective="2026-02-06") == (
        3,
        {"sales-cloud": 20},
        "500.00",
        "5900.00",
        3,
    )
    # before the seed's contracts started, nothing was in force
    empty = read(api, "/v1/reports/book", as_of="2026-02-25", effective="2026-01-04")
    assert (empty["active_contracts"], empty["seats_held"], empty["open_invoices"]) == (0, {}, 0)
    assert empty["monthly_recurring_revenue"] == empty["open_balance"] == []
    assert (empty["as_of"], empty["effective"]) == (
        "2026-02-25T23:59:59.999999+00:00",
        "2026-01-04",
    )


# -- refusals ----------------------------------------------------------------------------------


def test_before_the_ledger_knew_it_the_answer_is_404(api: Api, clock: ControllableClock) -> None:
    t = build_history(api, clock)
    before_account = "2026-02-01T09:59:59Z"
    for path in (
        t.account,
        f"{t.account}/subscriptions",
        f"{t.account}/invoices",
        t.subscription,
        t.i1,
    ):
        problem = api.refused(404, "GET", path, "auditor", params={"as_of": before_account})
        assert problem["type"] == "/problems/not-found"
    # the account existed on day 15, the invoice of day 20 did not
    problem = api.refused(404, "GET", t.i3, "billing_staff", params={"as_of": "2026-02-19"})
    assert t.ids["i3"] in problem["detail"]
    assert read(api, f"{t.account}/invoices", as_of="2026-02-15")  # the account, known


def test_a_malformed_as_of_or_effective_is_422(api: Api, clock: ControllableClock) -> None:
    t = build_history(api, clock)
    paths = (
        t.account,
        f"{t.account}/subscriptions",
        f"{t.account}/invoices",
        t.subscription,
        t.i1,
        "/v1/reports/book",
    )
    for path in paths:
        for as_of in ("yesterday", "2026-02-30", "2026-02-10T25:00:00Z", "x" * 41):
            problem = api.refused(422, "GET", path, "billing_staff", params={"as_of": as_of})
            assert [e["field"] for e in problem["errors"]] == ["query.as_of"], problem
        problem = api.refused(422, "GET", path, "billing_staff", params={"effective": "2026-13-01"})
        assert [e["field"] for e in problem["errors"]] == ["query.effective"]


@pytest.mark.parametrize("who", ["admin", "other_admin"])
def test_point_in_time_reads_keep_tenants_apart(api: Api, who: str) -> None:
    """A customer reads its own account back in time; another account, back in time, answers
    exactly as a missing one does."""
    acme = f"/v1/accounts/{api.acme.account_id}"
    params = {"as_of": "2026-01-05T09:00:00Z"}
    if who == "admin":
        assert read(api, acme, "admin", **params)["name"] == "Acme"
        assert [s["id"] for s in read(api, f"{acme}/subscriptions", "admin", **params)] == [
            str(api.acme.subscription_id)
        ]
        return
    foreign = api.get(acme, who, params=params)
    missing = api.get(f"/v1/accounts/{uuid4()}", who, params=params)
    for response in (foreign, missing):
        assert_problem(response, 404)
    assert foreign.json()["detail"] == missing.json()["detail"] == "no account"
