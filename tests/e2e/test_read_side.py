"""The read side over HTTP: the account overview, read your writes (and 503 past the
bound), book-wide reports, the audit trail with its cursor and exports, and an account's
own history. Figures are checked against the seed (tests/e2e/conftest.py) and against
values worked out by hand."""

from __future__ import annotations

import csv
import io
import json
import threading
import time
from datetime import UTC, datetime
from typing import Any
from uuid import uuid4

import httpx
import pytest

from adapters.clock import ControllableClock
from domain.account import BillingDetails, User
from domain.catalog import Edition
from projections.audit_trail import COLUMNS
from service.http.routes import audit
from service.reads.read_side import ReadSide
from tests.e2e.conftest import PRINCIPALS, STAFF, Api, assert_problem, record_payment_methods
from tests.metrics import metric

REPORTS = ("/v1/reports/book", "/v1/reports/renewals", "/v1/reports/invoices")
AUDIT = "/v1/audit/events"
NO_WAIT = {"Ledger-Min-Position": "0"}  # serve whatever the read models hold now


def usd(amount: str) -> dict[str, str]:
    return {"amount": amount, "currency": "USD"}


def eur(amount: str) -> dict[str, str]:
    return {"amount": amount, "currency": "EUR"}


def ok(response: httpx.Response) -> Any:
    assert response.status_code == 200, response.text
    return response.json()


def pause_projections(api: Api) -> ReadSide:
    """Stop the app's projection runner (its thread ends after its current batch)."""
    read_side: ReadSide = api.client.app.state.read_side  # type: ignore[attr-defined]
    read_side.wait_for(api.head, timeout=10)  # caught up with the seed first
    read_side.stop_soon()
    assert read_side._thread is not None
    read_side._thread.join(timeout=10)
    assert not read_side._thread.is_alive() and not read_side.running_here
    return read_side


def open_euro_account(api: Api) -> tuple[str, str]:
    """A Professional EUR account in Germany (19% VAT) with 2 Service Cloud seats, monthly,
    for 3 months: 2 x 73.60 = 147.20 a month; its first invoice 147.20 + 27.97 = 175.17."""
    opened = api.wrote(
        api.post(
            "/v1/accounts",
            "billing_staff",
            json={
                "name": "Euro GmbH",
                "edition": "Professional",
                "currency": "EUR",
                "billing_details": {
                    "legal_name": "Euro GmbH",
                    "address_line1": "Hauptstr. 1",
                    "city": "Berlin",
                    "postal_code": "10115",
                    "country": "DE",
                    "invoice_email": "ap@euro.example",
                },
                "administrator": {"user_id": "eva", "name": "Eva", "email": "eva@example.com"},
            },
        ),
        201,
    )
    started = api.wrote(
        api.post(
            f"/v1/accounts/{opened['id']}/subscriptions",
            "billing_staff",
            json={
                "lines": [{"product_code": "service-cloud", "quantity": 2}],
                "term_months": 3,
                "billing_period": "monthly",
            },
        ),
        201,
    )
    return opened["id"], started["subscription"]["id"]


# -- the account overview ----------------------------------------------------------------------


def test_the_overview_of_the_seeded_account(api: Api) -> None:
    account = f"/v1/accounts/{api.acme.account_id}"
    overview = ok(api.get(f"{account}/overview", "admin"))

    assert overview["account"] == ok(api.get(account, "admin"))
    assert overview["account"]["identity_licenses"] == {"used": 1, "limit": 100}
    assert overview["contracts"] == ok(api.get(f"{account}/subscriptions", "admin"))
    (contract,) = overview["contracts"]
    assert contract["id"] == str(api.acme.subscription_id)
    assert overview["seats"] == [
        {
            "product_code": "sales-cloud",
            "product_name": "Sales Cloud",
            "held": 5,
            "assigned": 1,
            "available": 4,
        }
    ]
    assert overview["next_renewal"] == {
        "subscription_id": str(api.acme.subscription_id),
        "starts_on": "2027-01-05",
        "term_months": 12,
        "value": usd("1500.00"),
    }
    assert (overview["open_balance"], overview["open_invoices"]) == ([usd("1500.00")], 1)


