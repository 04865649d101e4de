"""The exact invoice before confirming (ADR 0024): the add forms' review and the live
preview are the command's own preview (the API's ``/preview``), and the confirmation
issues what the review showed or refuses, writing nothing. The renewal shows the invoice
the next term starts with. Removing a user. As a browser without JavaScript sends it."""

from __future__ import annotations

from decimal import Decimal

from domain.money import Money
from service.web import i18n
from tests.e2e.conftest import Api
from tests.e2e.web import sign_in


def _contract(api: Api) -> str:
    return f"/app/accounts/{api.acme.account_id}/contracts/{api.acme.subscription_id}"


def _api_preview(api: Api, quantity: int) -> dict:  # type: ignore[type-arg]
    answer = api.post(
        f"/v1/subscriptions/{api.acme.subscription_id}/licenses/preview",
        "admin",
        json={"product_code": "sales-cloud", "quantity": quantity},
    )
    assert answer.status_code == 200, answer.text
    return answer.json()  # type: ignore[no-any-return]


def _shown(total: dict, language: str = "en") -> str:  # type: ignore[type-arg]
    return i18n.money(Money(Decimal(total["amount"]), total["currency"]), language)


def test_the_review_shows_the_invoice_the_confirmation_issues(api: Api) -> None:
    expected = _api_preview(api, 3)["invoices"][0]
    visitor = sign_in(api)
    visitor.get(f"{_contract(api)}/licenses")
    review = visitor.submit("/licenses", product_code="sales-cloud", quantity="3")
    assert review.status_code == 200
    assert _shown(expected["total"]) in review.text and _shown(expected["tax"]) in review.text
    before = {i.id for i in api.ledger.invoices_of(api.acme.account_id)}
    visitor.submit("/licenses")
    (issued,) = [i for i in api.ledger.invoices_of(api.acme.account_id) if i.id not in before]
    assert str(issued.total.amount) == expected["total"]["amount"]


def test_a_confirmation_after_the_contract_changed_is_refused_and_shows_the_new_invoice(
    api: Api,
) -> None:
    visitor = sign_in(api)
    visitor.get(f"{_contract(api)}/licenses")
    visitor.submit("/licenses", product_code="sales-cloud", quantity="3")
    confirm = visitor.form("/licenses")
    added = api.post(
        f"/v1/subscriptions/{api.acme.subscription_id}/licenses",
        "admin",
        json={"product_code": "sales-cloud", "quantity": 1},
    )
    assert added.status_code in (200, 201), added.text
    head = api.head
    refused = api.client.post(confirm.action or visitor.url, data=confirm.fields)
    assert refused.status_code == 412 and 'role="alert"' in refused.text
    assert api.head == head, "a refused confirmation wrote"
    assert api.ledger.subscription(api.acme.subscription_id).lines["sales-cloud"].quantity == 6
    # the review as it now stands, ready to confirm again
    visitor.page = refused
    again = visitor.submit("/licenses")
    assert "Licenses added" in again.text
    assert api.ledger.subscription(api.acme.subscription_id).lines["sales-cloud"].quantity == 9


def test_a_confirmation_whose_invoice_differs_from_its_review_writes_nothing(api: Api) -> None:
    visitor = sign_in(api)
    visitor.get(f"{_contract(api)}/licenses")
    visitor.submit("/licenses", product_code="sales-cloud", quantity="3")
    head = api.head
    refused = visitor.submit("/licenses", quote="0" * 32)  # not what the review showed
    assert refused.status_code == 412
    assert "The invoice changed since you reviewed it" in refused.text
    assert api.head == head


def test_the_live_preview_is_a_fragment_of_the_same_invoice(api: Api) -> None:
    expected = _api_preview(api, 4)["invoices"][0]
    visitor = sign_in(api)
    visitor.get(f"{_contract(api)}/licenses")
    form = visitor.form("/licenses")
    head = api.head
    live = api.client.post(
        f"{_contract(api)}/licenses/preview",
        data={**form.fields, "product_code": "sales-cloud", "quantity": "4"},
    )
    assert live.status_code == 200 and "<html" not in live.text
    assert _shown(expected["total"]) in live.text
    refused = api.client.post(
        f"{_contract(api)}/licenses/preview", data={**form.fields, "quantity": "0"}
    )
    assert 'role="alert"' in refused.text
    forged = api.client.post(f"{_contract(api)}/licenses/preview", data={"quantity": "4"})
    assert forged.status_code == 403  # no CSRF token
    assert api.head == head, "a preview wrote"


