"""Paying through the payment provider over HTTP: success, decline (402, recorded), outage
(503, nothing recorded), one charge per Idempotency-Key however the request is retried,
and staff refunds paid back through the provider."""

from __future__ import annotations

from typing import Any

import pytest
from eventsourcing.persistence import OperationalError

from adapters.payments import FakePaymentProvider
from domain.invoice import Invoice
from domain.money import Money
from tests.e2e.conftest import Api, assert_problem, record_payment_methods


def provider(api: Api) -> FakePaymentProvider:
    fake = api.ledger.payment_provider
    assert isinstance(fake, FakePaymentProvider)
    return fake


def events_since(api: Api, position: int) -> list[Any]:
    return [
        api.ledger.mapper.to_domain_event(n)
        for n in api.ledger.recorder.select_notifications(position + 1, 100)
    ]


def pay_path(api: Api) -> str:
    return f"/v1/invoices/{api.acme.invoice_id}/payments"


def test_a_payment_charges_the_accounts_method_and_records_the_charge(api: Api) -> None:
    paid = api.wrote(api.post(pay_path(api), "admin", json={"amount": "500.00"}), 201)
    assert (paid["status"], paid["balance"]["amount"]) == ("open", "1000.00")
    (charge,) = provider(api).charges.values()
    assert (charge.method_reference, charge.amount) == ("pm_card_visa", Money.of("500", "USD"))
    invoice = api.ledger.invoice(api.acme.invoice_id)
    assert invoice.payments == {charge.charge_id: Money.of("500.00", "USD")}


def test_paying_the_rest_with_a_named_card_records_invoice_paid(api: Api) -> None:
    api.wrote(api.post(pay_path(api), "admin", json={"amount": "500.00"}), 201)
    record_payment_methods(api, api.acme.account_id, "pm_card_mastercard")
    before = api.head
    rest = api.post(pay_path(api), "identity", json={"payment_method": "pm_card_mastercard"})
    assert api.wrote(rest, 201)["status"] == "paid"
    assert [type(e).__name__ for e in events_since(api, before)] == [
        "PaymentRecorded",
        "InvoicePaid",
    ]
    assert [c.method_reference for c in provider(api).charges.values()] == [
        "pm_card_visa",
        "pm_card_mastercard",
    ]


@pytest.mark.parametrize(
    ("card", "code", "reason"),
    [
        ("pm_card_declined", "card_declined", "Your card was declined."),
        ("pm_card_insufficient_funds", "insufficient_funds", "Your card has insufficient funds."),
    ],
)
def test_a_decline_answers_402_with_the_providers_reason_and_records_payment_failed(
    api: Api, card: str, code: str, reason: str
) -> None:
    record_payment_methods(api, api.acme.account_id, card)
    before = api.head
    response = api.post(pay_path(api), "admin", json={"payment_method": card})
    assert response.status_code == 402, response.text
    problem = assert_problem(response, 402)
    assert (problem["type"], problem["decline_code"]) == ("/problems/payment-declined", code)
    assert reason in problem["detail"]
    assert int(response.headers["Ledger-Position"]) == api.head
    (event,) = events_since(api, before)
    assert isinstance(event, Invoice.PaymentFailed)
    assert (event.amount, event.method_reference, event.decline_code, event.reason) == (
        Money.of("1500.00", "USD"),
        card,
        code,
        reason,
    )
    assert event.meta.actor_id == "ada"
    assert api.get(f"/v1/invoices/{api.acme.invoice_id}", "admin").json()["balance"] == {
        "amount": "1500.00",
        "currency": "USD",
    }
    assert provider(api).charges == {}


def test_a_retried_decline_answers_the_same_without_asking_the_provider_again(api: Api) -> None:
    key = {"Idempotency-Key": "pay-declined-1"}
    body = {"payment_method": "pm_card_declined"}
    record_payment_methods(api, api.acme.account_id, "pm_card_declined")
    first = api.post(pay_path(api), "admin", json=body, headers=key)
    assert first.status_code == 402
    head = api.head
    provider(api).down = True  # a call to the provider would now fail
    again = api.post(pay_path(api), "admin", json=body, headers=key)
    assert (again.status_code, again.headers["Idempotent-Replayed"]) == (402, "true")
    assert again.json()["detail"] == first.json()["detail"]
    assert api.head == head


def test_an_outage_answers_503_and_records_nothing(api: Api) -> None:
    record_payment_methods(api, api.acme.account_id, "pm_card_outage")
    problem = api.refused(
        503, "POST", pay_path(api), "admin", json={"payment_method": "pm_card_outage"}
    )
    assert problem["type"] == "/problems/payment-provider-unavailable"
    provider(api).down = True
    api.refused(503, "POST", pay_path(api), "admin", json={}, headers={"Idempotency-Key": "o-1"})
    provider(api).down = False
    # the outage was no answer: the same key now charges
    api.wrote(api.post(pay_path(api), "admin", json={}, headers={"Idempotency-Key": "o-1"}), 201)
    assert len(provider(api).charges) == 1


def test_a_retry_after_a_lost_response_charges_once(api: Api) -> None:
    key = {"Idempotency-Key": "pay-lost-response"}
    first = api.wrote(api.post(pay_path(api), "admin", json={"amount": "100.00"}, headers=key), 201)
    head = api.head
    again = api.post(pay_path(api), "admin", json={"amount": "100.00"}, headers=key)
    assert (again.status_code, again.headers["Idempotent-Replayed"]) == (201, "true")
    assert again.json() == first
    assert api.head == head
    assert len(provider(api).charges) == 1