def test_the_overview_follows_purchases_seats_identity_licenses_renewals_and_payments(
    api: Api,
) -> None:
    account = f"/v1/accounts/{api.acme.account_id}"
    contract = f"/v1/subscriptions/{api.acme.subscription_id}"
    # a product added on the first day of the term: a full year, 3 x 300.00
    added = api.wrote(
        api.post(
            f"{contract}/products", "admin", json={"product_code": "service-cloud", "quantity": 3}
        )
    )
    assert added["invoice_id"] is not None
    api.wrote(api.put(f"{account}/licenses/service-cloud/assignments/ben", "admin"))
    api.wrote(api.post(f"{account}/identity-licenses", "admin", json={"user_id": "ben"}), 201)
    api.wrote(api.post(f"/v1/invoices/{api.acme.invoice_id}/payments", "admin", json={}), 201)
    # a second contract: one month of 2 seats, renewing first (on 5 February, 2 x 25.00)
    monthly = api.wrote(
        api.post(
            f"{account}/subscriptions",
            "identity",
            json={
                "lines": [{"product_code": "sales-cloud", "quantity": 2}],
                "term_months": 1,
                "billing_period": "monthly",
            },
        ),
        201,
    )["subscription"]["id"]

    overview = ok(api.get(f"{account}/overview", "identity"))
    assert overview["account"]["identity_licenses"] == {"used": 2, "limit": 100}
    assert [c["id"] for c in overview["contracts"]] == [str(api.acme.subscription_id), monthly]
    assert [
        (s["product_code"], s["held"], s["assigned"], s["available"]) for s in overview["seats"]
    ] == [
        ("sales-cloud", 7, 1, 6),
        ("service-cloud", 3, 1, 2),
    ]
    assert overview["next_renewal"] == {
        "subscription_id": monthly,
        "starts_on": "2026-02-05",
        "term_months": 1,
        "value": usd("50.00"),
    }
    # the first invoice is paid; open: the service-cloud year (900.00) and the month (50.00)
    assert (overview["open_balance"], overview["open_invoices"]) == ([usd("950.00")], 2)

    # without the monthly renewal, the yearly one is next, grown by the added product
    api.wrote(api.delete(f"/v1/subscriptions/{monthly}/renewal", "admin"))
    overview = ok(api.get(f"{account}/overview", "admin"))
    assert overview["next_renewal"] == {
        "subscription_id": str(api.acme.subscription_id),
        "starts_on": "2027-01-05",
        "term_months": 12,
        "value": usd("2400.00"),
    }
    api.wrote(api.delete(f"{contract}/renewal", "admin"))
    assert ok(api.get(f"{account}/overview", "admin"))["next_renewal"] is None


def test_who_may_see_an_overview(api: Api) -> None:
    path = f"/v1/accounts/{api.acme.account_id}/overview"
    for who in ("admin", "identity", "billing_staff", "account_manager", "auditor"):
        ok(api.get(path, who))
    assert api.refused(403, "GET", path, "user")["permission"] == "manage_billing"
    assert api.refused(403, "GET", path, "operator")["type"] == "/problems/forbidden"
    foreign = api.refused(404, "GET", path, "other_admin")
    missing = api.refused(404, "GET", f"/v1/accounts/{uuid4()}/overview", "other_admin")
    assert foreign == {**missing, "instance": foreign["instance"]}
    api.refused(404, "GET", f"/v1/accounts/{uuid4()}/overview", "auditor")


# -- read your writes --------------------------------------------------------------------------


def test_a_writes_position_serves_the_new_state_as_query_or_header(api: Api) -> None:
    invoice = f"/v1/invoices/{api.acme.invoice_id}"
    read_side = pause_projections(api)
    paid = api.post(f"{invoice}/payments", "admin", json={"amount": "500.00"})
    api.wrote(paid, 201)
    position = paid.headers["Ledger-Position"]

    # without a position the read model answers what it holds: not yet the payment
    assert ok(api.get(invoice, "admin", headers=NO_WAIT))["balance"] == usd("1500.00")
    # naming it, the read waits for the projections (caught up here 0.3 s later)
    timer = threading.Timer(0.3, read_side.runner.catch_up)
    started = time.monotonic()
    timer.start()
    fresh = api.get(invoice, "admin", params={"min_position": position}, headers=NO_WAIT)
    waited = time.monotonic() - started
    timer.join()
    assert ok(fresh)["balance"] == usd("1000.00")
    assert fresh.headers["ETag"] == f'"{ok(fresh)["version"]}"'
    assert waited >= 0.25
    by_header = api.get(invoice, "admin", headers={"Ledger-Min-Position": position})
    assert ok(by_header)["balance"] == usd("1000.00")
    overview = ok(
        api.get(
            f"/v1/accounts/{api.acme.account_id}/overview",
            "admin",
            headers={"Ledger-Min-Position": position},
        )
    )
    assert overview["open_balance"] == [usd("1000.00")]


