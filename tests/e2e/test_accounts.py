"""Accounts over HTTP: opening, billing details, payment method, contacts, users and
Manage Billing, identity licenses, upgrade requests, edition changes, support cases."""

from __future__ import annotations

from uuid import uuid4

from domain.account import User
from tests.e2e.conftest import STAFF, Api

NEW_ACCOUNT = {
    "name": "Initech",
    "edition": "Professional",
    "currency": "EUR",
    "billing_details": {
        "legal_name": "Initech GmbH",
        "address_line1": "Hauptstr. 1",
        "city": "Berlin",
        "postal_code": "10115",
        "country": "DE",
        "invoice_email": "ap@initech.example",
    },
    "administrator": {"user_id": "bill", "name": "Bill L", "email": "bill@initech.example"},
}


def test_billing_staff_open_an_account_whose_administrator_holds_manage_billing(
    api: Api,
) -> None:
    response = api.post("/v1/accounts", "billing_staff", json=NEW_ACCOUNT)
    account = api.wrote(response, 201)

    assert response.headers["Location"] == f"/v1/accounts/{account['id']}"
    assert (account["edition"], account["currency"], account["version"]) == (
        "Professional",
        "EUR",
        1,
    )
    (bill,) = account["users"]
    assert bill["administrator"] and bill["manage_billing"]
    fetched = api.get(response.headers["Location"], "billing_staff")
    assert fetched.json() == account
    assert fetched.headers["ETag"] == '"1"'


def test_only_billing_staff_open_accounts(api: Api) -> None:
    for who in ("admin", "account_manager", "auditor", "operator"):
        api.refused(403, "POST", "/v1/accounts", who, json=NEW_ACCOUNT)


def test_an_account_in_an_unknown_currency_is_refused(api: Api) -> None:
    problem = api.refused(
        422, "POST", "/v1/accounts", "billing_staff", json={**NEW_ACCOUNT, "currency": "XYZ"}
    )
    assert problem["type"] == "/problems/unknown-currency"


def test_an_account_carries_its_etag(api: Api) -> None:
    response = api.get(f"/v1/accounts/{api.acme.account_id}", "admin")
    assert response.headers["ETag"] == f'"{response.json()["version"]}"'


def test_billing_details_change_only_in_the_fields_given(api: Api) -> None:
    path = f"/v1/accounts/{api.acme.account_id}/billing-details"
    account = api.wrote(api.patch(path, "admin", json={"city": "Shelbyville", "tax_id": "US-1"}))
    details = account["billing_details"]
    assert (details["city"], details["tax_id"], details["legal_name"]) == (
        "Shelbyville",
        "US-1",
        "Acme Inc",
    )
    api.refused(422, "PATCH", path, "admin", json={"country": "usa"})
    # In the EU the tax id is a VAT number in its state's format (ADR 16)
    before = api.head
    german = {"country": "DE", "tax_id": "DE12345"}
    problem = api.refused(422, "PATCH", path, "admin", json=german)
    assert problem["type"] == "/problems/invalid-identifier"
    assert api.head == before
    german["tax_id"] = "DE 136 695 976"
    assert api.wrote(api.patch(path, "admin", json=german))["billing_details"]["country"] == "DE"
    api.refused(422, "PATCH", path, "admin", json={"invoice_email": "nobody"})


def test_an_unchanged_billing_detail_writes_nothing_and_answers_the_head(api: Api) -> None:
    before = api.head
    response = api.patch(
        f"/v1/accounts/{api.acme.account_id}/billing-details", "admin", json={"city": "Springfield"}
    )
    api.wrote(response)
    assert api.head == before


def test_the_payment_method_is_a_provider_reference(api: Api) -> None:
    path = f"/v1/accounts/{api.acme.account_id}/payment-method"
    assert api.wrote(api.put(path, "admin", json={"reference": "pm_card_mastercard"}))[
        "payment_method"
    ] == ("pm_card_mastercard")
    api.refused(422, "PUT", path, "admin", json={"reference": "4111-1111-1111-1111"})
    api.refused(422, "PUT", path, "admin", json={})


def test_contacts_are_added_changed_and_removed(api: Api) -> None:
    contacts = f"/v1/accounts/{api.acme.account_id}/contacts"
    added = api.post(
        contacts, "admin", json={"role": "technical", "name": "Tess", "email": "tess@acme.example"}
    )
    contact = api.wrote(added, 201)
    assert (contact["role"], contact["name"], contact["phone"]) == ("technical", "Tess", "")

    changed = api.wrote(
        api.patch(f"{contacts}/{contact['id']}", "admin", json={"phone": "+1 555 0100"})
    )
    (tess,) = [c for c in changed["contacts"] if c["id"] == contact["id"]]
    assert (tess["name"], tess["phone"]) == ("Tess", "+1 555 0100")

    removed = api.wrote(api.delete(f"{contacts}/{contact['id']}", "admin"))
    assert contact["id"] not in {c["id"] for c in removed["contacts"]}
    api.refused(404, "DELETE", f"{contacts}/{contact['id']}", "admin")
    api.refused(404, "PATCH", f"{contacts}/no-such-contact", "admin", json={"name": "X"})