def test_a_retry_after_the_charge_but_before_the_ledger_write_charges_once(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The provider charged, then the store failed (or the request timed out before the
    write): the retry gets the same charge back from the provider and records it."""
    save = api.ledger.save

    def store_fails_once(*aggregates: Any, **kwargs: Any) -> Any:
        monkeypatch.setattr(api.ledger, "save", save)
        raise OperationalError("the connection to the store was lost")

    monkeypatch.setattr(api.ledger, "save", store_fails_once)
    key = {"Idempotency-Key": "pay-store-failed"}
    api.refused(503, "POST", pay_path(api), "admin", json={}, headers=key)
    (charge,) = provider(api).charges.values()  # the money moved

    paid = api.wrote(api.post(pay_path(api), "admin", json={}, headers=key), 201)
    assert paid["status"] == "paid"
    assert list(provider(api).charges) == [charge.charge_id]  # no second charge
    assert api.ledger.invoice(api.acme.invoice_id).payments == {charge.charge_id: charge.amount}


def test_the_same_key_with_another_amount_is_refused_by_the_provider(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    save = api.ledger.save

    def store_fails_once(*aggregates: Any, **kwargs: Any) -> Any:
        monkeypatch.setattr(api.ledger, "save", save)
        raise OperationalError("the connection to the store was lost")

    monkeypatch.setattr(api.ledger, "save", store_fails_once)
    key = {"Idempotency-Key": "pay-changed"}
    api.refused(503, "POST", pay_path(api), "admin", json={"amount": "10.00"}, headers=key)
    problem = api.refused(
        422, "POST", pay_path(api), "admin", json={"amount": "20.00"}, headers=key
    )
    assert problem["type"] == "/problems/idempotency-key-reused"
    assert len(provider(api).charges) == 1


def test_a_payment_the_ledger_refuses_is_not_charged(api: Api) -> None:
    api.refused(409, "POST", pay_path(api), "admin", json={"amount": "1500.01"})
    api.refused(
        422, "POST", f"/v1/invoices/{api.other.invoice_id}/payments", "other_admin", json={}
    )
    assert provider(api).charges == {}


def test_staff_refund_pays_back_through_the_provider_from_the_newest_payments(api: Api) -> None:
    api.wrote(api.post(pay_path(api), "admin", json={"amount": "500.00"}), 201)
    api.wrote(api.post(pay_path(api), "admin", json={"amount": "1000.00"}), 201)
    first, second = provider(api).charges
    path = f"/v1/invoices/{api.acme.invoice_id}/refunds"
    api.refused(422, "POST", path, "billing_staff", json={"amount": "100.00"})
    api.refused(403, "POST", path, "admin", json={"amount": "100.00", "reason": "please"})

    before = api.head
    body = {"amount": "1200.00", "reason": "seats never used"}
    refunded = api.wrote(api.post(path, "billing_staff", json=body), 201)
    assert refunded["refund"] == {"amount": "1200.00", "currency": "USD"}
    assert refunded["invoice"]["credited"]["amount"] == "1200.00"
    assert refunded["invoice"]["paid"]["amount"] == "300.00"

    fake = provider(api)
    assert [(r.charge_id, r.amount) for r in fake.refunds.values()] == [
        (second, Money.of("1000.00", "USD")),
        (first, Money.of("200.00", "USD")),
    ]
    # The credit note's number first (ADR 0022), then the invoice's events; the seed's
    # credit note opened the year's series.
    series, *events = events_since(api, before)
    assert type(series).__qualname__ == "InvoiceSeries.NumberAssigned"
    assert series.number == events[0].number
    assert [type(e).__name__ for e in events] == [
        "CreditNoteIssued",
        "PaymentRefunded",
        "PaymentRefunded",
    ]
    assert {e.meta.reason for e in events} == {"seats never used"}
    assert [e.refund_id for e in events[1:]] == list(fake.refunds)


def test_a_refund_within_the_balance_is_a_credit_note_and_moves_no_money(api: Api) -> None:
    path = f"/v1/invoices/{api.acme.invoice_id}/refunds"
    body = {"amount": "100.00", "reason": "goodwill"}
    credited = api.wrote(api.post(path, "billing_staff", json=body), 201)
    assert credited["refund"] == {"amount": "0.00", "currency": "USD"}
    assert credited["invoice"]["balance"]["amount"] == "1400.00"
    assert provider(api).refunds == {}


def test_a_refund_in_an_outage_records_nothing_and_its_retry_refunds_once(api: Api) -> None:
    api.wrote(api.post(pay_path(api), "admin", json={}), 201)
    path = f"/v1/invoices/{api.acme.invoice_id}/refunds"
    body = {"amount": "300.00", "reason": "price error"}
    key = {"Idempotency-Key": "refund-1"}
    provider(api).down = True
    api.refused(503, "POST", path, "billing_staff", json=body, headers=key)
    provider(api).down = False
    api.wrote(api.post(path, "billing_staff", json=body, headers=key), 201)
    again = api.post(path, "billing_staff", json=body, headers=key)
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.json()["refund"] == {"amount": "300.00", "currency": "USD"}
    assert len(provider(api).refunds) == 1