def test_a_position_beyond_the_log_or_malformed_is_refused_with_422(api: Api) -> None:
    path = f"/v1/accounts/{api.acme.account_id}"
    beyond = str(api.head + 1)
    problem = api.refused(422, "GET", path, "admin", params={"min_position": beyond})
    assert f"position {beyond} is beyond the end of the log ({api.head})" in problem["detail"]
    api.refused(422, "GET", path, "admin", headers={"Ledger-Min-Position": beyond})
    api.refused(422, "GET", AUDIT, "auditor", params={"min_position": beyond})
    api.refused(422, "GET", "/v1/reports/book", "auditor", headers={"Ledger-Min-Position": beyond})
    for bad in ("-1", "next", "1.5", str(2**63)):
        problem = api.refused(
            422, "GET", path, "admin", params={"min_position": bad}, headers=NO_WAIT
        )
        assert [e["field"] for e in problem["errors"]] == ["query.min_position"]
        problem = api.refused(422, "GET", path, "admin", headers={"Ledger-Min-Position": bad})
        assert [e["field"] for e in problem["errors"]] == ["header.ledger-min-position"]
    # the log head itself is fine
    ok(api.get(path, "admin", params={"min_position": str(api.head)}, headers=NO_WAIT))


def test_past_the_bound_a_read_answers_503_and_readyz_shows_the_lag(api: Api) -> None:
    read_side = pause_projections(api)
    read_side.read_wait_seconds = 0.05
    # This test is about the lag; the runner's absence has its own grace test, and a loaded
    # machine can spend more than the default 5 s on the reads below.
    read_side.runner_grace_seconds = 600
    account = f"/v1/accounts/{api.acme.account_id}"
    before = api.head
    api.ledger.set_payment_method(STAFF, api.acme.account_id, "pm_direct")
    api.ledger.add_licenses(STAFF, api.acme.subscription_id, "sales-cloud", 2)
    newcomer = api.ledger.open_account(
        STAFF,
        "Newcomer",
        Edition.ESSENTIALS,
        "USD",
        BillingDetails("Newcomer", "1 New St", "Springfield", "12345", "US", "ap@new.example"),
        User("nia", "Nia", "nia@example.com", administrator=True),
    ).aggregate_id
    # 1 + 4 (seats, their holding, the prorated invoice and its number) + 1
    written = api.head - before
    assert written == 6

    for path, who in (
        (account, "admin"),
        (f"{account}/overview", "admin"),
        (f"{account}/invoices", "admin"),
        (f"/v1/subscriptions/{api.acme.subscription_id}", "auditor"),
        (f"{account}/history", "admin"),
        (AUDIT, "auditor"),
        *((report, "auditor") for report in REPORTS),
    ):
        response = api.get(path, who)  # names the log head, as after a write
        assert_problem(response, 503)
        assert response.json()["type"] == "/problems/read-models-behind"
        assert response.headers["Retry-After"] == "1"
        assert f"not yet {api.head}" in response.json()["detail"]
    # a point-in-time read waits for everything recorded up to now, whatever it names
    response = api.get(account, "admin", params={"as_of": "2026-01-05"}, headers=NO_WAIT)
    assert response.status_code == 503
    # without a position, the read model answers what it has: stale, but an answer
    assert ok(api.get(account, "admin", headers=NO_WAIT))["payment_method"] == "pm_card_visa"
    # a new account the read models have not seen is not "missing": they are behind
    response = api.get(f"/v1/accounts/{newcomer}", "billing_staff", headers=NO_WAIT)
    assert response.status_code == 503, response.text

    ready = ok(api.get("/readyz"))
    assert (ready["position"], ready["runner"]) == (api.head, "elsewhere")
    names = (
        *("audit_trail", "account_overview", "book", "hash_chain", "billing_agenda", "lookups"),
        "retention",
    )
    assert ready["lag"] == dict.fromkeys(names, written)
    metrics = api.get("/metrics").text
    for name in names:
        assert metric(metrics, "subledger_projection_lag", projection=name) == written
        assert metric(metrics, "subledger_projection_position", projection=name) == before
    assert metric(metrics, "subledger_projection_runner_here") == 0

    read_side.runner.catch_up()  # what a retry after Retry-After finds
    assert ok(api.get(account, "admin"))["payment_method"] == "pm_direct"
    assert ok(api.get(f"/v1/accounts/{newcomer}", "billing_staff"))["name"] == "Newcomer"
    assert ok(api.get("/readyz"))["lag"] == dict.fromkeys(ready["lag"], 0)


