"""Contracts over HTTP: buying, adding licenses and products, renewals, seats, and the
staff's early cancellation."""

from __future__ import annotations

from datetime import date, datetime
from uuid import uuid4

from tests.e2e.conftest import Api


def test_an_account_lists_its_contracts_and_each_carries_its_etag(api: Api) -> None:
    (listed,) = api.get(f"/v1/accounts/{api.acme.account_id}/subscriptions", "admin").json()
    one = api.get(f"/v1/subscriptions/{api.acme.subscription_id}", "admin")
    assert one.json() == listed
    assert one.headers["ETag"] == f'"{listed["version"]}"'
    assert (listed["status"], listed["term_start"], listed["term_end"]) == (
        "active",
        "2026-01-05",
        "2027-01-05",
    )
    assert listed["period_amount"] == {"amount": "1500.00", "currency": "USD"}
    assert listed["renewal"]["starts_on"] == "2027-01-05"


def test_buying_products_starts_a_contract_and_invoices_its_first_period(api: Api) -> None:
    response = api.post(
        f"/v1/accounts/{api.acme.account_id}/subscriptions",
        "admin",
        json={
            "lines": [
                {"product_code": "service-cloud", "quantity": 3},
                {"product_code": "data-storage", "quantity": 10},
            ],
            "billing_period": "monthly",
            "term_months": 12,
            "auto_renew": False,
        },
    )
    change = api.wrote(response, 201)
    sub = change["subscription"]
    assert response.headers["Location"] == f"/v1/subscriptions/{sub['id']}"
    assert {(ln["product_code"], ln["quantity"]) for ln in sub["lines"]} == {
        ("service-cloud", 3),
        ("data-storage", 10),
    }
    assert sub["renewal"] is None and sub["billing_period"] == "monthly"
    invoice = api.get(f"/v1/invoices/{change['invoice_id']}", "admin").json()
    assert invoice["subscription_id"] == sub["id"]
    assert invoice["total"] == {"amount": "125.00", "currency": "USD"}  # 3x25 + 10x5


def test_buying_refusals_write_nothing(api: Api) -> None:
    path = f"/v1/accounts/{api.acme.account_id}/subscriptions"
    api.refused(422, "POST", path, "admin", json={"lines": []})
    api.refused(
        422, "POST", path, "admin", json={"lines": [{"product_code": "sales-cloud", "quantity": 0}]}
    )
    unknown = api.refused(
        422, "POST", path, "admin", json={"lines": [{"product_code": "warp-drive", "quantity": 1}]}
    )
    assert unknown["type"] == "/problems/unknown-product"
    not_sold = api.refused(
        409, "POST", path, "admin", json={"lines": [{"product_code": "inbox", "quantity": 1}]}
    )
    assert not_sold["type"] == "/problems/product-not-in-edition"


def test_licenses_added_mid_term_are_prorated_and_invoiced(api: Api, clock) -> None:
    clock.set(datetime(2026, 4, 15, 9, tzinfo=clock.now().tzinfo))
    response = api.post(
        f"/v1/subscriptions/{api.acme.subscription_id}/licenses",
        "admin",
        json={"product_code": "sales-cloud", "quantity": 3},
    )
    change = api.wrote(response)
    (line,) = change["subscription"]["lines"]
    assert line["quantity"] == 8
    invoice = api.get(f"/v1/invoices/{change['invoice_id']}", "admin").json()
    assert invoice["total"]["amount"] == "653.42"  # 3 x 300.00 x 265/365 days
    (licenses,) = api.get(f"/v1/accounts/{api.acme.account_id}/licenses", "admin").json()
    assert (licenses["held"], licenses["available"]) == (8, 7)


