"""One rule per kind of refusal (docs/errors.md): the documented problem types are the
code's, and every route of the app, probed with real requests, refuses by those rules.

The walk runs on SQLite only, on fresh copies of one seeded store, as the permission
matrix's does (the statuses do not depend on the store; the refusals themselves are
tested on both stores with the features they belong to). A route added to the app is
walked too: it must say how its path names nothing, and, if it takes a product or a
currency, how it names an unknown one.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, get_args
from uuid import uuid4

import httpx
import pytest
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from pydantic import BaseModel

from domain.errors import DomainError
from domain.invoice import Invoice
from service.access.tokens import Role
from service.http.access import ALLOWED, Access
from service.http.problems import HTTP_ERROR_CODES, status_of
from tests.e2e.conftest import Api, assert_problem
from tests.e2e.test_permission_matrix import (
    ACCOUNT_QUERY,
    BODIES,
    ROUTES,
    TOKEN_OF,
    Template,
    body_for,
    fill,
    has_account_query,
    level_of,
)

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "errors.md"
START, END = "<!-- problem-types:start -->", "<!-- problem-types:end -->"


# -- the documented types are the code's ----------------------------------------------------


def domain_refusals() -> dict[str, set[int]]:
    def walk(kind: type[DomainError]) -> list[type[DomainError]]:
        return [k for sub in kind.__subclasses__() for k in (sub, *walk(sub))]

    found: dict[str, set[int]] = {}
    for kind in walk(DomainError):
        found.setdefault(kind.code, set()).add(status_of(kind)[0])
    return found


# ``ApiError(409, "code", ...)``, ``problem(402, "code", ...)``, ``_refuse(send, 413, "code"``
LITERAL = re.compile(r'(?:ApiError|problem|_refuse)\(\s*(?:send,\s*)?(\d{3}),\s*"([a-z][a-z-]*)"')


def http_refusals() -> dict[str, set[int]]:
    found: dict[str, set[int]] = {}
    for source in sorted((ROOT / "service").rglob("*.py")):
        for status, code in LITERAL.findall(source.read_text()):
            found.setdefault(code, set()).add(int(status))
    for status, code in HTTP_ERROR_CODES.items():
        found.setdefault(code, set()).add(status)
    return found


def documented() -> dict[str, int]:
    text = DOC.read_text()
    table = text[text.index(START) + len(START) : text.index(END)].strip().splitlines()[2:]
    rows = [[c.strip().strip("`") for c in line.strip().strip("|").split("|")] for line in table]
    assert len({row[0] for row in rows}) == len(rows), "a type is listed twice"
    return {row[0]: int(row[1]) for row in rows}


def test_every_problem_type_has_one_status_and_the_document_lists_it() -> None:
    code = domain_refusals()
    for name, statuses in http_refusals().items():
        code.setdefault(name, set()).update(statuses)
    for name, statuses in code.items():
        assert len(statuses) == 1, f"{name} is answered with {sorted(statuses)}"
    assert documented() == {name: statuses.pop() for name, statuses in code.items()}


# -- the walk ----------------------------------------------------------------------------

# How each path parameter names nothing.
UNKNOWN: dict[str, str] = {
    "account_id": str(uuid4()),
    "subscription_id": str(uuid4()),
    "invoice_id": str(uuid4()),
    "contact_id": "no-such-contact",
    "user_id": "nobody",
    "product_code": "no-such-product",
    "token_id": str(uuid4()),
    "link_id": str(uuid4()),
    "token": "sh_" + "A" * 43,
    "event_type": "subledger.nothing.Nothing.v1",
    "endpoint_id": str(uuid4()),
    "case_id": str(uuid4()),
    "credit_note_id": "no-such-credit-note",
}
# Routes that remove a thing: sent again, the thing is gone (404).
REMOVES = {
    ("DELETE", "/v1/accounts/{account_id}/contacts/{contact_id}"),
    ("DELETE", "/v1/webhook-endpoints/{endpoint_id}"),
    ("DELETE", "/v1/accounts/{account_id}/users/{user_id}"),
}
ALREADY = {"/problems/already-in-that-state", "/problems/already-exists"}
# A body naming an unknown product or currency, for every route whose body takes one.
UNKNOWN_CODES: dict[tuple[str, str], tuple[dict[str, Any], str]] = {
    ("POST", "/v1/accounts"): (
        {**BODIES[("POST", "/v1/accounts")], "currency": "XXX"},
        "unknown-currency",
    ),
    ("POST", "/v1/accounts/{account_id}/subscriptions"): (
        {"lines": [{"product_code": "warp-drive", "quantity": 1}]},
        "unknown-product",
    ),
    ("POST", "/v1/subscriptions/{subscription_id}/licenses"): (
        {"product_code": "warp-drive", "quantity": 1},
        "unknown-product",
    ),
    ("POST", "/v1/subscriptions/{subscription_id}/products"): (
        {"product_code": "warp-drive", "quantity": 1},
        "unknown-product",
    ),
    ("PUT", "/v1/subscriptions/{subscription_id}/renewal"): (
        {"quantities": {"warp-drive": 1}},
        "unknown-product",
    ),
}
# A preview takes its command's body, and refuses as its command does.
UNKNOWN_CODES |= {
    ("POST", f"{path}/preview"): probe
    for (_, path), probe in list(UNKNOWN_CODES.items())
    if any(p == f"{path}/preview" for _, p, _ in ROUTES)
}
CODE_FIELDS = {"product_code", "quantities", "lines", "currency"}
# Events that move money: a route that records one has a preview (service/http/routes/previews.py).
MONEY_EVENTS = (Invoice.InvoiceIssued, Invoice.PaymentRecorded)
# Who asks: a role the route allows, staff first (no Manage Billing to hold).
PREFERRED = [
    Role.BILLING_STAFF,
    Role.OPERATOR,
    Role.AUDITOR,
    Role.ACCOUNT_MANAGER,
    Role.INTEGRATION,
    Role.ADMIN,
]


def caller(route: APIRoute) -> str | None:
    level = level_of(route)
    if level is Access.PUBLIC:
        return None
    return TOKEN_OF[next(role for role in PREFERRED if role in ALLOWED[level])]


def params(route: APIRoute, account_id: object) -> dict[str, str] | None:
    return {ACCOUNT_QUERY: str(account_id)} if has_account_query(route) else None


def route_of(method: str, path: str) -> APIRoute:
    (route,) = [r for m, p, r in ROUTES if (m, p) == (method, path)]
    return route


Walk = tuple[Template, TestClient]


@pytest.fixture(scope="module")
def walk(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Walk]:
    """One seeded store, copied afresh for each request (as the permission matrix walks)."""
    template = Template(tmp_path_factory.mktemp("refusals"))
    with TestClient(template.app) as client:
        yield template, client


@contextmanager
def sent(
    walk: Walk, method: str, path: str, **changes: Any
) -> Iterator[tuple[Api, int, list[httpx.Response]]]:
    """The route's request on a fresh copy of the seed (``times`` times), with one path
    parameter changed (``path_value``: (name, value)), or another body or query; yields
    the API, the log head before, and the responses."""
    route = route_of(method, path)
    template, client = walk
    for api in template.api(client):
        name, value = changes.get("path_value", ("", ""))
        url = path_with(method, path, api, template, name, value)
        body = changes.get("body", body_for(method, path, api.acme))
        query = changes.get("query", params(route, api.acme.account_id))
        before = api.head
        responses = [
            api.request(method, url, caller(route), json=body, params=query)
            for _ in range(changes.get("times", 1))
        ]
        yield api, before, responses


def path_with(method: str, path: str, api: Api, template: Template, name: str, value: str) -> str:
    """The route's path on the seed, with the parameter ``name`` (if any) set to ``value``
    (segment by segment: no value holds a slash)."""
    url = fill(method, path, template, api.acme)
    segments = url.split("/")
    for n, segment in enumerate(path.split("/")):
        if segment == "{" + name + "}":
            segments[n] = value
    return "/".join(segments)


WITH_PATH_PARAMS = [(m, p, n) for m, p, r in ROUTES for n in re.findall(r"{(\w+)}", p)]


def test_every_path_parameter_has_a_probe() -> None:
    assert {name for _, _, name in WITH_PATH_PARAMS} <= set(UNKNOWN)


@pytest.mark.parametrize(
    ("method", "path", "name"),
    WITH_PATH_PARAMS,
    ids=[f"{m} {p} {n}" for m, p, n in WITH_PATH_PARAMS],
)
def test_a_path_that_names_nothing_is_not_found(
    walk: Walk, method: str, path: str, name: str
) -> None:
    with sent(walk, method, path, path_value=(name, UNKNOWN[name])) as (
        api,
        before,
        (response,),
    ):
        where = f"{method} {path} with an unknown {name}"
        assert response.status_code == 404, f"{where}: {response.text}"
        assert assert_problem(response, 404)["type"] == "/problems/not-found", where
        assert api.head == before


WRITES = [(m, p) for m, p, _ in ROUTES if m != "GET"]


@pytest.mark.parametrize(("method", "path"), WRITES, ids=[f"{m} {p}" for m, p in WRITES])
def test_a_request_sent_twice_is_done_again_or_already_in_that_state(
    walk: Walk, method: str, path: str
) -> None:
    with sent(walk, method, path, times=2) as (api, before, (first, again)):
        moved = [
            type(event).__qualname__
            for n in api.ledger.recorder.select_notifications(before + 1, 100)
            if isinstance(event := api.ledger.mapper.to_domain_event(n), MONEY_EVENTS)
        ]
    where = f"{method} {path}"
    assert 200 <= first.status_code < 300, f"{where}: {first.text}"
    if moved:  # it moves money: it can be previewed first
        assert any(p == f"{path}/preview" for _, p, _ in ROUTES), f"{where} records {moved}"
    if 200 <= again.status_code < 300:
        return
    if (method, path) in REMOVES:
        assert again.status_code == 404, f"{where} again: {again.text}"
        return
    assert again.status_code == 409, f"{where} again: {again.text}"
    assert assert_problem(again, 409)["type"] in ALREADY, f"{where} again: {again.text}"


def takes_a_code(route: APIRoute) -> bool:
    """Whether the route's body, at any depth, has a product or currency field."""

    def fields(model: type[BaseModel]) -> set[str]:
        names = set(model.model_fields)
        for info in model.model_fields.values():
            for arg in (info.annotation, *get_args(info.annotation)):
                for inner in (arg, *get_args(arg)):
                    if isinstance(inner, type) and issubclass(inner, BaseModel):
                        names |= fields(inner)
        return names

    model = route.body_field.field_info.annotation if route.body_field is not None else None
    return (
        isinstance(model, type)
        and issubclass(model, BaseModel)
        and bool(fields(model) & CODE_FIELDS)
    )


