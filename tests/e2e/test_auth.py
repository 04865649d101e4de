"""Who may do what: bearer tokens, Manage Billing, auditors, operators and revocation."""

from __future__ import annotations

import pytest

from tests.e2e.conftest import Api


def test_a_request_without_a_token_is_401(api: Api) -> None:
    problem = api.refused(401, "GET", f"/v1/accounts/{api.acme.account_id}")
    assert problem["type"] == "/problems/unauthorized"


@pytest.mark.parametrize(
    "authorization",
    ["Bearer sl_not-a-real-token", "Bearer nonsense", "Bearer ", "Basic YWRhOnNlY3JldA=="],
)
def test_an_unknown_or_malformed_token_is_401(api: Api, authorization: str) -> None:
    api.refused(
        401,
        "PUT",
        f"/v1/accounts/{api.acme.account_id}/payment-method",
        json={"reference": "pm_x"},
        headers={"Authorization": authorization},
    )
    response = api.get(
        f"/v1/accounts/{api.acme.account_id}", headers={"Authorization": authorization}
    )
    assert response.status_code == 401, response.text
    assert response.headers["WWW-Authenticate"].startswith("Bearer")


def test_a_write_without_a_token_is_401_and_writes_nothing(api: Api) -> None:
    api.refused(
        401,
        "POST",
        f"/v1/accounts/{api.acme.account_id}/support-cases",
        json={"subject": "Hi", "description": "there"},
    )


def test_a_user_without_manage_billing_is_403_naming_the_permission(api: Api) -> None:
    account = f"/v1/accounts/{api.acme.account_id}"
    for method, path, body in [
        ("GET", account, None),
        ("GET", f"{account}/invoices", None),
        ("GET", f"/v1/invoices/{api.acme.invoice_id}", None),
        ("PATCH", f"{account}/billing-details", {"city": "Shelbyville"}),
        ("POST", f"/v1/invoices/{api.acme.invoice_id}/payments", {}),
    ]:
        problem = api.refused(403, method, path, "user", json=body)
        assert problem["permission"] == "manage_billing"
        assert "Manage Billing" in problem["detail"]


def test_an_identity_license_user_granted_manage_billing_may_self_serve(api: Api) -> None:
    account = api.get(f"/v1/accounts/{api.acme.account_id}", "identity").json()
    (cara,) = [u for u in account["users"] if u["user_id"] == "cara"]
    assert cara["identity_license"] and cara["manage_billing"]
    api.wrote(
        api.post(
            f"/v1/accounts/{api.acme.account_id}/support-cases",
            "identity",
            json={"subject": "Invoice question", "description": "Why 12 months?"},
        ),
        201,
    )


def test_revoking_manage_billing_takes_effect_at_once(api: Api) -> None:
    account = f"/v1/accounts/{api.acme.account_id}"
    assert api.get(account, "identity").status_code == 200

    api.wrote(api.delete(f"{account}/users/cara/permissions/manage_billing", "admin"))

    problem = api.refused(403, "GET", account, "identity")
    assert problem["permission"] == "manage_billing"
    # and granting it back restores access at once
    api.wrote(api.put(f"{account}/users/cara/permissions/manage_billing", "admin"))
    assert api.get(account, "identity").status_code == 200


def test_granting_manage_billing_lets_a_user_in_at_once(api: Api) -> None:
    account = f"/v1/accounts/{api.acme.account_id}"
    api.refused(403, "GET", account, "user")
    api.wrote(api.put(f"{account}/users/ben/permissions/manage_billing", "admin"))
    assert api.get(account, "user").status_code == 200


def test_an_administrator_keeps_manage_billing(api: Api) -> None:
    problem = api.refused(
        409,
        "DELETE",
        f"/v1/accounts/{api.acme.account_id}/users/ada/permissions/manage_billing",
        "admin",
    )
    assert problem["type"] == "/problems/permission-rule"