# -- reports -----------------------------------------------------------------------------------


def test_the_book_report_per_currency(api: Api) -> None:
    # the seed: 2 contracts of 5 Sales Cloud seats at 300.00 a year each, 2 invoices of 1500.00
    assert ok(api.get("/v1/reports/book", "auditor")) == {
        "as_of": "2026-01-05T09:00:00+00:00",
        "effective": "2026-01-05",
        "active_contracts": 2,
        "active_contracts_by_currency": {"USD": 2},
        "seats_held": {"sales-cloud": 10},
        "monthly_recurring_revenue": [usd("250.00")],
        "open_balance": [usd("2900.00")],  # the other account's credited 100.00
        "open_invoices": 2,
    }
    open_euro_account(api)
    record_payment_methods(api, api.other.account_id, "pm_x")
    api.wrote(
        api.post(
            f"/v1/invoices/{api.other.invoice_id}/payments",
            "other_admin",
            json={"amount": "0.01", "payment_method": "pm_x"},
        ),
        201,
    )
    book = ok(api.get("/v1/reports/book", "account_manager"))
    assert book["active_contracts"] == 3
    assert book["active_contracts_by_currency"] == {"EUR": 1, "USD": 2}
    assert book["seats_held"] == {"sales-cloud": 10, "service-cloud": 2}
    # a monthly line counts 12 times a year: 147.20 EUR a month
    assert book["monthly_recurring_revenue"] == [eur("147.20"), usd("250.00")]
    assert book["open_balance"] == [eur("175.17"), usd("2899.99")]
    assert book["open_invoices"] == 3

    # as known just before the seed: nothing; in force the day before: nothing either
    for params in ({"as_of": "2026-01-05T08:59:59Z"}, {"effective": "2026-01-04"}):
        empty = ok(api.get("/v1/reports/book", "billing_staff", params=params))
        assert (empty["active_contracts"], empty["seats_held"], empty["open_invoices"]) == (
            0,
            {},
            0,
        )
        assert empty["monthly_recurring_revenue"] == empty["open_balance"] == []


def test_upcoming_renewals_within_days_by_edition_and_currency(api: Api) -> None:
    euro_id, euro_sub = open_euro_account(api)

    def due(**params: str) -> list[str]:
        found = ok(api.get("/v1/reports/renewals", "auditor", params=params))
        return [r["account_name"] for r in found]

    # today is 5 January 2026: the euro contract renews on 5 April (in 90 days), the
    # seeded ones on 5 January 2027 (in 365 days)
    assert due() == []
    assert due(within_days="89") == []
    assert due(within_days="90") == ["Euro GmbH"]
    assert due(within_days="364") == ["Euro GmbH"]
    assert due(within_days="365") == ["Euro GmbH", "Acme", "Other"]
    assert due(within_days="365", edition="Professional") == ["Euro GmbH"]
    assert due(within_days="365", edition="Essentials") == ["Acme", "Other"]
    assert due(within_days="365", edition="Enterprise") == []
    assert due(within_days="365", currency="USD") == ["Acme", "Other"]
    assert due(within_days="365", currency="EUR", edition="Professional") == ["Euro GmbH"]
    assert due(within_days="365", currency="GBP") == []
    assert due(on="2026-04-06", within_days="365") == ["Acme", "Other"]
    assert due(on="2027-01-05", within_days="0") == ["Acme", "Other"]

    (euro,) = ok(api.get("/v1/reports/renewals", "billing_staff", params={"within_days": "90"}))
    assert euro == {
        "subscription_id": euro_sub,
        "account_id": euro_id,
        "account_name": "Euro GmbH",
        "edition": "Professional",
        "currency": "EUR",
        "billing_period": "monthly",
        "starts_on": "2026-04-05",
        "term_months": 3,
        "value": eur("147.20"),
    }
    acme = ok(api.get("/v1/reports/renewals", "auditor", params={"within_days": "365"}))[1]
    assert (acme["subscription_id"], acme["value"]) == (
        str(api.acme.subscription_id),
        usd("1500.00"),
    )
    # a cancelled renewal is not coming up any more
    api.wrote(api.delete(f"/v1/subscriptions/{api.other.subscription_id}/renewal", "other_admin"))
    assert due(within_days="365") == ["Euro GmbH", "Acme"]

    for params in (
        {"within_days": "-1"},
        {"within_days": "3661"},
        {"currency": "usd"},
        {"edition": "Gold"},
        {"on": "someday"},
    ):
        api.refused(422, "GET", "/v1/reports/renewals", "auditor", params=params)


