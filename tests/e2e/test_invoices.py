"""Invoices over HTTP: view, pay; staff void and credit notes, each with a reason."""

from __future__ import annotations

from uuid import uuid4

from tests.e2e.conftest import Api, record_payment_methods


def test_an_account_lists_its_invoices_and_each_carries_its_etag(api: Api) -> None:
    (listed,) = api.get(f"/v1/accounts/{api.acme.account_id}/invoices", "admin").json()
    one = api.get(f"/v1/invoices/{api.acme.invoice_id}", "admin")
    # the list leaves out what the invoice alone adds: its legal mentions
    assert {**one.json(), "legal": None} == listed
    assert one.json()["legal"]["number"] == listed["number"]
    assert one.headers["ETag"] == f'"{listed["version"]}"'
    assert (listed["status"], listed["due_on"]) == ("open", "2026-02-04")
    assert listed["total"] == listed["balance"] == {"amount": "1500.00", "currency": "USD"}
    (line,) = listed["lines"]
    assert (line["product_code"], line["quantity"]) == ("sales-cloud", 5)


def test_a_customer_pays_part_and_then_the_rest(api: Api) -> None:
    path = f"/v1/invoices/{api.acme.invoice_id}/payments"
    part = api.wrote(api.post(path, "admin", json={"amount": "500.00"}), 201)
    assert (part["status"], part["balance"]["amount"]) == ("open", "1000.00")

    record_payment_methods(api, api.acme.account_id, "pm_card_amex")
    rest = api.wrote(api.post(path, "identity", json={"payment_method": "pm_card_amex"}), 201)
    assert (rest["status"], rest["balance"]["amount"], rest["paid_on"]) == (
        "paid",
        "0.00",
        "2026-01-05",
    )
    problem = api.refused(409, "POST", path, "admin", json={})
    assert problem["type"] == "/problems/invoice-not-open"


def test_a_payment_beyond_the_balance_or_malformed_is_refused(api: Api) -> None:
    path = f"/v1/invoices/{api.acme.invoice_id}/payments"
    problem = api.refused(409, "POST", path, "admin", json={"amount": "1500.01"})
    assert problem["type"] == "/problems/payment-exceeds-balance"
    for amount in ("-1", "1e3", "12.345678", "ten"):
        api.refused(422, "POST", path, "admin", json={"amount": amount})
    api.refused(422, "POST", path, "admin", json={"amount": 10})  # money is a string
    api.refused(422, "POST", path, "admin", json={"amount": "0"})


def test_an_account_without_a_payment_method_must_record_one(api: Api) -> None:
    path = f"/v1/invoices/{api.other.invoice_id}/payments"
    problem = api.refused(422, "POST", path, "other_admin", json={"amount": "10.00"})
    assert "payment method" in problem["detail"]
    body = {"amount": "10.00", "payment_method": "pm_x"}
    problem = api.refused(422, "POST", path, "other_admin", json=body)
    assert problem["type"] == "/problems/payment-method-not-on-account"
    record_payment_methods(api, api.other.account_id, "pm_x")
    api.wrote(
        api.post(path, "other_admin", json={"amount": "10.00", "payment_method": "pm_x"}), 201
    )


def test_staff_void_an_invoice_only_with_a_reason(api: Api) -> None:
    path = f"/v1/invoices/{api.acme.invoice_id}/void"
    problem = api.refused(422, "POST", path, "billing_staff", json={})
    assert [e["field"] for e in problem["errors"]] == ["body.reason"]
    api.refused(422, "POST", path, "billing_staff", json={"reason": "  "})
    api.refused(403, "POST", path, "admin", json={"reason": "please"})
    api.refused(403, "POST", path, "account_manager", json={"reason": "please"})

    before = api.head
    voided = api.wrote(api.post(path, "billing_staff", json={"reason": "duplicate invoice"}))
    assert voided["status"] == "void"
    (event,) = [
        api.ledger.mapper.to_domain_event(n)
        for n in api.ledger.recorder.select_notifications(before + 1, 10)
    ]
    assert (type(event).__name__, event.meta.reason) == ("InvoiceVoided", "duplicate invoice")
    assert event.meta.actor_role == "billing_staff"
    api.refused(409, "POST", path, "billing_staff", json={"reason": "again"})


def test_staff_issue_credit_notes_only_with_a_reason_and_refund_beyond_the_balance(
    api: Api,
) -> None:
    path = f"/v1/invoices/{api.acme.invoice_id}/credit-notes"
    problem = api.refused(422, "POST", path, "billing_staff", json={"amount": "100.00"})
    assert [e["field"] for e in problem["errors"]] == ["body.reason"]
    api.refused(403, "POST", path, "admin", json={"amount": "100.00", "reason": "goodwill"})

    credited = api.wrote(
        api.post(path, "billing_staff", json={"amount": "100.00", "reason": "goodwill"}), 201
    )
    assert credited["invoice"]["balance"]["amount"] == "1400.00"
    assert credited["refund"] == {"amount": "0.00", "currency": "USD"}

    api.post(f"/v1/invoices/{api.acme.invoice_id}/payments", "admin", json={}).raise_for_status()
    refunded = api.wrote(
        api.post(path, "billing_staff", json={"amount": "200.00", "reason": "price error"}), 201
    )
    assert refunded["refund"] == {"amount": "200.00", "currency": "USD"}
    too_much = api.refused(
        409, "POST", path, "billing_staff", json={"amount": "1300.00", "reason": "x" * 3}
    )
    assert too_much["type"] == "/problems/credit-exceeds-invoice"


def test_a_missing_invoice_is_404(api: Api) -> None:
    api.refused(404, "GET", f"/v1/invoices/{uuid4()}", "auditor")
    api.refused(404, "POST", f"/v1/invoices/{uuid4()}/payments", "billing_staff", json={})