def test_auditors_read_everything_and_write_nothing(api: Api) -> None:
    account = f"/v1/accounts/{api.acme.account_id}"
    for path in [
        account,
        f"{account}/subscriptions",
        f"{account}/invoices",
        f"{account}/licenses",
        f"/v1/subscriptions/{api.other.subscription_id}",
        f"/v1/invoices/{api.other.invoice_id}",
    ]:
        assert api.get(path, "auditor").status_code == 200, path
    for method, path, body in [
        ("PUT", f"{account}/payment-method", {"reference": "pm_audit"}),
        ("POST", f"{account}/support-cases", {"subject": "s", "description": "d"}),
        ("POST", f"/v1/invoices/{api.acme.invoice_id}/void", {"reason": "audit says so"}),
        ("DELETE", f"/v1/subscriptions/{api.acme.subscription_id}/renewal", None),
        ("POST", "/v1/tokens", {"role": "auditor"}),
    ]:
        problem = api.refused(403, method, path, "auditor", json=body)
        assert problem["type"] == "/problems/forbidden"
        assert "permission" not in problem


def test_an_operator_creates_lists_and_revokes_tokens(api: Api) -> None:
    created = api.post("/v1/tokens", "operator", json={"role": "auditor", "label": "q3 audit"})
    assert created.status_code == 201, created.text
    issued = created.json()
    assert issued["token"].startswith("sl_") and not issued["revoked"]
    assert int(created.headers["Ledger-Position"]) == api.head

    listed = api.get("/v1/tokens", "operator").json()
    assert issued["id"] in {t["id"] for t in listed}
    assert all("token" not in t for t in listed)  # secrets are never shown again
    assert api.get(f"/v1/accounts/{api.acme.account_id}", issued["token"]).status_code == 200

    revoked = api.delete(f"/v1/tokens/{issued['id']}", "operator")
    assert revoked.status_code == 200, revoked.text
    assert revoked.json()["revoked"] is True
    assert int(revoked.headers["Ledger-Position"]) == api.head


def test_a_revoked_token_is_401_at_once(api: Api) -> None:
    account = f"/v1/accounts/{api.acme.account_id}"
    assert api.get(account, "spare").status_code == 200

    api.delete(f"/v1/tokens/{api.seed.token_ids['spare']}", "operator").raise_for_status()

    problem = api.refused(401, "GET", account, "spare")
    assert "revoked" in problem["detail"]


def test_a_customer_token_needs_an_account_and_a_user_of_it(api: Api) -> None:
    api.refused(422, "POST", "/v1/tokens", "operator", json={"role": "admin"})
    api.refused(
        404,
        "POST",
        "/v1/tokens",
        "operator",
        json={"role": "admin", "account_id": str(api.acme.account_id), "user_id": "nobody"},
    )
    api.refused(
        422,
        "POST",
        "/v1/tokens",
        "operator",
        json={"role": "auditor", "account_id": str(api.acme.account_id)},
    )


def test_revoking_a_token_twice_or_an_unknown_one_is_refused(api: Api) -> None:
    token_id = api.seed.token_ids["spare"]
    api.delete(f"/v1/tokens/{token_id}", "operator").raise_for_status()
    api.refused(404, "DELETE", f"/v1/tokens/{token_id}", "operator")
    api.refused(404, "DELETE", f"/v1/tokens/{api.acme.account_id}", "operator")


def test_only_operators_manage_tokens(api: Api) -> None:
    for who in ["admin", "billing_staff", "account_manager", "auditor"]:
        api.refused(403, "GET", "/v1/tokens", who)
        api.refused(403, "DELETE", f"/v1/tokens/{api.seed.token_ids['spare']}", who)


def test_issuing_and_revoking_tokens_is_audited(api: Api) -> None:
    before = api.head
    api.post(
        "/v1/tokens", "operator", json={"role": "auditor"}, headers={"X-Request-ID": "tok-1"}
    ).raise_for_status()
    (event,) = [
        api.ledger.mapper.to_domain_event(n)
        for n in api.ledger.recorder.select_notifications(before + 1, 10)
    ]
    assert type(event).__name__ == "TokenIssued"
    assert event.meta.request_id == "tok-1"
    assert event.meta.actor_role == "operator"