def test_an_addition_answers_the_contract_it_saved_and_a_retry_the_same(api: Api) -> None:
    """The answer is rendered from the aggregates the command saved; a replay (nothing
    saved this time) loads them at the first answer's version, and says the same."""
    path = f"/v1/subscriptions/{api.acme.subscription_id}/licenses"
    body = {"product_code": "sales-cloud", "quantity": 2}
    key = {"Idempotency-Key": "add-two-seats"}
    first = api.post(path, "billing_staff", json=body, headers=key)
    change = api.wrote(first)
    api.wrote(api.post(path, "billing_staff", json=body))  # the contract moves on

    again = api.post(path, "billing_staff", json=body, headers=key)

    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.json() == change
    assert again.headers["ETag"] == first.headers["ETag"]
    assert first.headers["ETag"] == f'"{change["subscription"]["version"]}"'
    assert change["subscription"]["lines"][0]["quantity"] == 7
    invoice = api.get(f"/v1/invoices/{change['invoice_id']}", "admin").json()
    assert invoice["subscription_id"] == str(api.acme.subscription_id)
    now = api.get(f"/v1/subscriptions/{api.acme.subscription_id}", "admin").json()
    assert now["lines"][0]["quantity"] == 9
    assert now["version"] == change["subscription"]["version"] + 1


def test_a_backdated_addition_needs_a_reason(api: Api, clock) -> None:
    clock.set(datetime(2026, 3, 1, 9, tzinfo=clock.now().tzinfo))
    path = f"/v1/subscriptions/{api.acme.subscription_id}/licenses"
    problem = api.refused(
        422,
        "POST",
        path,
        "billing_staff",
        json={"product_code": "sales-cloud", "quantity": 1, "effective": "2026-02-01"},
    )
    assert problem["type"] == "/problems/reason-required"
    api.wrote(
        api.post(
            path,
            "billing_staff",
            json={
                "product_code": "sales-cloud",
                "quantity": 1,
                "effective": "2026-02-01",
                "reason": "missed on the order form",
            },
        )
    )


def test_licenses_for_a_product_not_on_the_contract_are_refused(api: Api) -> None:
    path = f"/v1/subscriptions/{api.acme.subscription_id}/licenses"
    body = {"product_code": "service-cloud", "quantity": 1}
    not_on = api.refused(409, "POST", path, "admin", json=body)
    assert not_on["type"] == "/problems/not-on-contract"
    # an unknown product is refused as on every other route that takes one
    unknown = api.refused(422, "POST", path, "admin", json={**body, "product_code": "warp-drive"})
    assert unknown["type"] == "/problems/unknown-product"


def test_a_product_or_add_on_is_added_to_a_contract(api: Api) -> None:
    path = f"/v1/subscriptions/{api.acme.subscription_id}/products"
    change = api.wrote(
        api.post(path, "admin", json={"product_code": "file-storage", "quantity": 2})
    )
    assert {ln["product_code"] for ln in change["subscription"]["lines"]} == {
        "sales-cloud",
        "file-storage",
    }
    assert change["invoice_id"] is not None
    problem = api.refused(
        409, "POST", path, "admin", json={"product_code": "sales-cloud", "quantity": 1}
    )
    assert problem["type"] == "/problems/already-exists"


def test_the_next_renewal_is_changed_cancelled_and_scheduled_again(api: Api) -> None:
    path = f"/v1/subscriptions/{api.acme.subscription_id}/renewal"
    changed = api.wrote(
        api.put(path, "admin", json={"term_months": 24, "quantities": {"sales-cloud": 7}})
    )
    assert changed["renewal"]["term_months"] == 24
    assert [ln["quantity"] for ln in changed["renewal"]["lines"]] == [7]

    cancelled = api.wrote(api.delete(path, "admin"))
    assert cancelled["renewal"] is None
    problem = api.refused(409, "DELETE", path, "admin")
    assert problem["type"] == "/problems/already-in-that-state"

    scheduled = api.wrote(api.put(path, "admin", json={}))
    assert scheduled["renewal"]["term_months"] == 12
    api.refused(422, "PUT", path, "admin", json={"term_months": 0})
    api.refused(422, "PUT", path, "admin", json={"quantities": {"sales-cloud": 0}})