def test_users_are_added_and_duplicates_refused(api: Api) -> None:
    users = f"/v1/accounts/{api.acme.account_id}/users"
    account = api.wrote(
        api.post(
            users, "admin", json={"user_id": "dan", "name": "Dan", "email": "dan@acme.example"}
        ),
        201,
    )
    (dan,) = [u for u in account["users"] if u["user_id"] == "dan"]
    assert not dan["manage_billing"] and not dan["administrator"]

    problem = api.refused(
        409, "POST", users, "admin", json={"user_id": "dan", "name": "D", "email": "d2@x.example"}
    )
    assert problem["type"] == "/problems/already-exists"
    api.refused(
        422, "POST", users, "admin", json={"user_id": "has space", "name": "D", "email": "d@x.io"}
    )


def test_manage_billing_is_granted_and_revoked_by_the_account(api: Api) -> None:
    base = f"/v1/accounts/{api.acme.account_id}/users"
    granted = api.wrote(api.put(f"{base}/ben/permissions/manage_billing", "admin"))
    assert {u["user_id"] for u in granted["users"] if u["manage_billing"]} == {"ada", "ben", "cara"}
    twice = api.refused(409, "PUT", f"{base}/ben/permissions/manage_billing", "admin")
    api.refused(404, "PUT", f"{base}/nobody/permissions/manage_billing", "admin")

    revoked = api.wrote(api.delete(f"{base}/ben/permissions/manage_billing", "admin"))
    assert {u["user_id"] for u in revoked["users"] if u["manage_billing"]} == {"ada", "cara"}
    # revoking what is not held is refused as granting twice is: already in that state
    lacking = api.refused(409, "DELETE", f"{base}/ben/permissions/manage_billing", "admin")
    assert twice["type"] == lacking["type"] == "/problems/already-in-that-state"
    api.refused(404, "DELETE", f"{base}/nobody/permissions/manage_billing", "admin")


def test_identity_licenses_are_assigned_and_released(api: Api) -> None:
    base = f"/v1/accounts/{api.acme.account_id}/identity-licenses"
    account = api.wrote(api.post(base, "admin", json={"user_id": "ben"}), 201)
    assert account["identity_licenses"] == {"used": 2, "limit": 100}
    api.refused(409, "POST", base, "admin", json={"user_id": "ben"})
    api.refused(404, "POST", base, "admin", json={"user_id": "nobody"})

    released = api.wrote(api.delete(f"{base}/ben", "admin"))
    assert released["identity_licenses"]["used"] == 1
    problem = api.refused(409, "DELETE", f"{base}/ben", "admin")
    assert problem["type"] == "/problems/already-in-that-state"
    api.refused(404, "DELETE", f"{base}/nobody", "admin")


def test_the_101st_identity_license_is_refused_with_409(api: Api) -> None:
    account_id = api.acme.account_id
    # cara holds one already: 99 more fill the free allowance
    for n in range(100):
        api.ledger.add_user(STAFF, account_id, User(f"idu{n}", f"Id {n}", f"idu{n}@acme.example"))
    for n in range(99):
        api.ledger.assign_identity_license(STAFF, account_id, f"idu{n}")
    assert api.get(f"/v1/accounts/{account_id}", "admin").json()["identity_licenses"] == {
        "used": 100,
        "limit": 100,
    }

    problem = api.refused(
        409,
        "POST",
        f"/v1/accounts/{account_id}/identity-licenses",
        "admin",
        json={"user_id": "idu99"},
    )

    assert problem["type"] == "/problems/identity-license-limit-reached"
    assert "100 free identity licenses" in problem["detail"]


def test_an_essentials_account_asks_for_an_upgrade_and_staff_carry_it_out(api: Api) -> None:
    account_path = f"/v1/accounts/{api.acme.account_id}"
    requested = api.wrote(
        api.post(
            f"{account_path}/upgrade-requests",
            "admin",
            json={"edition": "Enterprise", "note": "we are growing"},
        ),
        201,
    )
    assert (requested["edition"], requested["upgrade_requested"]) == ("Essentials", "Enterprise")
    api.refused(
        409, "POST", f"{account_path}/upgrade-requests", "admin", json={"edition": "Essentials"}
    )
    # the upgrade itself is not self-served
    api.refused(403, "PUT", f"{account_path}/edition", "admin", json={"edition": "Enterprise"})
    # staff need a reason
    api.refused(
        422, "PUT", f"{account_path}/edition", "account_manager", json={"edition": "Enterprise"}
    )
    changed = api.wrote(
        api.put(
            f"{account_path}/edition",
            "account_manager",
            json={"edition": "Enterprise", "reason": "signed order 77"},
        )
    )
    assert (changed["edition"], changed["upgrade_requested"]) == ("Enterprise", None)


def test_a_support_case_is_opened_by_the_caller(api: Api) -> None:
    response = api.post(
        f"/v1/accounts/{api.acme.account_id}/support-cases",
        "identity",
        json={"subject": "Need help", "description": "Our invoice looks wrong"},
    )
    case = api.wrote(response, 201)
    assert case["account_id"] == str(api.acme.account_id)
    assert (case["subject"], case["opened_by"]) == ("Need help", "cara")
    api.refused(
        422,
        "POST",
        f"/v1/accounts/{api.acme.account_id}/support-cases",
        "identity",
        json={"subject": "   ", "description": "x"},
    )


def test_a_missing_account_is_404_for_staff(api: Api) -> None:
    api.refused(404, "GET", f"/v1/accounts/{uuid4()}", "billing_staff")
    api.refused(
        404,
        "PUT",
        f"/v1/accounts/{uuid4()}/payment-method",
        "billing_staff",
        json={"reference": "pm_x"},
    )
