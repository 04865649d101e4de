"""Correctness at the edge: problem+json, body limits, If-Match, Idempotency-Key,
Ledger-Position, request ids, health."""

from __future__ import annotations

import json
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from domain.account import User
from service.access.tokens import Role, Tokens
from tests.e2e.conftest import OPERATOR, PROBLEM_JSON, STAFF, Api
from tests.metrics import metric


def _events_since(api: Api, position: int) -> list:
    notifications = api.ledger.recorder.select_notifications(position + 1, 1000)
    return [api.ledger.mapper.to_domain_event(n) for n in notifications]


def test_validation_errors_are_problems_naming_each_field(api: Api) -> None:
    problem = api.refused(
        422,
        "POST",
        f"/v1/accounts/{api.acme.account_id}/contacts",
        "admin",
        json={"role": "cook", "name": "", "email": "not-an-email", "extra": 1},
    )

    assert problem["type"] == "/problems/validation-error"
    fields = {e["field"] for e in problem["errors"]}
    assert {"body.role", "body.name", "body.email", "body.extra"} <= fields
    assert all(e["message"] for e in problem["errors"])


def test_a_malformed_path_parameter_is_a_validation_error(api: Api) -> None:
    problem = api.refused(422, "GET", "/v1/accounts/not-a-uuid", "admin")
    assert [e["field"] for e in problem["errors"]] == ["path.account_id"]


def test_a_domain_refusal_of_a_value_is_a_422_problem(api: Api) -> None:
    # shaped like a card number: the ledger refuses to store a PAN (the schema applies the
    # domain's rule, so it names the field)
    problem = api.refused(
        422,
        "PUT",
        f"/v1/accounts/{api.acme.account_id}/payment-method",
        "admin",
        json={"reference": "4242 4242 4242 4242"},
    )
    (error,) = problem["errors"]
    assert error["field"] == "body.reference"
    assert "card number" in error["message"]


def test_a_body_over_64_kib_is_refused_with_413(api: Api) -> None:
    big = {"subject": "too long", "description": "x" * (64 * 1024)}
    problem = api.refused(
        413, "POST", f"/v1/accounts/{api.acme.account_id}/support-cases", "admin", json=big
    )
    assert problem["type"] == "/problems/body-too-large"


def test_a_streamed_body_over_64_kib_without_a_length_is_refused_with_413(api: Api) -> None:
    def chunks():
        yield b'{"subject": "s", "description": "'
        for _ in range(70):
            yield b"x" * 1024
        yield b'"}'

    api.refused(
        413,
        "POST",
        f"/v1/accounts/{api.acme.account_id}/support-cases",
        "admin",
        content=chunks(),
        headers={"Content-Type": "application/json"},
    )


