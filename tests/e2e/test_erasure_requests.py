"""``POST /v1/accounts/{id}/erasure-requests`` (ADR 0023), on both stores: a customer
administrator erases a contact of its account; afterwards the contact's name and e-mail
are in no answer (the account, its history, the event feed, the account as it was known
before the erasure) and in no byte of the stores; customers erase nothing else."""

from __future__ import annotations

from datetime import timedelta

from adapters.clock import ControllableClock
from adapters.store import StoreSettings
from domain.personal_data import ERASED
from service.privacy.retention import RetentionRun
from tests.e2e.conftest import Api
from tests.integration.test_erasure import raw_store, read_models

NAME, EMAIL = "Grace Hopper", "grace@navy.example"


def _feed(api: Api, account_id: str) -> tuple[str, list[dict]]:
    """Every page of the account's events: the raw text served, and the events."""
    pages, events, after = [], [], 0
    while True:
        page = api.get("/v1/events", "integration", params={"account": account_id, "after": after})
        assert page.status_code == 200, page.text
        pages.append(page.text)
        batch = page.json()["events"]
        if not batch:
            return "".join(pages), events
        events += batch
        after = int(batch[-1]["sequence"])


def test_an_administrator_erases_a_contact_everywhere(
    api: Api, store: StoreSettings, clock: ControllableClock
):
    account = str(api.acme.account_id)
    added = api.post(
        f"/v1/accounts/{account}/contacts",
        "admin",
        json={"role": "technical", "name": NAME, "email": EMAIL},
    )
    assert added.status_code == 201, added.text
    contact_id = added.json()["id"]
    before = clock.now()
    clock.advance(timedelta(minutes=1))
    assert NAME in api.get(f"/v1/accounts/{account}", "admin").text

    erased = api.post(
        f"/v1/accounts/{account}/erasure-requests",
        "admin",
        json={"kind": "contact", "subject_id": contact_id, "reason": "Grace asked us to"},
    )

    body = api.wrote(erased, 201)
    assert body == {
        "subject": f"contact:{account}:{contact_id}",
        "position": api.head,
        "keys_destroyed": 1,
        "not_erasable": [],
        "erased": [f"contact:{account}:{contact_id}"],
        "held": [],
    }
    now = api.get(f"/v1/accounts/{account}", "admin").json()
    (contact,) = [c for c in now["contacts"] if c["id"] == contact_id]
    assert (contact["name"], contact["email"]) == (ERASED, ERASED)
    as_of = before.isoformat().replace("+00:00", "Z")
    then = api.get(f"/v1/accounts/{account}", "admin", params={"as_of": as_of})
    assert then.status_code == 200, then.text
    (contact,) = [c for c in then.json()["contacts"] if c["id"] == contact_id]
    assert (contact["name"], contact["email"]) == (ERASED, ERASED)

    feed_text, feed = _feed(api, account)
    answers = [
        api.get(f"/v1/accounts/{account}", "admin").text,
        api.get(f"/v1/accounts/{account}/overview", "admin").text,
        api.get(f"/v1/accounts/{account}/history", "auditor").text,
        api.get("/v1/audit/events", "auditor", params={"account": account}).text,
        feed_text,
    ]
    for answer in answers:
        assert NAME not in answer and EMAIL not in answer
    erasure_event = next(e for e in feed if e["type"] == "subledger.account.PersonalDataErased.v1")
    assert erasure_event["data"] == {"kind": "contact", "subject_id": contact_id}
    assert erasure_event["reason"] == "Grace asked us to"

    held = raw_store(store) + read_models(store)
    assert NAME.encode() not in held and EMAIL.encode() not in held


