"""The permission matrix: docs/security.md equals what the code declares, and every route
answers every role as the matrix says, with real requests.

The walk runs on SQLite only: it sends about 400 requests, each on a fresh copy of one
seeded store (copying a file takes a millisecond, seeding a PostgreSQL schema far longer);
the access checks do not depend on the store, and the rest of tests/e2e runs on both.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient

from adapters.clock import ControllableClock
from adapters.payments import FakePaymentProvider
from adapters.store import StoreSettings
from domain.money import Money
from service.access.tokens import CUSTOMER_ROLES, Role, Tokens
from service.clock.test_clock import use_test_clock
from service.http.access import ALLOWED, Access
from service.http.app import create_app
from service.http.event_stream import StreamSettings
from service.ledger.application import Ledger
from service.reads.read_side import ReadSide
from service.sharing.links import ShareLinks
from service.webhooks.endpoint import WebhookEndpoints
from service.webhooks.store import WebhookStore
from tests.conftest import T0
from tests.destinations import REGISTRATION_ONLY
from tests.e2e.conftest import OPERATOR, STAFF, Api, Tenant, assert_problem, seed_ledger

DOC = Path(__file__).resolve().parents[2] / "docs" / "security.md"
START, END = "<!-- permission-matrix:start -->", "<!-- permission-matrix:end -->"
ROLES = list(Role)
# A route whose path names one of these acts on one account: customers need Manage
# Billing there, and another account's ids answer 404.
ACCOUNT_SCOPED = {"account_id", "subscription_id", "invoice_id"}
# So does a route that takes the account as this query parameter (the event feed).
ACCOUNT_QUERY = "account"
TOKEN_OF = {role: role.value for role in ROLES}  # the seed names its tokens after the roles


def api_routes(app: FastAPI) -> list[tuple[str, str, APIRoute]]:
    """(method, path, route) for every API route, routers included."""
    try:  # FastAPI >= 0.16x includes routers lazily: app.routes holds the routers
        from fastapi.routing import iter_route_contexts
    except ImportError:  # pragma: no cover - older FastAPI lists the routes themselves
        found = [(r.path, r) for r in app.routes if isinstance(r, APIRoute)]
    else:
        found = [
            (str(c.path), c.original_route)
            for c in iter_route_contexts(app.routes)
            if isinstance(c.original_route, APIRoute)
        ]
    return [(method, path, route) for path, route in found for method in sorted(route.methods)]


APP = create_app(SimpleNamespace(ledger=None))  # type: ignore[arg-type]  # only its routes are read
ROUTES = api_routes(APP)


def level_of(route: APIRoute) -> Access:
    return Access((route.openapi_extra or {})["x-access"])


def has_account_query(route: APIRoute) -> bool:
    return ACCOUNT_QUERY in {p.alias for p in route.dependant.query_params}


def is_account_scoped(route: APIRoute) -> bool:
    scoped = bool({p.name for p in route.dependant.path_params} & ACCOUNT_SCOPED)
    return scoped or has_account_query(route)


def needs_manage_billing(route: APIRoute) -> bool:
    return bool(ALLOWED[level_of(route)] & CUSTOMER_ROLES) and is_account_scoped(route)


def customer_needs(route: APIRoute) -> str:
    """The matrix's last column: what a customer needs besides its role."""
    if not needs_manage_billing(route):
        return "—"
    return "administrator" if level_of(route) is Access.ACCOUNT_ADMIN else "yes"


# -- (a) the document equals the code -----------------------------------------------------


def declared_matrix() -> list[tuple[str, ...]]:
    rows = []
    for method, path, route in ROUTES:
        allowed = ALLOWED[level_of(route)]
        rows.append(
            (
                method,
                path,
                level_of(route).value,
                *("✓" if role in allowed else "—" for role in ROLES),
                customer_needs(route),
            )
        )
    return rows


def documented_matrix() -> tuple[list[str], list[tuple[str, ...]]]:
    text = DOC.read_text()
    table = text[text.index(START) + len(START) : text.index(END)].strip().splitlines()
    cells = [[c.strip().strip("`") for c in line.strip().strip("|").split("|")] for line in table]
    header, rows = cells[0], cells[2:]
    return header, [tuple(row) for row in rows]