def test_invoice_ageing_buckets(api: Api, clock: ControllableClock) -> None:
    open_euro_account(api)  # 175.17 EUR, due 4 February like the seeded invoices
    api.wrote(
        api.post(
            f"/v1/invoices/{api.acme.invoice_id}/payments", "admin", json={"amount": "500.00"}
        ),
        201,
    )  # acme owes 1000.00, other 1400.00 (credited 100.00), both due 4 February
    clock.set(datetime(2026, 2, 14, 9, tzinfo=UTC))
    late = api.wrote(
        api.post(
            f"/v1/accounts/{api.other.account_id}/subscriptions",
            "other_admin",
            json={"lines": [{"product_code": "sales-cloud", "quantity": 1}]},
        ),
        201,
    )  # 300.00, issued 14 February, due 16 March

    def ageing(**params: str) -> dict[str, tuple[str, ...]]:
        rows = ok(api.get("/v1/reports/invoices", "account_manager", params=params))
        buckets = ("current", "days_1_30", "days_31_60", "days_61_90", "over_90")
        return {
            row["currency"]: (
                str(row["open_invoices"]),
                row["open_balance"]["amount"],
                *(row[b]["amount"] for b in buckets),
            )
            for row in rows
        }

    euro_current = ("1", "175.17", "175.17", "0.00", "0.00", "0.00", "0.00")
    assert ageing(on="2026-02-04") == {
        "EUR": euro_current,
        "USD": ("3", "2700.00", "2700.00", "0.00", "0.00", "0.00", "0.00"),
    }
    # today (14 February): 10 days late, and the new invoice not yet due
    assert ageing()["USD"] == ("3", "2700.00", "300.00", "2400.00", "0.00", "0.00", "0.00")
    for on, usd_buckets in {
        "2026-02-05": ("300.00", "2400.00", "0.00", "0.00", "0.00"),  # 1 day
        "2026-03-06": ("300.00", "2400.00", "0.00", "0.00", "0.00"),  # 30 days
        "2026-03-07": ("300.00", "0.00", "2400.00", "0.00", "0.00"),  # 31 days
        "2026-03-16": ("300.00", "0.00", "2400.00", "0.00", "0.00"),  # the new one: due
        "2026-03-17": ("0.00", "300.00", "2400.00", "0.00", "0.00"),
        "2026-05-05": ("0.00", "0.00", "300.00", "2400.00", "0.00"),  # 90 days
        "2026-05-06": ("0.00", "0.00", "300.00", "0.00", "2400.00"),  # 91 days
        "2026-06-15": ("0.00", "0.00", "0.00", "0.00", "2700.00"),  # the new one: 91 days
    }.items():
        assert ageing(on=on)["USD"] == ("3", "2700.00", *usd_buckets), on
    assert ageing(on="2026-06-15")["EUR"] == (
        "1",
        "175.17",
        "0.00",
        "0.00",
        "0.00",
        "0.00",
        "175.17",
    )
    assert list(ageing(currency="EUR")) == ["EUR"]
    assert ageing(currency="GBP") == {}

    # paid and voided invoices are no longer open
    record_payment_methods(api, api.other.account_id, "pm_x")
    api.wrote(
        api.post(
            f"/v1/invoices/{late['invoice_id']}/payments",
            "other_admin",
            json={"payment_method": "pm_x"},
        ),
        201,
    )
    api.wrote(
        api.post(
            f"/v1/invoices/{api.other.invoice_id}/void",
            "billing_staff",
            json={"reason": "sent twice"},
        )
    )
    assert ageing(on="2026-02-04")["USD"] == (
        "1",
        "1000.00",
        "1000.00",
        "0.00",
        "0.00",
        "0.00",
        "0.00",
    )