def test_customers_erase_only_their_contacts_and_users(api: Api):
    account = f"/v1/accounts/{api.acme.account_id}/erasure-requests"
    case = api.post(
        f"/v1/accounts/{api.acme.account_id}/support-cases",
        "admin",
        json={"subject": "Hi", "description": "Help"},
    ).json()["id"]
    request = {"kind": "support-case", "subject_id": case, "reason": "asked"}
    problem = api.refused(403, "POST", account, "admin", json=request)
    assert "only staff" in problem["detail"]
    api.refused(403, "POST", account, "user", json={**request, "kind": "user"})
    api.refused(404, "POST", account, "admin", json={**request, "kind": "contact"})
    api.refused(404, "POST", account, "admin", json={**request, "kind": "buyer"})  # by its id
    other = {"kind": "contact", "subject_id": api.other.contact_id, "reason": "asked"}
    api.refused(
        404, "POST", f"/v1/accounts/{api.other.account_id}/erasure-requests", "admin", json=other
    )
    staff = api.post(account, "billing_staff", json=request)
    assert staff.status_code == 201, staff.text
    assert (
        api.get(f"/v1/accounts/{api.acme.account_id}/support-cases/{case}", "admin").json()[
            "description"
        ]
        == ERASED
    )


def test_a_buyer_is_erased_as_far_as_retention_allows_and_the_rest_on_its_day(
    api: Api, store: StoreSettings, clock: ControllableClock
):
    account = str(api.acme.account_id)
    invoice = f"/v1/invoices/{api.acme.invoice_id}"
    number = api.ledger.invoice(api.acme.invoice_id).number
    request = {"kind": "buyer", "subject_id": account, "reason": "we are leaving, erase us"}
    refused = api.refused(
        409, "POST", f"/v1/accounts/{account}/erasure-requests", "admin", json=request
    )
    assert refused["type"] == "/problems/buyer-still-invoiced"
    ended = api.post(
        f"/v1/subscriptions/{api.acme.subscription_id}/cancellation",
        "billing_staff",
        json={"reason": "the customer left"},
    )
    assert ended.status_code == 200, ended.text

    answer = api.wrote(
        api.post(f"/v1/accounts/{account}/erasure-requests", "admin", json=request), 201
    )

    assert answer["erased"] == [f"buyer:{account}"] and answer["keys_destroyed"] == 1
    assert answer["held"] == [
        {"subject": f"buyer:{account}:2026", "until": "2037-01-01", "invoices": [number]}
    ]
    billing = api.get(f"/v1/accounts/{account}", "admin").json()["billing_details"]
    assert (billing["legal_name"], billing["country"]) == (ERASED, "US")
    xml = api.get(f"{invoice}/xml", "admin")
    assert xml.status_code == 200 and "Acme Inc" in xml.text  # under retention: in full
    legal = api.get(invoice, "admin").json()["legal"]
    assert (legal["buyer"]["legal_name"], legal["buyer"]["address"]["line1"]) == (
        "Acme Inc",
        "1 Main St",
    )

    clock.set(clock.now().replace(year=2037, month=1, day=1))
    destroyed = RetentionRun(api.ledger).run().destroyed
    # Every account's 2026 invoices are past their retention, asked or not.
    assert {d.subject for d in destroyed} == {
        f"buyer:{tenant.account_id}:2026" for tenant in (api.acme, api.other)
    }

    xml = api.get(f"{invoice}/xml", "admin")
    assert xml.status_code == 200 and ERASED in xml.text and "Acme Inc" not in xml.text
    pdf = api.get(f"{invoice}/pdf", "admin")
    assert pdf.status_code == 200 and pdf.headers["content-type"] == "application/pdf"
    as_json = api.get(invoice, "admin")
    assert as_json.status_code == 200 and "Acme Inc" not in as_json.text
    assert as_json.json()["legal"]["buyer"]["legal_name"] == ERASED
    link = api.wrote(api.post(f"{invoice}/share-links", "admin", json={}), 201)
    page = api.client.get(link["url"])
    assert page.status_code == 200 and ERASED in page.text and "Acme Inc" not in page.text
    history = api.get(f"/v1/accounts/{account}/history", "auditor").text
    assert "Acme Inc" not in history and "retention ended" in history
    held = raw_store(store) + read_models(store)
    assert b"Acme Inc" not in held and b"ap@acme.example" not in held