def test_seats_are_assigned_to_users_and_taken_back(api: Api) -> None:
    base = f"/v1/accounts/{api.acme.account_id}/licenses/sales-cloud/assignments"
    assigned = api.wrote(api.put(f"{base}/ben", "admin"))
    assert (sorted(assigned["assigned"]), assigned["available"]) == (["ada", "ben"], 3)
    api.refused(409, "PUT", f"{base}/ben", "admin")
    api.refused(404, "PUT", f"{base}/nobody", "admin")

    taken_back = api.wrote(api.delete(f"{base}/ben", "admin"))
    assert taken_back["assigned"] == ["ada"]
    api.refused(409, "DELETE", f"{base}/ben", "admin")  # already in that state
    api.refused(404, "DELETE", f"{base}/nobody", "admin")
    api.refused(
        404, "PUT", f"/v1/accounts/{api.acme.account_id}/licenses/inbox/assignments/ben", "admin"
    )


def test_no_more_seats_can_be_assigned_than_were_bought(api: Api) -> None:
    base = f"/v1/accounts/{api.acme.account_id}"
    for n in range(4):
        api.post(
            f"{base}/users",
            "admin",
            json={"user_id": f"u{n}", "name": f"U {n}", "email": f"u{n}@acme.example"},
        ).raise_for_status()
        api.wrote(api.put(f"{base}/licenses/sales-cloud/assignments/u{n}", "admin"))

    problem = api.refused(409, "PUT", f"{base}/licenses/sales-cloud/assignments/ben", "admin")
    assert problem["type"] == "/problems/seats-exhausted"


def test_staff_end_a_contract_early_only_with_a_reason(api: Api) -> None:
    path = f"/v1/subscriptions/{api.acme.subscription_id}/cancellation"
    api.refused(422, "POST", path, "billing_staff", json={})
    api.refused(403, "POST", path, "admin", json={"reason": "we are leaving"})

    ended = api.wrote(
        api.post(path, "billing_staff", json={"reason": "customer exit agreed", "effective": None})
    )
    assert (ended["status"], ended["ended_on"]) == ("cancelled", str(date(2026, 1, 5)))
    (licenses,) = api.get(f"/v1/accounts/{api.acme.account_id}/licenses", "admin").json()
    assert licenses["held"] == 0
    problem = api.refused(
        409,
        "POST",
        f"/v1/subscriptions/{api.acme.subscription_id}/licenses",
        "admin",
        json={"product_code": "sales-cloud", "quantity": 1},
    )
    assert problem["type"] == "/problems/contract-not-active"


def test_a_missing_contract_is_404(api: Api) -> None:
    api.refused(404, "GET", f"/v1/subscriptions/{uuid4()}", "admin")
    api.refused(404, "DELETE", f"/v1/subscriptions/{uuid4()}/renewal", "billing_staff")


def test_a_command_on_a_missing_contract_is_404_before_its_idempotency_key_is_judged(
    api: Api,
) -> None:
    """Staff's commands leave the contract's lookup to the command, which makes it first;
    with an Idempotency-Key the route still looks it up first, so a key used before for
    another request does not answer 422 for a contract that does not exist."""
    body = {"product_code": "sales-cloud", "quantity": 1}
    for who in ("billing_staff", "admin"):
        sub = f"/v1/subscriptions/{uuid4()}"
        api.refused(404, "POST", f"{sub}/licenses", who, json=body)
        api.refused(404, "POST", f"{sub}/products", who, json=body)
        api.refused(404, "PUT", f"{sub}/renewal", who, json={"term_months": 12})
        api.refused(404, "DELETE", f"{sub}/renewal", who)
    key = {"Idempotency-Key": "used-once"}
    path = f"/v1/subscriptions/{api.acme.subscription_id}/licenses"
    api.wrote(api.post(path, "billing_staff", json=body, headers=key))
    missing = f"/v1/subscriptions/{uuid4()}/licenses"
    api.refused(404, "POST", missing, "billing_staff", json=body, headers=key)
    reused = api.refused(
        422, "POST", path, "billing_staff", json={**body, "quantity": 2}, headers=key
    )
    assert reused["type"] == "/problems/idempotency-key-reused"