def test_reports_are_for_staff_account_managers_and_auditors(api: Api) -> None:
    allowed = {"billing_staff", "account_manager", "auditor", "spare"}
    for path in REPORTS:
        for who in PRINCIPALS:
            if who in allowed:
                ok(api.get(path, who))
            else:
                problem = api.refused(403, "GET", path, who)
                assert problem["type"] == "/problems/forbidden"
        api.refused(401, "GET", path)


# -- the audit trail ---------------------------------------------------------------------------


def all_events(api: Api, who: str = "auditor", path: str = AUDIT, **params: str) -> list[dict]:
    """Every page of ``path`` through the cursor, checking each page's shape on the way."""
    events: list[dict] = []
    after = params.pop("after", "0")
    limit = int(params.pop("limit", "100"))
    for _ in range(1000):
        page = ok(api.get(path, who, params={**params, "after": after, "limit": str(limit)}))
        events += page["events"]
        if page["next_after"] is None:
            assert len(page["events"]) < limit
            return events
        assert len(page["events"]) == limit
        assert page["next_after"] == page["events"][-1]["position"]
        after = str(page["next_after"])
    raise AssertionError("the cursor never ended")


def log_positions(api: Api) -> list[int]:
    return [n.id for n in api.ledger.recorder.select_notifications(1, 10_000)]


def test_the_cursor_visits_every_position_once_in_order(api: Api) -> None:
    positions = log_positions(api)
    assert positions == list(range(1, len(positions) + 1)) and len(positions) > 20  # the seed
    for limit in ("1", "4", str(len(positions)), "1000"):
        events = all_events(api, limit=limit)
        assert [e["position"] for e in events] == positions, limit
    # the cursor starts anywhere
    assert [e["position"] for e in all_events(api, limit="5", after="20")] == positions[20:]
    page = ok(api.get(AUDIT, "auditor", params={"after": "20", "limit": "5"}))
    assert [e["position"] for e in page["events"]] == positions[20:25]
    assert page["next_after"] == positions[24]
    tail = ok(api.get(AUDIT, "auditor", params={"after": str(positions[-1])}))
    assert tail == {"events": [], "next_after": None}
    for bad in ({"limit": "0"}, {"limit": "1001"}, {"after": "-1"}, {"format": "xml"}):
        api.refused(422, "GET", AUDIT, "auditor", params=bad)


def test_each_row_says_who_when_and_why(api: Api) -> None:
    by_position = {e["position"]: e for e in all_events(api)}
    opened = by_position[1]
    assert {
        k: opened[k] for k in COLUMNS if k not in ("request_id", "correlation_id", "payload")
    } == {
        "position": 1,
        "recorded_at": "2026-01-05T09:00:00.000000Z",
        "effective_on": None,
        "aggregate_type": "Account",
        "aggregate_id": str(api.acme.account_id),
        "aggregate_version": 1,
        "account_id": str(api.acme.account_id),
        "event_type": "Account.AccountOpened",
        "actor": "seed-staff",
        "role": "billing_staff",
        "reason": None,
    }
    assert opened["correlation_id"] == opened["request_id"] != ""
    assert (opened["payload"]["name"], opened["payload"]["edition"]) == ("Acme", "Essentials")

    invoice = f"/v1/invoices/{api.acme.invoice_id}"
    before = api.head
    api.wrote(
        api.post(
            f"{invoice}/credit-notes",
            "billing_staff",
            json={"amount": "100.00", "reason": "goodwill"},
        ),
        201,
    )
    rows = ok(api.get(AUDIT, "auditor", params={"after": str(before)}))["events"]
    number, credit = rows  # the credit note's number (ADR 0022), then the credit note
    assert (number["event_type"], number["account_id"]) == (
        "InvoiceSeries.NumberAssigned",  # the seed's credit note opened the year's series
        str(api.acme.account_id),
    )
    assert (credit["event_type"], credit["actor"], credit["role"], credit["reason"]) == (
        "Invoice.CreditNoteIssued",
        "billing_staff:e2e billing_staff",
        "billing_staff",
        "goodwill",
    )
    assert (credit["aggregate_id"], credit["aggregate_version"]) == (str(api.acme.invoice_id), 2)
    assert credit["effective_on"] == "2026-01-05"
    assert credit["payload"]["amount"] == {"amount": "100.00", "currency": "USD"}


