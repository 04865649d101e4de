"""Price previews over HTTP (SQLite and PostgreSQL): each command that moves money, asked
at ``<its path>/preview`` with its body, answers what it would issue and writes nothing;
the command then issues exactly that, or refuses exactly as the preview did.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

from fastapi.routing import APIRoute
from hypothesis import event, given, settings
from hypothesis import strategies as st

from domain.invoice import Invoice
from service.billing.run import BillingRun
from service.ledger.application import period_invoice_id
from tests.e2e.conftest import Api
from tests.e2e.test_permission_matrix import ROUTES, level_of

# The commands that move money, by route: each has a preview at <path>/preview.
MONEY = {
    ("POST", "/v1/accounts/{account_id}/subscriptions"),
    ("POST", "/v1/subscriptions/{subscription_id}/licenses"),
    ("POST", "/v1/subscriptions/{subscription_id}/products"),
    ("PUT", "/v1/subscriptions/{subscription_id}/renewal"),
    ("PUT", "/v1/accounts/{account_id}/edition"),
    ("POST", "/v1/invoices/{invoice_id}/payments"),
}


def route(method: str, path: str) -> APIRoute:
    (found,) = [r for m, p, r in ROUTES if (m, p) == (method, path)]
    return found


def test_every_command_that_moves_money_has_a_preview_with_its_rules() -> None:
    previews = {p.removesuffix("/preview") for m, p, _ in ROUTES if p.endswith("/preview")}
    assert previews == {path for _, path in MONEY}
    for method, path in MONEY:
        command, preview = route(method, path), route("POST", f"{path}/preview")
        assert level_of(preview) == level_of(command), path
        assert preview.body_field is not None and command.body_field is not None
        assert preview.body_field.field_info.annotation is command.body_field.field_info.annotation


def issued(invoice: Invoice | dict[str, Any]) -> dict[str, Any]:
    """An invoice's figures, from the ledger or from a preview, for comparing the two."""
    if isinstance(invoice, Invoice):
        return {
            "lines": [
                (
                    line.description,
                    line.product_code,
                    line.quantity,
                    str(line.period_start),
                    str(line.period_end),
                    str(line.amount.rounded().amount),
                    str(line.tax.rounded().amount),
                )
                for line in invoice.lines
            ],
            "totals": tuple(
                str(m.rounded().amount) for m in (invoice.subtotal, invoice.tax, invoice.total)
            ),
            "dates": (str(invoice.issued_on), str(invoice.due_on)),
        }
    return {
        "lines": [
            (
                line["description"],
                line["product_code"],
                line["quantity"],
                line["period_start"],
                line["period_end"],
                line["amount"]["amount"],
                line["tax"]["amount"],
            )
            for line in invoice["lines"]
        ],
        "totals": tuple(invoice[k]["amount"] for k in ("subtotal", "tax", "total")),
        "dates": (invoice["issued_on"], invoice["due_on"]),
    }


def new_invoices(api: Api, before: int) -> list[Invoice]:
    """The invoices issued since log position ``before``, in order."""
    found = []
    for notification in api.ledger.recorder.select_notifications(before + 1, 1000):
        event = api.ledger.mapper.to_domain_event(notification)
        if isinstance(event, Invoice.InvoiceIssued):
            found.append(api.ledger.invoice(event.originator_id))
    return found


# -- preview = command, for random requests -------------------------------------------------

PRODUCTS = ["sales-cloud", "service-cloud", "data-storage", "file-storage", "inbox", "warp-drive"]
# Mostly valid input, some invalid: a quantity of 0, a product the edition does not sell
# or the catalog lacks, a day before today (needs a reason) or after the term.
products = st.sampled_from(["sales-cloud"] * 4 + PRODUCTS)
quantities = st.integers(1, 40) | st.just(0)
days = st.none() | st.integers(0, 364).map(lambda n: str(date(2026, 1, 5) + timedelta(n)))
days = days | st.sampled_from(["2025-12-20", "2027-02-01"])
reasons = st.none() | st.just("agreed with the customer")