def test_the_documented_matrix_is_the_one_the_code_declares() -> None:
    header, rows = documented_matrix()
    assert header == ["method", "path", "access", *(r.value for r in ROLES), "Manage Billing"]
    assert sorted(rows) == sorted(declared_matrix())
    assert len(rows) == len(set(rows)) == len(ROUTES)


def test_every_route_declares_its_access_level_in_openapi() -> None:
    operations = {
        (method.upper(), path): operation
        for path, item in APP.openapi()["paths"].items()
        for method, operation in item.items()
    }
    assert set(operations) == {(m, p) for m, p, _ in ROUTES}
    for (method, path), operation in operations.items():
        assert Access(operation["x-access"]), (method, path)


def test_the_document_describes_every_level_and_role() -> None:
    text = DOC.read_text()
    for level in Access:
        assert f"| `{level.value}` |" in text, level
    for role in ROLES:
        assert f"| `{role.value}` |" in text, role


# -- (b) every route, every role, real requests ---------------------------------------------

BODIES: dict[tuple[str, str], dict[str, Any]] = {
    ("POST", "/v1/accounts"): {
        "name": "Initech",
        "edition": "Essentials",
        "currency": "USD",
        "billing_details": {
            "legal_name": "Initech LLC",
            "address_line1": "1 Office Park",
            "city": "Austin",
            "postal_code": "73301",
            "country": "US",
            "invoice_email": "ap@initech.example",
        },
        "administrator": {"user_id": "bill", "name": "Bill", "email": "bill@initech.example"},
    },
    ("PATCH", "/v1/accounts/{account_id}/billing-details"): {"city": "Shelbyville"},
    ("PUT", "/v1/accounts/{account_id}/payment-method"): {"reference": "pm_matrix"},
    ("POST", "/v1/accounts/{account_id}/contacts"): {
        "role": "technical",
        "name": "Tess",
        "email": "tess@matrix.example",
    },
    ("PATCH", "/v1/accounts/{account_id}/contacts/{contact_id}"): {"phone": "+1 555 0100"},
    ("POST", "/v1/accounts/{account_id}/users"): {
        "user_id": "dan",
        "name": "Dan",
        "email": "dan@matrix.example",
    },
    ("POST", "/v1/accounts/{account_id}/identity-licenses"): {"user_id": "ben"},
    ("POST", "/v1/accounts/{account_id}/upgrade-requests"): {"edition": "Professional"},
    ("PUT", "/v1/accounts/{account_id}/edition"): {
        "edition": "Professional",
        "reason": "signed order 1",
    },
    ("POST", "/v1/accounts/{account_id}/support-cases"): {"subject": "Hi", "description": "Help"},
    ("POST", "/v1/accounts/{account_id}/support-cases/{case_id}/replies"): {"message": "Done"},
    ("POST", "/v1/accounts/{account_id}/support-cases/{case_id}/close"): {"resolution": "Done"},
    ("POST", "/v1/accounts/{account_id}/erasure-requests"): {
        "kind": "user",
        "subject_id": "ben",
        "reason": "ben asked to be forgotten",
    },
    ("POST", "/v1/accounts/{account_id}/subscriptions"): {
        "lines": [{"product_code": "service-cloud", "quantity": 1}]
    },
    ("POST", "/v1/subscriptions/{subscription_id}/licenses"): {
        "product_code": "sales-cloud",
        "quantity": 1,
    },
    ("POST", "/v1/subscriptions/{subscription_id}/products"): {
        "product_code": "data-storage",
        "quantity": 1,
    },
    ("PUT", "/v1/subscriptions/{subscription_id}/renewal"): {"term_months": 24},
    ("POST", "/v1/subscriptions/{subscription_id}/cancellation"): {"reason": "agreed exit"},
    ("POST", "/v1/invoices/{invoice_id}/payments"): {"amount": "10.00"},
    ("POST", "/v1/invoices/{invoice_id}/void"): {"reason": "duplicate"},
    ("POST", "/v1/invoices/{invoice_id}/credit-notes"): {"amount": "10.00", "reason": "goodwill"},
    ("POST", "/v1/invoices/{invoice_id}/refunds"): {"amount": "10.00", "reason": "goodwill"},
    ("POST", "/v1/invoices/{invoice_id}/share-links"): {"expires_in_days": 7},
    ("POST", "/v1/tokens"): {"role": "auditor"},
    ("POST", "/v1/portal-sessions"): {"account_id": "{account_id}", "user_id": "ada"},
    ("POST", "/v1/webhook-endpoints"): {"url": "https://crm.example.com/hooks"},
    ("PATCH", "/v1/webhook-endpoints/{endpoint_id}"): {"description": "CRM"},
    ("POST", "/v1/webhook-endpoints/{endpoint_id}/disable"): {"reason": "maintenance"},
    ("POST", "/v1/webhook-endpoints/{endpoint_id}/replay"): {"from_position": 1},
    ("POST", "/v1/test-clock"): {"advance": "P1D"},
}