def test_filters_by_account_aggregate_actor_event_type_and_recorded_time(
    api: Api, clock: ControllableClock
) -> None:
    seed = all_events(api)
    acme = str(api.acme.account_id)

    def matching(**params: str) -> list[int]:
        return [e["position"] for e in all_events(api, limit="7", **params)]

    assert matching(account=acme) == [e["position"] for e in seed if e["account_id"] == acme]
    assert {e["account_id"] for e in all_events(api, account=acme)} == {acme}
    assert [e["event_type"] for e in all_events(api, aggregate=str(api.acme.subscription_id))] == [
        "Subscription.SubscriptionStarted",
        "Subscription.RenewalScheduled",
    ]
    issued = all_events(api, event_type="Invoice.InvoiceIssued")
    assert [e["aggregate_id"] for e in issued] == [
        str(api.acme.invoice_id),
        str(api.other.invoice_id),
    ]
    assert len(matching(actor="seed-operator")) == len(PRINCIPALS)  # one token each
    assert matching(actor="nobody") == []
    assert matching(event_type="Invoice.Nothing") == []

    # later writes, at chosen instants
    t1 = datetime(2026, 1, 5, 10, tzinfo=UTC)
    t2 = datetime(2026, 1, 5, 11, tzinfo=UTC)
    clock.set(t1)
    api.wrote(api.put(f"/v1/accounts/{acme}/payment-method", "admin", json={"reference": "pm_a"}))
    first = api.head
    clock.set(t2)
    api.wrote(api.put(f"/v1/accounts/{acme}/payment-method", "admin", json={"reference": "pm_b"}))
    second = api.head
    seed_positions = [e["position"] for e in seed]

    assert matching(recorded_to=t1.isoformat()) == seed_positions  # exclusive
    assert matching(recorded_from=t1.isoformat()) == [first, second]  # inclusive
    assert matching(recorded_from=t1.isoformat(), recorded_to=t2.isoformat()) == [first]
    assert matching(recorded_from="2026-01-05T10:00:00Z", recorded_to="2026-01-05T10:00:01Z") == [
        first
    ]
    # naive times are UTC; an offset is honoured (11:00+01:00 is 10:00 UTC)
    assert matching(recorded_from="2026-01-05T10:30:00") == [second]
    assert matching(recorded_to="2026-01-05T11:00:00+01:00") == seed_positions
    # filters combine
    assert matching(actor="ada", event_type="Account.PaymentMethodSet") == [first, second]
    assert matching(account=str(api.other.account_id), actor="ada") == []
    api.refused(422, "GET", AUDIT, "auditor", params={"recorded_from": "last week"})
    api.refused(422, "GET", AUDIT, "auditor", params={"account": "acme"})


def csv_cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, dict):
        return json.dumps(value, sort_keys=True)
    return str(value)


@pytest.mark.parametrize("page_size", [1000, 4])
def test_csv_and_json_lines_exports_hold_the_same_rows_as_the_pages(
    api: Api, monkeypatch: pytest.MonkeyPatch, page_size: int
) -> None:
    monkeypatch.setattr(audit, "EXPORT_PAGE", page_size)  # several pages per export, or one
    api.wrote(
        api.post(
            f"/v1/accounts/{api.acme.account_id}/support-cases",
            "admin",
            json={"subject": 'Commas, "quotes"', "description": "line one\nline two; ü"},
        ),
        201,
    )
    for params in ({}, {"account": str(api.acme.account_id)}, {"after": "10"}, {"actor": "nobody"}):
        rows = all_events(api, **params)
        exported = api.get(AUDIT, "auditor", params={**params, "format": "csv"})
        assert exported.status_code == 200
        assert exported.headers["content-type"].startswith("text/csv")
        assert exported.headers["content-disposition"] == 'attachment; filename="audit.csv"'
        header, *lines = list(csv.reader(io.StringIO(exported.text)))
        assert header == list(COLUMNS)
        assert lines == [[csv_cell(row[c]) for c in COLUMNS] for row in rows], params

        exported = api.get(AUDIT, "billing_staff", params={**params, "format": "jsonl"})
        assert exported.status_code == 200
        assert exported.headers["content-type"].startswith("application/x-ndjson")
        assert exported.headers["content-disposition"] == 'attachment; filename="audit.jsonl"'
        assert [json.loads(line) for line in exported.text.splitlines()] == rows, params
        assert exported.text == "".join(json.dumps(r, sort_keys=True) + "\n" for r in rows)