def test_every_route_that_takes_a_product_or_currency_has_a_probe() -> None:
    assert {(m, p) for m, p, r in ROUTES if takes_a_code(r)} == set(UNKNOWN_CODES)


@pytest.mark.parametrize(("method", "path"), sorted(UNKNOWN_CODES), ids=str)
def test_an_unknown_product_or_currency_in_a_body_is_invalid(
    walk: Walk, method: str, path: str
) -> None:
    body, code = UNKNOWN_CODES[(method, path)]
    with sent(walk, method, path, body=body) as (api, before, (response,)):
        assert response.status_code == 422, f"{method} {path}: {response.text}"
        assert assert_problem(response, 422)["type"] == f"/problems/{code}"
        assert api.head == before


WITH_CURRENCY_QUERY = [
    (m, p) for m, p, r in ROUTES if "currency" in {q.alias for q in r.dependant.query_params}
]


@pytest.mark.parametrize(("method", "path"), WITH_CURRENCY_QUERY, ids=str)
def test_an_unknown_currency_in_a_query_is_invalid(walk: Walk, method: str, path: str) -> None:
    """The catalog's prices in XXX are refused as an account in XXX is."""
    with sent(walk, method, path, query={"currency": "XXX"}) as (_, _, (response,)):
        pass
    assert response.status_code == 422, response.text
    assert assert_problem(response, 422)["type"] == "/problems/unknown-currency"