def test_a_body_that_is_not_json_is_refused_with_415(api: Api) -> None:
    problem = api.refused(
        415,
        "POST",
        f"/v1/accounts/{api.acme.account_id}/support-cases",
        "admin",
        content=b"subject=hello&description=world",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert problem["type"] == "/problems/unsupported-media-type"


def test_malformed_json_is_a_422_problem(api: Api) -> None:
    api.refused(
        422,
        "POST",
        f"/v1/accounts/{api.acme.account_id}/support-cases",
        "admin",
        content=b'{"subject": ',
        headers={"Content-Type": "application/json"},
    )


def test_a_body_that_cannot_be_decoded_is_a_400_problem(api: Api) -> None:
    problem = api.refused(
        400,
        "POST",
        f"/v1/accounts/{api.acme.account_id}/support-cases",
        "admin",
        content=b'{"subject": "\xff\xfe"}',
        headers={"Content-Type": "application/json"},
    )
    assert (problem["type"], problem["title"]) == ("/problems/bad-request", "Bad Request")


def test_a_stale_if_match_is_refused_with_412_and_the_current_etag_succeeds(api: Api) -> None:
    path = f"/v1/accounts/{api.acme.account_id}"
    etag = api.get(path, "admin").headers["ETag"]
    api.wrote(api.put(f"{path}/payment-method", "admin", json={"reference": "pm_first"}))

    problem = api.refused(
        412,
        "PUT",
        f"{path}/payment-method",
        "admin",
        json={"reference": "pm_second"},
        headers={"If-Match": etag},
    )
    assert problem["type"] == "/problems/precondition-failed"

    current = api.get(path, "admin").headers["ETag"]
    assert current != etag
    changed = api.wrote(
        api.put(
            f"{path}/payment-method",
            "admin",
            json={"reference": "pm_second"},
            headers={"If-Match": current},
        )
    )
    assert changed["payment_method"] == "pm_second"
    assert api.get(path, "admin").headers["ETag"] == f'"{changed["version"]}"'


def test_a_malformed_if_match_is_refused(api: Api) -> None:
    api.refused(
        412,
        "PUT",
        f"/v1/accounts/{api.acme.account_id}/payment-method",
        "admin",
        json={"reference": "pm_x"},
        headers={"If-Match": "yesterday"},
    )


def test_etags_on_subscriptions_and_invoices_guard_their_changes(api: Api) -> None:
    sub_path = f"/v1/subscriptions/{api.acme.subscription_id}"
    stale = api.get(sub_path, "admin").headers["ETag"]
    api.wrote(api.put(f"{sub_path}/renewal", "admin", json={"term_months": 24}))
    api.refused(412, "DELETE", f"{sub_path}/renewal", "admin", headers={"If-Match": stale})

    invoice_path = f"/v1/invoices/{api.acme.invoice_id}"
    etag = api.get(invoice_path, "admin").headers["ETag"]
    api.refused(
        412,
        "POST",
        f"{invoice_path}/payments",
        "admin",
        json={"amount": "1.00"},
        headers={"If-Match": f'"{int(etag.strip(chr(34))) + 1}"'},
    )
    api.wrote(
        api.post(
            f"{invoice_path}/payments", "admin", json={"amount": "1.00"}, headers={"If-Match": etag}
        ),
        201,
    )


def test_a_retry_with_the_same_idempotency_key_returns_the_first_answer(api: Api) -> None:
    path = f"/v1/accounts/{api.acme.account_id}/contacts"
    body = {"role": "technical", "name": "Tess Tech", "email": "tess@acme.example"}
    key = {"Idempotency-Key": "add-tess-1"}
    first = api.post(path, "admin", json=body, headers=key)
    api.wrote(first, 201)
    head = api.head

    again = api.post(path, "admin", json=body, headers=key)

    assert again.status_code == first.status_code == 201
    assert again.json() == first.json()
    assert again.headers["Ledger-Position"] == first.headers["Ledger-Position"]
    assert again.headers["ETag"] == first.headers["ETag"]
    assert again.headers["Idempotent-Replayed"] == "true"
    assert "Idempotent-Replayed" not in first.headers
    assert api.head == head
    contacts = api.get(f"/v1/accounts/{api.acme.account_id}", "admin").json()["contacts"]
    assert [c["name"] for c in contacts].count("Tess Tech") == 1


def test_the_same_key_with_a_different_body_is_refused_with_422(api: Api) -> None:
    path = f"/v1/accounts/{api.acme.account_id}/support-cases"
    key = {"Idempotency-Key": "case-1"}
    api.wrote(
        api.post(path, "admin", json={"subject": "Hi", "description": "one"}, headers=key), 201
    )

    problem = api.refused(
        422, "POST", path, "admin", json={"subject": "Hi", "description": "two"}, headers=key
    )
    assert problem["type"] == "/problems/idempotency-key-reused"


def test_keys_are_per_caller_and_insensitive_to_json_formatting(api: Api) -> None:
    path = f"/v1/accounts/{api.acme.account_id}/support-cases"
    key = {"Idempotency-Key": "shared-key"}
    first = api.post(path, "admin", json={"subject": "A", "description": "b"}, headers=key)
    api.wrote(first, 201)
    # the same JSON, spelled differently: still the same request
    again = api.post(
        path,
        "admin",
        content=b'{ "description" : "b", "subject" : "A" }',
        headers={**key, "Content-Type": "application/json"},
    )
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.json() == first.json()
    # another caller's identical key is its own
    other = api.post(path, "identity", json={"subject": "A", "description": "b"}, headers=key)
    api.wrote(other, 201)
    assert other.json()["id"] != first.json()["id"]


def test_a_key_belongs_to_a_user_in_its_account_or_to_a_token(api: Api) -> None:
    """User ids are unique only within an account, and staff labels not at all: one
    tenant's key must neither block another's request nor reveal that it was used."""
    other = api.other.account_id
    api.ledger.add_user(STAFF, other, User("ada", "Ada Elsewhere", "ada@other.example"))
    api.ledger.grant_manage_billing(STAFF, other, "ada")
    tokens = Tokens(api.ledger)
    other_ada = tokens.issue(OPERATOR, Role.USER, other, "ada").token
    key = {"Idempotency-Key": "monthly-case"}

    mine = api.post(
        f"/v1/accounts/{api.acme.account_id}/support-cases",
        "admin",
        json={"subject": "A", "description": "acme's"},
        headers=key,
    )
    api.wrote(mine, 201)
    theirs = api.post(
        f"/v1/accounts/{other}/support-cases",
        other_ada,
        json={"subject": "A", "description": "other's"},
        headers=key,
    )
    api.wrote(theirs, 201)
    assert "Idempotent-Replayed" not in theirs.headers

    # the same user through another of its tokens: the same key, the first answer
    second_token = tokens.issue(OPERATOR, Role.ADMIN, api.acme.account_id, "ada").token
    again = api.post(
        f"/v1/accounts/{api.acme.account_id}/support-cases",
        second_token,
        json={"subject": "A", "description": "acme's"},
        headers=key,
    )
    assert again.headers["Idempotent-Replayed"] == "true" and again.json() == mine.json()

    # two staff tokens with one label are two callers
    one, two = (tokens.issue(OPERATOR, Role.BILLING_STAFF, label="ops").token for _ in "12")
    path = f"/v1/accounts/{other}/contacts"
    for token, name in ((one, "Una"), (two, "Dos")):
        body = {"role": "technical", "name": name, "email": f"{name}@other.example"}
        api.wrote(api.post(path, token, json=body, headers=key), 201)


def test_replaying_a_whole_balance_payment_returns_the_first_answer(api: Api) -> None:
    path = f"/v1/invoices/{api.acme.invoice_id}/payments"
    key = {"Idempotency-Key": "pay-all"}
    first = api.post(path, "admin", json={}, headers=key)
    paid = api.wrote(first, 201)
    assert paid["status"] == "paid"
    head = api.head

    again = api.post(path, "admin", json={}, headers=key)

    assert again.status_code == 201, again.text
    assert again.json() == first.json()
    assert again.headers["Idempotent-Replayed"] == "true"
    assert api.head == head


def test_a_replayed_purchase_names_the_same_contract_and_invoice(api: Api) -> None:
    path = f"/v1/accounts/{api.acme.account_id}/subscriptions"
    body = {"lines": [{"product_code": "service-cloud", "quantity": 2}]}
    key = {"Idempotency-Key": "buy-service-cloud"}
    first = api.post(path, "admin", json=body, headers=key)
    api.wrote(first, 201)
    head = api.head

    again = api.post(path, "admin", json=body, headers=key)

    assert again.status_code == 201
    assert again.json() == first.json()
    assert again.headers["Location"] == first.headers["Location"]
    assert api.head == head
    assert len(api.get(path, "admin").json()) == 2


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("PATCH", "/v1/accounts/{account}/billing-details", {"city": "Ogdenville"}),
        ("PUT", "/v1/subscriptions/{subscription}/renewal", {"term_months": 6}),
        ("DELETE", "/v1/subscriptions/{subscription}/renewal", None),
        ("DELETE", "/v1/accounts/{account}/users/cara/permissions/manage_billing", None),
    ],
)
def test_put_patch_and_delete_honour_the_idempotency_key_too(
    api: Api, method: str, path: str, body: dict | None
) -> None:
    url = path.format(account=api.acme.account_id, subscription=api.acme.subscription_id)
    key = {"Idempotency-Key": f"{method}-{path}"}
    first = api.request(method, url, "admin", json=body, headers=key)
    api.wrote(first)
    head = api.head

    again = api.request(method, url, "admin", json=body, headers=key)

    assert (again.status_code, again.json()) == (first.status_code, first.json())
    assert again.headers["Ledger-Position"] == first.headers["Ledger-Position"]
    assert again.headers["Idempotent-Replayed"] == "true"
    assert api.head == head
    # without the key, the same DELETE is refused: it is already in that state
    if method == "DELETE":
        problem = api.refused(409, method, url, "admin")
        assert problem["type"] == "/problems/already-in-that-state"