def test_a_requests_id_shows_up_in_every_audit_row_it_caused(api: Api) -> None:
    before = api.head
    bought = api.post(
        f"/v1/accounts/{api.acme.account_id}/subscriptions",
        "admin",
        json={"lines": [{"product_code": "service-cloud", "quantity": 2}]},
        headers={"X-Request-ID": "req-read-side-1"},
    )
    api.wrote(bought, 201)
    rows = ok(api.get(AUDIT, "auditor", params={"after": str(before)}))["events"]
    assert {(r["request_id"], r["correlation_id"]) for r in rows} == {
        ("req-read-side-1", "req-read-side-1")
    }
    assert [r["event_type"] for r in rows if r["aggregate_type"] != "IdempotencyRecord"] == [
        "InvoiceSeries.NumberAssigned",  # the invoice's number, saved first (ADR 0022)
        "Subscription.SubscriptionStarted",
        "Subscription.RenewalScheduled",
        "License.LicenseOpened",
        "License.LicenseAdded",
        "Invoice.InvoiceIssued",
    ]
    assert {(r["actor"], r["role"], r["account_id"]) for r in rows} == {
        ("ada", "admin", str(api.acme.account_id))
    }
    before = api.head
    api.wrote(
        api.put(
            f"/v1/accounts/{api.acme.account_id}/payment-method",
            "admin",
            json={"reference": "pm_c"},
            headers={"X-Request-ID": "req-read-side-2", "X-Correlation-ID": "journey-9"},
        )
    )
    (row,) = ok(api.get(AUDIT, "auditor", params={"after": str(before)}))["events"]
    assert (row["request_id"], row["correlation_id"]) == ("req-read-side-2", "journey-9")


def test_the_audit_trail_is_for_staff_and_auditors(api: Api) -> None:
    allowed = {"billing_staff", "auditor", "spare"}
    for who in PRINCIPALS:
        for fmt in ("json", "csv", "jsonl"):
            if who in allowed:
                assert api.get(AUDIT, who, params={"format": fmt}).status_code == 200
            else:
                problem = api.refused(403, "GET", AUDIT, who, params={"format": fmt})
                assert problem["type"] == "/problems/forbidden"
    api.refused(401, "GET", AUDIT, params={"format": "csv"})


# -- an account's own history ------------------------------------------------------------------


def test_an_account_admin_sees_its_own_history_only(api: Api) -> None:
    acme = str(api.acme.account_id)
    history = f"/v1/accounts/{acme}/history"
    record_payment_methods(api, api.other.account_id, "pm_x")
    api.wrote(
        api.post(
            f"/v1/invoices/{api.other.invoice_id}/payments",
            "other_admin",
            json={"amount": "1.00", "payment_method": "pm_x"},
        ),
        201,
    )  # the other account's business
    own = all_events(api, "admin", history, limit="3")
    assert own and {e["account_id"] for e in own} == {acme}
    assert own == all_events(api, "auditor", account=acme)
    assert str(api.other.account_id) not in json.dumps(own)
    assert own == all_events(api, "identity", history)
    assert all_events(api, "account_manager", history) == own  # account-read, not audit

    # filters and exports, within the account
    mine = all_events(api, "admin", history, aggregate=str(api.acme.invoice_id))
    assert [e["event_type"] for e in mine] == ["Invoice.InvoiceIssued"]
    assert all_events(api, "admin", history, aggregate=str(api.other.invoice_id)) == []
    assert all_events(api, "admin", history, actor="other") == []
    exported = api.get(history, "admin", params={"format": "jsonl"})
    assert [json.loads(line) for line in exported.text.splitlines()] == own
    header, *lines = list(
        csv.reader(io.StringIO(api.get(history, "admin", params={"format": "csv"}).text))
    )
    assert header == list(COLUMNS) and len(lines) == len(own)


def test_another_tenant_gets_404_for_a_history_and_manage_billing_gates_it(api: Api) -> None:
    foreign = f"/v1/accounts/{api.acme.account_id}/history"
    missing = f"/v1/accounts/{uuid4()}/history"
    for fmt in ("json", "csv"):
        a = api.refused(404, "GET", foreign, "other_admin", params={"format": fmt})
        b = api.refused(404, "GET", missing, "other_admin", params={"format": fmt})
        assert {**a, "instance": ""} == {**b, "instance": ""}
        assert a["detail"] == "no account"
    assert api.refused(403, "GET", foreign, "user")["permission"] == "manage_billing"
    api.refused(403, "GET", foreign, "operator")
    api.refused(404, "GET", missing, "billing_staff")