@st.composite
def requests(draw: st.DrawFn, api: Api) -> tuple[str, str, str, dict[str, Any]]:
    """(who, method, path, body): one of the commands that move money, with random input
    (valid or not: a preview must refuse what its command refuses)."""
    sub = f"/v1/subscriptions/{api.acme.subscription_id}"
    kind = draw(st.sampled_from(sorted(MONEY)))
    if kind[1].endswith("/subscriptions"):
        lines = draw(
            st.lists(
                st.fixed_dictionaries({"product_code": products, "quantity": quantities}),
                min_size=1,
                max_size=3,
            )
        )
        body = {
            "lines": lines,
            "term_months": draw(st.integers(1, 24)),
            "billing_period": draw(st.sampled_from(["monthly", "annual"])),
            "auto_renew": draw(st.booleans()),
        }
        return "admin", "POST", f"/v1/accounts/{api.acme.account_id}/subscriptions", body
    if kind[1].endswith(("/licenses", "/products")):
        body = {
            "product_code": draw(products),
            "quantity": draw(quantities),
            "effective": draw(days),
            "reason": draw(reasons),
        }
        return "admin", "POST", f"{sub}/{kind[1].rsplit('/', 1)[1]}", body
    if kind[1].endswith("/renewal"):
        body = {
            "term_months": draw(st.integers(1, 36)),
            "quantities": draw(st.none() | st.dictionaries(products, quantities, max_size=3)),
        }
        return "admin", "PUT", f"{sub}/renewal", body
    if kind[1].endswith("/edition"):
        edition = draw(st.sampled_from(["Essentials", "Professional", "Enterprise"]))
        body = {"edition": edition, "reason": "signed order"}
        return "billing_staff", "PUT", f"/v1/accounts/{api.acme.account_id}/edition", body
    # Paying: the whole balance or part of it. (Test cards that decline are left out: the
    # provider's answer is the one thing a preview cannot know.)
    amount = draw(st.none() | st.integers(1, 200_000).map(lambda cents: f"{cents / 100:.2f}"))
    body = {"amount": amount, "payment_method": draw(st.sampled_from([None, "pm_card_amex"]))}
    return "admin", "POST", f"/v1/invoices/{api.acme.invoice_id}/payments", body


@settings(max_examples=60)
@given(data=st.data())
def test_a_preview_is_what_its_command_then_does(api: Api, data: st.DataObject) -> None:
    who, method, path, body = data.draw(requests(api))
    body = {k: v for k, v in body.items() if v is not None}
    before = api.head
    preview = api.post(f"{path}/preview", who, json=body)
    event(f"{path.rsplit('/', 1)[1]}: {preview.status_code}")
    assert api.head == before, "a preview wrote"
    command = api.request(method, path, who, json=body)
    if preview.status_code != 200:
        assert command.status_code == preview.status_code, (preview.text, command.text)
        assert command.json()["type"] == preview.json()["type"]
        assert api.head == before
        return
    assert 200 <= command.status_code < 300, (preview.text, command.text)
    shown = preview.json()
    assert [issued(i) for i in shown["invoices"]] == [issued(i) for i in new_invoices(api, before)]
    if shown["payment"] is not None:
        invoice = api.ledger.invoice(api.acme.invoice_id)
        paid = list(invoice.payments.values())[-1]
        assert shown["payment"]["amount"]["amount"] == str(paid.amount)
        assert shown["payment"]["balance_after"]["amount"] == str(invoice.balance.amount)
    if shown["subscription"] is not None and method == "PUT":
        after = command.json()
        assert shown["subscription"]["renewal"] == after["renewal"]


# -- what a preview does not do -----------------------------------------------------------