def test_concurrent_changes_without_if_match_lose_no_update(api: Api) -> None:
    path = f"/v1/subscriptions/{api.acme.subscription_id}/licenses"

    def add_one(_: int) -> int:
        response = api.post(path, "admin", json={"product_code": "sales-cloud", "quantity": 1})
        return response.status_code

    with ThreadPoolExecutor(max_workers=4) as pool:
        statuses = list(pool.map(add_one, range(8)))

    # a request may be refused after losing twice in a row (409), never silently lost
    assert set(statuses) <= {200, 409}
    (line,) = api.get(f"/v1/subscriptions/{api.acme.subscription_id}", "admin").json()["lines"]
    assert line["quantity"] == 5 + statuses.count(200)
    (licenses,) = api.get(f"/v1/accounts/{api.acme.account_id}/licenses", "admin").json()
    assert licenses["held"] == line["quantity"]


def test_every_state_changing_response_carries_the_log_position_of_its_last_event(
    api: Api,
) -> None:
    before = api.head
    response = api.post(
        f"/v1/subscriptions/{api.acme.subscription_id}/licenses",
        "admin",
        json={"product_code": "sales-cloud", "quantity": 2},
    )
    api.wrote(response)
    position = int(response.headers["Ledger-Position"])
    # the invoice's number, contract, seats and invoice: one transaction, several events,
    # the position is the last
    assert position - before >= 4
    events = _events_since(api, before)
    assert events[-1].originator_version == 1 and position == api.head
    assert {type(e).__name__ for e in events} == {
        "NumberAssigned",
        "LineQuantityIncreased",
        "LicenseAdded",
        "InvoiceIssued",
    }


