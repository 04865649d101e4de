"""A contract command's route checks its caller, runs the command and renders its answer in
one hand-off to a worker thread (ADR 0005), and still refuses in the order it did when the
token was checked by a dependency of its own: 401, 403, 412, then FastAPI's 422."""

from __future__ import annotations

from collections.abc import Iterator
from itertools import combinations
from typing import Any

import anyio.to_thread
import pytest
from eventsourcing.persistence import OperationalError
from fastapi.routing import APIRoute

from service.access.tokens import Tokens
from service.http.app import DOCUMENTED, MATCHED
from tests.e2e.conftest import Api, assert_problem

LICENSES = {"product_code": "sales-cloud", "quantity": 1}
INVALID = {"product_code": "sales-cloud", "quantity": "many"}


@pytest.fixture
def hand_offs(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[object]]:
    """Every call to anyio's thread pool (Starlette's and FastAPI's go through it)."""
    calls: list[object] = []
    run_sync = anyio.to_thread.run_sync

    async def counted(function: Any, *args: Any, **kwargs: Any) -> Any:
        calls.append(function)
        return await run_sync(function, *args, **kwargs)

    monkeypatch.setattr(anyio.to_thread, "run_sync", counted)
    yield calls


def licenses_of(api: Api) -> str:
    return f"/v1/subscriptions/{api.acme.subscription_id}/licenses"


def test_adding_licenses_is_one_hand_off_to_a_worker_thread(
    api: Api, hand_offs: list[object]
) -> None:
    response = api.post(licenses_of(api), "billing_staff", json=LICENSES)

    body = api.wrote(response)
    assert body["invoice_id"] and body["subscription"]["id"] == str(api.acme.subscription_id)
    assert len(hand_offs) == 1
    # A sync route with the token's own dependency, for comparison: three.
    hand_offs.clear()
    api.get(f"/v1/accounts/{api.acme.account_id}", "billing_staff").raise_for_status()
    assert len(hand_offs) >= 2


def test_the_answer_is_the_response_model_s_json_with_the_command_s_headers(api: Api) -> None:
    headers = {"Idempotency-Key": "hand-offs-1"}
    first = api.post(licenses_of(api), "admin", json=LICENSES, headers=headers)
    body = api.wrote(first)
    assert first.headers["content-type"] == "application/json"
    assert int(first.headers["content-length"]) == len(first.content)
    assert first.headers["ETag"] == f'"{body["subscription"]["version"]}"'
    assert "Idempotent-Replayed" not in first.headers
    assert "x-request-id" in first.headers

    again = api.post(licenses_of(api), "admin", json=LICENSES, headers=headers)
    assert again.status_code == 200
    assert again.content == first.content
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.headers["ETag"] == first.headers["ETag"]


def test_buying_answers_201_with_its_location(api: Api) -> None:
    response = api.post(
        f"/v1/accounts/{api.acme.account_id}/subscriptions",
        "admin",
        json={"lines": [{"product_code": "sales-cloud", "quantity": 2}]},
    )
    body = api.wrote(response, 201)
    assert response.headers["Location"] == f"/v1/subscriptions/{body['subscription']['id']}"


@pytest.mark.parametrize(
    ("who", "headers", "body", "status"),
    [
        ("sl_not-a-real-token", {}, INVALID, 401),  # the token, before the body
        ("sl_not-a-real-token", {"Idempotency-Key": "k" * 300}, LICENSES, 401),  # a header
        ("auditor", {}, INVALID, 403),  # the role, before the body
        ("auditor", {"Idempotency-Key": "k" * 300}, LICENSES, 403),  # ... before a header
        ("billing_staff", {"Idempotency-Key": "k" * 300}, LICENSES, 422),
        ("billing_staff", {"If-Match": "nonsense"}, INVALID, 412),  # If-Match, before the body
        ("billing_staff", {}, INVALID, 422),
        ("other_admin", {}, INVALID, 422),  # another account's contract: the body first
        ("other_admin", {}, LICENSES, 404),
        ("user", {}, LICENSES, 403),  # no Manage Billing
    ],
)
def test_refusals_come_in_the_order_they_did(
    api: Api, who: str, headers: dict[str, str], body: dict[str, Any], status: int
) -> None:
    api.refused(status, "POST", licenses_of(api), who, json=body, headers=headers)


def test_a_path_that_is_no_id_is_refused_after_the_token(api: Api) -> None:
    api.refused(401, "POST", "/v1/subscriptions/nope/licenses", "sl_nope", json=LICENSES)
    api.refused(422, "POST", "/v1/subscriptions/nope/licenses", "billing_staff", json=LICENSES)


def test_a_body_that_is_not_json_is_422_before_the_token_as_it_was(api: Api) -> None:
    problem = api.refused(
        422,
        "POST",
        licenses_of(api),
        content=b"{",
        headers={"Content-Type": "application/json"},
    )
    assert problem["type"] == "/problems/validation-error"


def test_a_revoked_token_is_refused_at_once_by_a_command(api: Api) -> None:
    spare = api.seed.tokens["spare"]
    api.delete(f"/v1/tokens/{api.seed.token_ids['spare']}", "operator").raise_for_status()
    problem = api.refused(401, "POST", licenses_of(api), spare, json=INVALID)
    assert "revoked" in problem["detail"]


def test_the_store_failing_while_the_caller_is_checked_is_503(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    def unreachable(self: Tokens, presented: str) -> None:
        raise OperationalError("the store is down")

    monkeypatch.setattr(Tokens, "verify", unreachable)
    for body in (LICENSES, INVALID):  # in the route's thread, and before FastAPI's 422
        response = api.post(licenses_of(api), "billing_staff", json=body)
        assert_problem(response, 503)
        assert response.json()["type"] == "/problems/store-unavailable"


def _one_path_may_match_both(a: str, b: str) -> bool:
    """Whether some path matches both templates (a ``{parameter}`` is one segment)."""
    ours, theirs = a.strip("/").split("/"), b.strip("/").split("/")
    return len(ours) == len(theirs) and all(
        x == y or x.startswith("{") or y.startswith("{") for x, y in zip(ours, theirs, strict=True)
    )


def test_the_routers_order_decides_no_match() -> None:
    """The app tries the contracts' router second (``MATCHED``) and documents it sixth:
    that is safe while no request matches routes of two routers with one method."""
    assert sorted(map(id, MATCHED)) == sorted(map(id, DOCUMENTED))
    routes = [
        (n, route)
        for n, router in enumerate(DOCUMENTED)
        for route in router.routes
        if isinstance(route, APIRoute)
    ]
    assert len(routes) > 50
    for (n, a), (m, b) in combinations(routes, 2):
        if n != m and a.methods & b.methods:
            assert not _one_path_may_match_both(a.path, b.path), (a.path, b.path)