def test_a_preview_writes_no_idempotency_record_and_no_event(api: Api) -> None:
    path = f"/v1/subscriptions/{api.acme.subscription_id}/licenses"
    body = {"product_code": "sales-cloud", "quantity": 2}
    key = {"Idempotency-Key": "previewed-first"}
    before = api.head
    shown = api.post(f"{path}/preview", "admin", json=body, headers=key)
    assert shown.status_code == 200 and api.head == before
    assert shown.headers["Ledger-Position"] == str(before)
    # the same key then serves the command itself, the first time
    done = api.post(path, "admin", json=body, headers=key)
    assert "Idempotent-Replayed" not in done.headers
    (invoice,) = new_invoices(api, before)
    assert api.wrote(done)["invoice_id"] == str(invoice.id)
    assert [issued(i) for i in shown.json()["invoices"]] == [issued(invoice)]


def test_the_preview_etag_as_if_match_makes_the_command_do_what_it_showed(api: Api) -> None:
    path = f"/v1/subscriptions/{api.acme.subscription_id}/products"
    body = {"product_code": "data-storage", "quantity": 10}
    shown = api.post(f"{path}/preview", "admin", json=body)
    etag = shown.headers["ETag"]
    # someone else changes the contract in between: the command refuses, as it should
    api.wrote(
        api.post(
            f"/v1/subscriptions/{api.acme.subscription_id}/licenses",
            "admin",
            json={"product_code": "sales-cloud", "quantity": 1},
        )
    )
    api.refused(412, "POST", path, "admin", json=body, headers={"If-Match": etag})
    api.refused(412, "POST", f"{path}/preview", "admin", json=body, headers={"If-Match": etag})
    again = api.post(f"{path}/preview", "admin", json=body)
    before = api.head
    api.wrote(api.post(path, "admin", json=body, headers={"If-Match": again.headers["ETag"]}))
    assert [issued(i) for i in again.json()["invoices"]] == [
        issued(i) for i in new_invoices(api, before)
    ]


def test_a_payment_preview_charges_nothing(api: Api) -> None:
    path = f"/v1/invoices/{api.acme.invoice_id}/payments"
    shown = api.post(f"{path}/preview", "admin", json={"amount": "100.00"}).json()
    assert shown["invoices"] == []
    assert shown["payment"] == {
        "invoice_id": str(api.acme.invoice_id),
        "amount": {"amount": "100.00", "currency": "USD"},
        "payment_method": "pm_card_visa",
        "balance_after": {"amount": "1400.00", "currency": "USD"},
    }
    assert api.ledger.payment_provider._answers == {}  # type: ignore[attr-defined]
    api.refused(409, "POST", f"{path}/preview", "admin", json={"amount": "1500.01"})


def test_an_edition_change_previews_no_invoice(api: Api) -> None:
    """It moves no money: contracts keep the prices they were sold at."""
    path = f"/v1/accounts/{api.acme.account_id}/edition"
    body = {"edition": "Professional", "reason": "signed order"}
    shown = api.post(f"{path}/preview", "account_manager", json=body).json()
    assert shown == {"invoices": [], "payment": None, "at_renewal": None, "subscription": None}
    api.refused(403, "POST", f"{path}/preview", "admin", json=body)  # as the change itself


def test_a_renewal_preview_shows_the_invoice_the_renewal_then_issues(api: Api, clock) -> None:
    sub_id = api.acme.subscription_id
    path = f"/v1/subscriptions/{sub_id}/renewal"
    body = {"term_months": 24, "quantities": {"sales-cloud": 7, "data-storage": 3}}
    shown = api.post(f"{path}/preview", "admin", json=body).json()
    assert shown["invoices"] == []
    api.wrote(api.put(path, "admin", json=body))

    clock.set(datetime(2027, 1, 5, 2, tzinfo=UTC))
    assert not BillingRun(api.ledger, reminder_days=0).run().failures
    renewed = api.ledger.invoice(period_invoice_id(sub_id, date(2027, 1, 5)))
    assert issued(shown["at_renewal"]) == issued(renewed)
    # 7 seats x 300.00 (Essentials, 25 USD a month) + 3 GB x 60.00: 2280.00, no US tax
    assert shown["at_renewal"]["total"] == {"amount": "2280.00", "currency": "USD"}