def test_the_renewal_shows_the_invoice_the_next_term_starts_with(api: Api) -> None:
    expected = api.post(
        f"/v1/subscriptions/{api.acme.subscription_id}/renewal/preview",
        "admin",
        json={"term_months": 12, "quantities": {"sales-cloud": 7}},
    ).json()["at_renewal"]
    visitor = sign_in(api)
    visitor.get(f"{_contract(api)}/renewal")
    head = api.head
    shown = visitor.submit("/renewal", action="preview", **{"quantity-sales-cloud": "7"})
    assert shown.status_code == 200 and _shown(expected["total"]) in shown.text
    assert api.head == head
    saved = visitor.submit("/renewal", **{"quantity-sales-cloud": "7"})
    assert "Your renewal is scheduled" in saved.text
    renewal = api.ledger.subscription(api.acme.subscription_id).renewal
    assert renewal is not None and [line.quantity for line in renewal.lines] == [7]


def test_a_renewal_saved_from_a_stale_page_is_refused(api: Api) -> None:
    visitor = sign_in(api)
    visitor.get(f"{_contract(api)}/renewal")
    stale = visitor.form("/renewal")
    api.post(
        f"/v1/subscriptions/{api.acme.subscription_id}/licenses",
        "admin",
        json={"product_code": "sales-cloud", "quantity": 1},
    )
    head = api.head
    refused = api.client.post(
        stale.action or visitor.url, data={**stale.fields, "quantity-sales-cloud": "9"}
    )
    assert refused.status_code == 412 and api.head == head


def test_an_administrator_removes_a_user_and_a_billing_user_may_not(api: Api) -> None:
    users = f"/app/accounts/{api.acme.account_id}/users"
    cara = sign_in(api, "cara")  # Manage Billing, not an administrator
    assert "/users/ben/remove" not in cara.get(users).text
    assert cara.get(f"{users}/ben/remove").status_code == 403
    visitor = sign_in(api)
    page = visitor.get(users)
    assert "/users/ben/remove" in page.text and "/users/ada/remove" not in page.text
    visitor.get(f"{users}/ben/remove")
    done = visitor.submit("/remove")
    assert "User removed" in done.text
    assert "ben" not in api.ledger.account(api.acme.account_id).users
    head = api.head
    again = api.client.get(f"{users}/ben/remove")
    assert again.status_code == 404 and api.head == head


def test_buying_products_reviews_the_first_invoice_then_buys_it_once(api: Api) -> None:
    expected = api.post(
        f"/v1/accounts/{api.acme.account_id}/subscriptions/preview",
        "admin",
        json={
            "lines": [{"product_code": "sales-cloud", "quantity": 2}],
            "billing_period": "monthly",
        },
    ).json()["invoices"][0]
    visitor = sign_in(api)
    buy = f"/app/accounts/{api.acme.account_id}/buy"
    visitor.get(buy)
    order = {"quantity-sales-cloud": "2", "billing_period": "monthly", "term_months": "12"}
    live = api.client.post(f"{buy}/preview", data={**visitor.form("/buy").fields, **order})
    assert _shown(expected["total"]) in live.text
    review = visitor.submit("/buy", **order)
    assert review.status_code == 200 and _shown(expected["total"]) in review.text
    contracts = len(api.ledger.subscriptions_of(api.acme.account_id))
    confirm = visitor.form("/buy")
    head = api.head
    forged = api.client.post(confirm.action or visitor.url, data={**confirm.fields, "quote": "0"})
    assert forged.status_code == 412 and api.head == head
    first = api.client.post(confirm.action or visitor.url, data=confirm.fields)
    again = api.client.post(confirm.action or visitor.url, data=confirm.fields)  # double click
    assert "your new contract has started" in first.text
    assert again.status_code == 200
    assert len(api.ledger.subscriptions_of(api.acme.account_id)) == contracts + 1
    refused = visitor.submit("/buy", **{"quantity-sales-cloud": "0"})  # nothing chosen
    assert refused.status_code == 422 and 'role="alert"' in refused.text
