"""No poison event, no card number, over HTTP (each test on SQLite and on PostgreSQL).

The review's requests are refused with a problem and write nothing; a poison event that
reaches the log anyway (written straight into the store) stops one read model, while the
others reach the head, the API keeps answering, and readiness, metrics and
``subledger projections status`` name the failure; without a projection runner for more
than a few seconds, readiness says so.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from adapters.runner_lock import RunnerLock
from adapters.store import StoreSettings
from service.cli import main as cli
from service.http.app import create_app
from service.reads.read_side import ReadSide
from tests.e2e.conftest import STAFF, Api, assert_problem
from tests.integration.test_projection_faults import cli_env
from tests.metrics import metric
from tests.poison import FAILS, write_poison

CARDS = ["4242424242424242", "4242.4242.4242.4242", "card 4242424242424242", "pm_4242424242424242"]


def charges(api: Api) -> int:
    return len(api.ledger.payment_provider.charges)  # type: ignore[attr-defined]


@pytest.mark.parametrize("reference", ["pm_\u0000evil", "pm_\u001bevil", *CARDS])
def test_a_payment_method_that_is_not_a_provider_token_is_refused(api: Api, reference):
    path = f"/v1/accounts/{api.acme.account_id}/payment-method"
    problem = api.refused(422, "PUT", path, "admin", json={"reference": reference})
    if any(c.isdigit() for c in reference):
        assert "card number" in problem["errors"][0]["message"]


def test_an_unpaired_surrogate_is_refused_wherever_it_is_sent(api: Api):
    headers = {"Content-Type": "application/json"}
    path = f"/v1/accounts/{api.acme.account_id}/payment-method"
    body = b'{"reference": "pm_\\ud800evil"}'  # valid JSON, not encodable text
    api.refused(422, "PUT", path, "admin", content=body, headers=headers)
    cases = f"/v1/accounts/{api.acme.account_id}/support-cases"
    body = b'{"subject": "Help", "description": "it \\udfff broke"}'
    api.refused(422, "POST", cases, "admin", content=body, headers=headers)


def test_control_characters_are_refused_in_every_kind_of_free_text(api: Api):
    acme = api.acme.account_id
    refusals: list[tuple[str, str, dict[str, Any]]] = [
        (
            "POST",
            f"/v1/subscriptions/{api.acme.subscription_id}/licenses",
            {"product_code": "sales-cloud", "quantity": 1, "reason": "because\u0000nul"},
        ),
        ("PATCH", f"/v1/accounts/{acme}/billing-details", {"legal_name": "Acme\u0000"}),
        ("POST", f"/v1/accounts/{acme}/support-cases", {"subject": "a\nb", "description": "x"}),
        (
            "POST",
            f"/v1/accounts/{acme}/upgrade-requests",
            {"edition": "professional", "note": "\x07"},
        ),
        (
            "POST",
            f"/v1/accounts/{acme}/upgrade-requests",
            {"edition": "professional", "note": CARDS[2]},
        ),
    ]
    for method, path, body in refusals:
        api.refused(422, method, path, "admin", json=body)


@pytest.mark.parametrize("method", CARDS)
def test_a_payment_with_a_card_number_is_refused_before_the_provider_is_called(api: Api, method):
    path = f"/v1/invoices/{api.acme.invoice_id}/payments"
    api.refused(422, "POST", path, "admin", json={"payment_method": method})
    assert charges(api) == 0


def test_a_payment_with_another_accounts_method_is_refused(api: Api):
    api.ledger.set_payment_method(STAFF, api.other.account_id, "pm_card_of_other")
    path = f"/v1/invoices/{api.acme.invoice_id}/payments"
    problem = api.refused(422, "POST", path, "admin", json={"payment_method": "pm_card_of_other"})
    assert problem["type"] == "/problems/payment-method-not-on-account"
    assert charges(api) == 0


# -- a poison event in the log --------------------------------------------------------


def eventually(check: Callable[[], bool], what: str, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


def test_a_poison_event_stops_one_read_model_while_the_rest_and_the_api_go_on(
    api: Api, store: StoreSettings, monkeypatch, capsys
):
    poisoned = write_poison(api.ledger, api.acme.account_id, store)
    after = api.wrote(
        api.put(
            f"/v1/accounts/{api.other.account_id}/payment-method",
            "other_admin",
            json={"reference": "pm_card_visa"},
        )
    )
    assert after["payment_method"] == "pm_card_visa"
    head = api.head
    eventually(lambda: api.get("/readyz").status_code == 503, "readiness to name the failure")

    problem = assert_problem(api.get("/readyz"), 503)
    assert problem["type"] == "/problems/read-model-failing"
    assert problem["failing_projections"] == [FAILS]
    assert f"{FAILS} fails at position {poisoned}" in problem["detail"]

    def caught_up() -> bool:
        text = api.get("/metrics").text
        return all(
            metric(text, "subledger_projection_position", projection=name) == head
            for name in ("audit_trail", "book", "hash_chain")
        )

    eventually(caught_up, "the healthy read models to reach the head")
    text = api.get("/metrics").text
    assert metric(text, "subledger_projection_failing", projection=FAILS) == 1
    assert metric(text, "subledger_projection_failing", projection="book") == 0
    assert metric(text, "subledger_projection_failed_position", projection=FAILS) == poisoned
    assert metric(text, "subledger_projection_position", projection=FAILS) == poisoned - 1

    # The API keeps answering, reads that name the head included (Api.get sends it).
    assert api.get(f"/v1/accounts/{api.other.account_id}/overview", "other_admin").is_success
    assert api.get("/v1/reports/book", "billing_staff").is_success
    events = api.get(f"/v1/audit/events?account={api.other.account_id}", "auditor")
    assert events.is_success
    assert api.get("/v1/audit/verify", "auditor").json()["ok"]

    for key, value in cli_env(store).items():
        if key.startswith("SUBLEDGER_"):
            monkeypatch.setenv(key, value)
    assert cli.main(["projections", "status"]) == 1
    out = capsys.readouterr().out
    assert f"FAILING: {FAILS} fails at position {poisoned}" in out
    assert "runner: a process runs the projections" in out


def test_readiness_fails_when_no_process_has_run_the_projections_for_a_while(
    store: StoreSettings, ledger
):
    side = ReadSide(store, ledger)
    side.runner_grace_seconds = 60.0
    with TestClient(create_app(side, run_projections=False)) as client:

        def ready() -> httpx.Response:
            return client.get("/readyz")

        assert ready().status_code == 200  # just started: a runner may be being elected
        side.runner_grace_seconds = 0.3
        eventually(lambda: ready().status_code == 503, "readiness to miss the runner", 5)
        assert assert_problem(ready(), 503)["type"] == "/problems/no-projection-runner"
        assert metric(client.get("/metrics").text, "subledger_projection_runner_present") == 0

        elsewhere = RunnerLock(store)  # a runner in another process takes the lock
        assert elsewhere.try_acquire()
        try:
            assert ready().status_code == 200
            assert ready().json()["runner"] == "elsewhere"
        finally:
            elsewhere.release()
        eventually(lambda: ready().status_code == 503, "readiness to miss it again", 5)
