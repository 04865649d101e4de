"""Tenant isolation: a customer token sees only its own account; another account's
resources answer exactly as missing ones do."""

from __future__ import annotations

from uuid import UUID, uuid4

import httpx
import pytest

from tests.e2e.conftest import Api, Tenant


def _routes(tenant: Tenant) -> list[tuple[str, str, dict | None]]:
    """A request on each kind of account-scoped resource, aimed at ``tenant``."""
    account = f"/v1/accounts/{tenant.account_id}"
    sub = f"/v1/subscriptions/{tenant.subscription_id}"
    invoice = f"/v1/invoices/{tenant.invoice_id}"
    return [
        ("GET", account, None),
        ("GET", f"{account}/subscriptions", None),
        ("GET", f"{account}/invoices", None),
        ("GET", f"{account}/licenses", None),
        ("PATCH", f"{account}/billing-details", {"city": "Elsewhere"}),
        ("PUT", f"{account}/payment-method", {"reference": "pm_stolen"}),
        ("DELETE", f"{account}/contacts/{tenant.contact_id}", None),
        ("POST", f"{account}/support-cases", {"subject": "s", "description": "d"}),
        # (granting Manage Billing is the admin role's alone: the matrix walk covers it)
        ("POST", f"{account}/users", {"user_id": "eve", "name": "Eve", "email": "e@x.example"}),
        ("GET", sub, None),
        ("POST", f"{sub}/licenses", {"product_code": "sales-cloud", "quantity": 1}),
        ("DELETE", f"{sub}/renewal", None),
        ("GET", invoice, None),
        ("POST", f"{invoice}/payments", {"amount": "1.00", "payment_method": "pm_x"}),
    ]


def _missing(tenant: Tenant) -> Tenant:
    return Tenant(uuid4(), uuid4(), uuid4(), tenant.contact_id)


def _shape(response: httpx.Response, ids: list[UUID]) -> tuple:
    """What a caller can observe of an answer, with the ids it named blanked out."""
    problem = response.json()
    detail = problem["detail"]
    for some_id in ids:
        detail = detail.replace(str(some_id), "<id>")
    headers = {k for k in response.headers if k not in {"x-request-id", "content-length"}}
    return (
        response.status_code,
        response.headers["content-type"],
        sorted(problem),
        problem["type"],
        problem["title"],
        detail,
        headers,
    )


@pytest.mark.parametrize("who", ["admin", "user", "identity"])
def test_another_accounts_resources_answer_404_like_missing_ones(api: Api, who: str) -> None:
    missing = _missing(api.other)
    for (method, foreign_path, body), (_, missing_path, _) in zip(
        _routes(api.other), _routes(missing), strict=True
    ):
        foreign = api.refused(404, method, foreign_path, who, json=body)
        assert foreign["type"] == "/problems/not-found"
        before = api.head
        absent = api.request(method, missing_path, who, json=body)
        assert api.head == before
        ids = [api.other.account_id, api.other.subscription_id, api.other.invoice_id]
        ids += [missing.account_id, missing.subscription_id, missing.invoice_id]
        assert _shape(absent, ids) == _shape(
            api.request(method, foreign_path, who, json=body), ids
        ), (method, foreign_path)


def test_the_other_tenant_sees_only_its_own_account_too(api: Api) -> None:
    assert api.get(f"/v1/accounts/{api.other.account_id}", "other_admin").status_code == 200
    for method, path, body in _routes(api.acme):
        api.refused(404, method, path, "other_admin", json=body)


def test_a_staff_only_route_does_not_reveal_whether_another_accounts_invoice_exists(
    api: Api,
) -> None:
    """A customer calling a staff route is refused for its role before anything is looked up,
    so the answer is the same for a foreign invoice and for a missing one."""
    for invoice_id in (api.other.invoice_id, uuid4()):
        api.refused(403, "POST", f"/v1/invoices/{invoice_id}/void", "admin", json={"reason": "xyz"})
    for sub_id in (api.other.subscription_id, uuid4()):
        api.refused(
            403, "POST", f"/v1/subscriptions/{sub_id}/cancellation", "admin", json={"reason": "xyz"}
        )


def test_staff_reach_every_account(api: Api) -> None:
    for tenant in (api.acme, api.other):
        for who in ("billing_staff", "account_manager", "auditor"):
            assert api.get(f"/v1/accounts/{tenant.account_id}", who).status_code == 200
            assert api.get(f"/v1/invoices/{tenant.invoice_id}", who).status_code == 200


def test_lists_show_only_the_accounts_own_contracts_and_invoices(api: Api) -> None:
    account = f"/v1/accounts/{api.acme.account_id}"
    subs = api.get(f"{account}/subscriptions", "admin").json()
    invoices = api.get(f"{account}/invoices", "admin").json()
    assert [s["id"] for s in subs] == [str(api.acme.subscription_id)]
    assert [i["id"] for i in invoices] == [str(api.acme.invoice_id)]
    assert {i["account_id"] for i in invoices} == {str(api.acme.account_id)}