def test_a_request_id_is_echoed_and_recorded_on_every_event_it_caused(api: Api) -> None:
    before = api.head
    response = api.post(
        f"/v1/subscriptions/{api.acme.subscription_id}/licenses",
        "admin",
        json={"product_code": "sales-cloud", "quantity": 1},
        headers={"X-Request-ID": "req-e2e-42", "X-Correlation-ID": "corr-7"},
    )
    api.wrote(response)
    assert response.headers["X-Request-ID"] == "req-e2e-42"

    events = _events_since(api, before)
    assert events
    for event in events:
        assert event.meta.request_id == "req-e2e-42"
        assert event.meta.correlation_id == "corr-7"
        assert (event.meta.actor_id, event.meta.actor_role) == ("ada", "admin")


def test_without_a_request_id_one_is_generated_echoed_and_recorded(api: Api) -> None:
    before = api.head
    response = api.put(
        f"/v1/accounts/{api.acme.account_id}/payment-method",
        "admin",
        json={"reference": "pm_new"},
        headers={"X-Request-ID": "bad id with spaces"},
    )
    api.wrote(response)
    generated = response.headers["X-Request-ID"]
    assert generated != "bad id with spaces" and len(generated) >= 16
    (event,) = _events_since(api, before)
    assert event.meta.request_id == generated
    assert event.meta.correlation_id == generated


def test_refusals_carry_the_request_id_too(api: Api) -> None:
    before = api.head
    response = api.get("/v1/accounts/nope", headers={"X-Request-ID": "r-1"})
    assert response.status_code == 401
    assert response.headers["X-Request-ID"] == "r-1"
    too_big = api.post(
        f"/v1/accounts/{api.acme.account_id}/support-cases",
        "admin",
        content=b"{" + b" " * 70_000 + b"}",
        headers={"X-Request-ID": "r-2", "Content-Type": "application/json"},
    )
    assert too_big.status_code == 413
    assert too_big.headers["X-Request-ID"] == "r-2"
    assert api.head == before


def test_the_request_log_is_one_json_line_per_request(api: Api, capsys) -> None:
    capsys.readouterr()
    api.get(f"/v1/accounts/{api.acme.account_id}", "admin", headers={"X-Request-ID": "log-1"})
    lines = [json.loads(line) for line in capsys.readouterr().err.splitlines() if line]
    (entry,) = [line for line in lines if line.get("request_id") == "log-1"]
    assert entry["route"] == "/v1/accounts/{account_id}"
    assert (entry["status"], entry["actor"], entry["role"]) == (200, "ada", "admin")
    assert entry["method"] == "GET" and entry["duration_ms"] >= 0


def test_an_unknown_route_and_a_wrong_method_are_problems(api: Api) -> None:
    api.refused(404, "GET", "/v1/nothing-here", "admin")
    api.refused(405, "DELETE", f"/v1/accounts/{api.acme.account_id}", "admin")


def test_health_and_readiness_need_no_token(api: Api) -> None:
    assert api.get("/healthz").json() == {"status": "ok"}
    ready = api.get("/readyz")
    assert ready.status_code == 200
    body = ready.json()
    assert (body["status"], body["position"]) == ("ready", api.head)
    assert set(body["lag"]) == {
        *("audit_trail", "account_overview", "book", "hash_chain", "billing_agenda", "lookups"),
        "retention",
    }
    deadline = time.monotonic() + 10
    while any(body["lag"].values()) and time.monotonic() < deadline:
        time.sleep(0.05)  # the runner thread is catching up with the seed
        body = api.get("/readyz").json()
    assert body["lag"] == dict.fromkeys(body["lag"], 0)
    metrics = api.get("/metrics")
    assert metrics.headers["content-type"].startswith("text/plain")
    assert metric(metrics.text, "subledger_log_head_position") == api.head
    assert metric(metrics.text, "subledger_projection_lag", projection="audit_trail") == 0


def test_problems_use_the_problem_media_type(api: Api) -> None:
    response = api.get(f"/v1/accounts/{api.acme.account_id}")
    assert response.headers["content-type"] == PROBLEM_JSON