# A preview (service/http/routes/previews.py) takes its command's body.
BODIES |= {
    ("POST", f"{path}/preview"): body
    for (_, path), body in list(BODIES.items())
    if any(p == f"{path}/preview" for _, p, _ in ROUTES)
}

# The user a route acts on, chosen so that an allowed caller succeeds on the seed
USER_FOR = {
    ("PUT", "/v1/accounts/{account_id}/users/{user_id}/permissions/manage_billing"): "ben",
    ("DELETE", "/v1/accounts/{account_id}/users/{user_id}/permissions/manage_billing"): "cara",
    ("DELETE", "/v1/accounts/{account_id}/users/{user_id}"): "ben",
    ("DELETE", "/v1/accounts/{account_id}/identity-licenses/{user_id}"): "cara",
    ("PUT", "/v1/accounts/{account_id}/licenses/{product_code}/assignments/{user_id}"): "ben",
    ("DELETE", "/v1/accounts/{account_id}/licenses/{product_code}/assignments/{user_id}"): "ada",
}


def test_every_route_with_a_body_has_an_example() -> None:
    with_body = {(m, p) for m, p, route in ROUTES if route.body_field is not None}
    assert with_body == set(BODIES)
    with_user = {(m, p) for m, p, _ in ROUTES if "{user_id}" in p}
    assert with_user == set(USER_FOR)


def fill(method: str, path: str, template: Template, tenant: Tenant) -> str:
    seed, share = template.seed, template.share
    return path.format(
        account_id=tenant.account_id,
        subscription_id=tenant.subscription_id,
        invoice_id=tenant.invoice_id,
        contact_id=tenant.contact_id,
        user_id=USER_FOR.get((method, path), ""),
        product_code="sales-cloud",
        token_id=seed.token_ids["spare"],
        link_id=share.link_id,  # a link to Acme's invoice
        token=share.token,
        event_type="subledger.invoice.InvoicePaid.v1",
        endpoint_id=template.endpoint_id,
        case_id=template.case_id,  # Acme's
        credit_note_id=template.credit_note_id,  # of Acme's invoice
    )


def body_for(method: str, path: str, tenant: Tenant) -> dict[str, Any] | None:
    """The route's example body; ``{account_id}`` in a value names the target account."""
    body = BODIES.get((method, path))
    if body is None:
        return None
    return {
        k: v.format(account_id=tenant.account_id) if isinstance(v, str) else v
        for k, v in body.items()
    }


