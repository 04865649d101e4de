"""Webhook endpoints over HTTP: operators only, the secret shown once, every change an event;
and the delivery worker running inside the app."""

from __future__ import annotations

import json
import time
from typing import Any

from fastapi.testclient import TestClient

from adapters.store import StoreSettings
from service.http.app import create_app
from service.ledger.application import Ledger
from service.reads.read_side import ReadSide
from service.webhooks.policy import DeliveryPolicy
from service.webhooks.worker import WebhookWorker
from tests.destinations import LOOPBACK
from tests.e2e.conftest import PRINCIPALS, Api, seed_ledger
from tests.integration.webhook_receiver import Receiver, signed_by

BASE = "/v1/webhook-endpoints"
URL = "https://crm.example.com/hooks/subledger"


def create(api: Api, **body: Any) -> dict[str, Any]:
    response = api.post(BASE, "operator", json={"url": URL, **body})
    return api.wrote(response, 201)


def test_an_operator_registers_an_endpoint_and_sees_its_secret_once(api: Api) -> None:
    created = create(api, event_types=["subledger.invoice"], description="CRM")
    secret = created["secret"]
    assert secret.startswith("whsec_")
    assert created["url"] == URL and created["event_types"] == ["subledger.invoice"]
    assert created["enabled"] and created["delivery"]["position"] == api.head - 1
    endpoint_id = created["id"]

    shown = api.get(f"{BASE}/{endpoint_id}", "operator")
    listed = api.get(BASE, "operator")
    assert shown.status_code == listed.status_code == 200
    assert shown.json() == {k: v for k, v in created.items() if k != "secret"}
    assert [e["id"] for e in listed.json()] == [endpoint_id]
    audit = api.get("/v1/audit/events", "auditor", params={"aggregate": endpoint_id})
    assert audit.status_code == 200 and audit.json()["events"]
    for response in (shown, listed, audit):
        assert secret not in response.text and "whsec_" not in response.text


def test_a_retried_registration_creates_nothing_and_does_not_repeat_the_secret(api: Api) -> None:
    headers = {"Idempotency-Key": "register-crm"}
    first = api.post(BASE, "operator", json={"url": URL}, headers=headers)
    assert first.status_code == 201
    problem = api.refused(409, "POST", BASE, "operator", json={"url": URL}, headers=headers)
    assert problem["type"] == "/problems/webhook-endpoint-already-registered"
    assert first.json()["id"] in problem["detail"] and "whsec_" not in str(problem)
    assert len(api.get(BASE, "operator").json()) == 1


def test_only_operators_manage_endpoints(api: Api) -> None:
    endpoint_id = create(api)["id"]
    requests = [
        ("POST", BASE, {"url": URL}),
        ("GET", BASE, None),
        ("GET", f"{BASE}/{endpoint_id}", None),
        ("PATCH", f"{BASE}/{endpoint_id}", {"description": "x"}),
        ("DELETE", f"{BASE}/{endpoint_id}", None),
        ("POST", f"{BASE}/{endpoint_id}/disable", {"reason": "maintenance"}),
        ("POST", f"{BASE}/{endpoint_id}/enable", None),
        ("POST", f"{BASE}/{endpoint_id}/replay", {"from_position": 1}),
        ("GET", f"{BASE}/{endpoint_id}/deliveries", None),
    ]
    others = [name for name, (role, _, _) in PRINCIPALS.items() if role.value != "operator"]
    for method, path, body in requests:
        for who in others:
            api.refused(403, method, path, who, json=body)
        api.refused(401, method, path, None, json=body)


def test_change_disable_enable_replay_and_delete_are_recorded(api: Api) -> None:
    endpoint_id = create(api)["id"]
    path = f"{BASE}/{endpoint_id}"
    changed = api.wrote(
        api.patch(path, "operator", json={"url": URL + "/v2", "event_types": []}), 200
    )
    assert changed["url"] == URL + "/v2" and changed["version"] == 2

    disabled = api.wrote(
        api.post(f"{path}/disable", "operator", json={"reason": "receiver maintenance"})
    )
    assert not disabled["enabled"] and disabled["disabled_reason"] == "receiver maintenance"
    again = api.post(f"{path}/disable", "operator", json={"reason": "still down"})
    assert again.status_code == 200 and again.json()["version"] == disabled["version"]

    enabled = api.wrote(api.post(f"{path}/enable", "operator"))
    assert enabled["enabled"] and enabled["disabled_reason"] is None

    replayed = api.wrote(api.post(f"{path}/replay", "operator", json={"from_position": 1}))
    assert replayed["version"] == enabled["version"] + 1
    too_far = {"from_position": api.head + 2}
    api.refused(422, "POST", f"{path}/replay", "operator", json=too_far)

    page = api.get(f"{path}/deliveries", "operator")
    assert page.status_code == 200 and page.json() == {"deliveries": [], "next_before": None}

    audit = api.get("/v1/audit/events", "auditor", params={"aggregate": endpoint_id})
    kinds = [e["event_type"] for e in audit.json()["events"]]
    assert kinds == [
        "WebhookEndpoint.Registered",
        "WebhookEndpoint.Changed",
        "WebhookEndpoint.Disabled",
        "WebhookEndpoint.Enabled",
        "WebhookEndpoint.ReplayRequested",
    ]

    deleted = api.wrote(api.delete(path, "operator"))
    assert deleted["deleted"] and not deleted["enabled"]
    api.refused(404, "GET", path, "operator")
    api.refused(404, "GET", f"{path}/deliveries", "operator")
    assert api.get(BASE, "operator").json() == []


def test_bad_urls_and_unknown_event_types_are_refused(api: Api) -> None:
    for body in (
        {"url": "ftp://crm.example.com/hooks"},
        {"url": "not a url"},
        {"url": "https://user:pass@crm.example.com/hooks"},
        {"url": URL, "event_types": ["subledger.invoice.NoSuchEvent.v1"]},
        {"url": URL, "event_types": ["subledger.inv"]},
        {"url": URL, "secret": "mine"},
    ):
        api.refused(422, "POST", BASE, "operator", json=body)


def test_the_app_runs_the_delivery_worker_when_given_one(
    store: StoreSettings, ledger: Ledger
) -> None:
    seed = seed_ledger(ledger)
    policy = DeliveryPolicy(timeout=1, backoff_base=0.01, backoff_cap=0.05, poll=0.05)
    with Receiver() as receiver:
        worker = WebhookWorker(ledger, store, policy, destinations=LOOPBACK)
        app = create_app(ReadSide(store, ledger), webhooks=worker, webhook_destinations=LOOPBACK)
        with TestClient(app) as client:
            api = Api(client, ledger, seed)
            created = create(api, url=receiver.url, event_types=["subledger.account"])
            path = f"/v1/accounts/{seed.acme.account_id}/payment-method"
            api.wrote(api.put(path, "billing_staff", json={"reference": "pm_new"}))
            deadline = time.monotonic() + 10
            while not receiver.acknowledged() and time.monotonic() < deadline:
                time.sleep(0.05)
            deliveries = api.get(f"{BASE}/{created['id']}/deliveries", "operator").json()
    (received,) = receiver.acknowledged()
    assert json.loads(received.body)["type"] == "subledger.account.PaymentMethodSet.v1"
    assert signed_by(created["secret"], received)
    (attempt,) = deliveries["deliveries"]
    assert attempt["status_code"] == 200 and attempt["acknowledged"]
    assert attempt["event_id"] == received.event_id