class Template:
    """One seeded SQLite store, copied afresh for every request.

    One app serves every copy: FastAPI compiles an app's routes on its first request,
    which costs far more than the request, so each copy is put in the long-lived app's
    state the way ``create_app`` wires a ledger."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.path = directory / "template.db"
        ledger = self._open(self.path)
        self.seed = seed_ledger(ledger)
        self.share = ShareLinks(ledger).create(STAFF, self.seed.acme.invoice_id)
        self.credit_note_id = "matrix-credit"
        ledger.issue_credit_note(
            replace(STAFF, reason="matrix"),
            self.seed.acme.invoice_id,
            Money.of("1.00", "USD"),
            self.credit_note_id,
        )
        webhooks = WebhookEndpoints(
            ledger, WebhookStore(self._settings(self.path)), REGISTRATION_ONLY
        )
        self.endpoint_id = webhooks.register(
            OPERATOR, "https://crm.example.com/hooks", []
        ).endpoint_id
        self.case_id = ledger.open_support_case(
            STAFF, self.seed.acme.account_id, "Matrix", "A case to read and answer"
        ).aggregate_id
        read_side = ReadSide(self._settings(self.path), ledger)
        read_side.runner.catch_up()  # every copy starts with its read models current
        self.app = create_app(
            read_side, run_projections=False, webhook_destinations=REGISTRATION_ONLY
        )
        # the event stream answers, then ends (a test client reads a response to its end)
        self.app.state.event_stream = StreamSettings(max_seconds=0.2)
        read_side.stop()
        ledger.close()
        self.copies = 0

    @staticmethod
    def _settings(path: Path) -> StoreSettings:
        return StoreSettings(sqlite_path=str(path))

    def _open(self, path: Path) -> Ledger:
        """A ledger on the store's test clock (started at T0 with the template), so that
        the test clock's routes answer too; it stands still as a controllable clock would."""
        ledger = Ledger(
            env=self._settings(path).eventsourcing_env(),
            clock=ControllableClock(T0),
            payment_provider=FakePaymentProvider(),
        )
        use_test_clock(ledger)
        return ledger

    def api(self, client: TestClient) -> Iterator[Api]:
        self.copies += 1
        copy = self.directory / f"copy-{self.copies}.db"
        shutil.copyfile(self.path, copy)
        shutil.copyfile(
            self._settings(self.path).read_sqlite_path, self._settings(copy).read_sqlite_path
        )
        ledger = self._open(copy)
        read_side = ReadSide(self._settings(copy), ledger)
        self.app.state.ledger, self.app.state.tokens = ledger, Tokens(ledger)
        self.app.state.read_side = read_side
        try:
            yield Api(client, ledger, self.seed)
        finally:
            read_side.stop()
            ledger.close()
            copy.unlink()
            Path(self._settings(copy).read_sqlite_path).unlink()


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Template:
    return Template(tmp_path_factory.mktemp("matrix"))


@pytest.fixture(scope="module")
def client(template: Template) -> Iterator[TestClient]:
    with TestClient(template.app) as client:
        yield client


def cases(route: APIRoute) -> list[tuple[str | None, str]]:
    """(token, target tenant) pairs to try: every role; customers also on the other account."""
    found: list[tuple[str | None, str]] = []
    for role in ROLES:
        found.append((TOKEN_OF[role], "acme"))
        if role in CUSTOMER_ROLES and is_account_scoped(route):
            found.append((TOKEN_OF[role], "other"))
    if level_of(route) is Access.PUBLIC:
        found.append((None, "acme"))
    return found


def expectation(route: APIRoute, token: str | None, target: str) -> str:
    """What the matrix says: "ok", "forbidden", "manage_billing" or "not_found"."""
    if token is None:
        return "ok"
    role = Role(token)
    if role not in ALLOWED[level_of(route)]:
        return "forbidden"
    if role in CUSTOMER_ROLES and is_account_scoped(route):
        if target == "other":
            return "not_found"
        if role is Role.USER:  # the seed's user lacks Manage Billing
            return "manage_billing"
    return "ok"


@pytest.mark.parametrize(
    ("method", "path"), [(m, p) for m, p, _ in ROUTES], ids=[f"{m} {p}" for m, p, _ in ROUTES]
)
def test_every_role_gets_what_the_matrix_says(
    template: Template, client: TestClient, method: str, path: str
) -> None:
    (route,) = [r for m, p, r in ROUTES if (m, p) == (method, path)]
    for token, target in cases(route):
        expected = expectation(route, token, target)
        for api in template.api(client):
            tenant = api.other if target == "other" else api.acme
            url = fill(method, path, template, tenant)
            query = {ACCOUNT_QUERY: str(tenant.account_id)} if has_account_query(route) else None
            before = api.head
            response = api.request(
                method, url, token, json=body_for(method, path, tenant), params=query
            )
            where = f"{method} {url} as {token} on {target}: expected {expected}"
            if expected == "ok":
                assert 200 <= response.status_code < 300, f"{where}, got {response.text}"
                if method != "GET":
                    assert int(response.headers["Ledger-Position"]) == api.head, where
                continue
            status = {"forbidden": 403, "manage_billing": 403, "not_found": 404}[expected]
            assert response.status_code == status, f"{where}, got {response.text}"
            problem = assert_problem(response, status)
            assert problem.get("permission") == (
                "manage_billing" if expected == "manage_billing" else None
            ), where
            assert api.head == before, f"{where}: a refusal moved the log"
