"""End-to-end fixtures: the HTTP API over a seeded ledger, on SQLite and on PostgreSQL.

The seed is two customer accounts and a token per role:

- Acme (Essentials, USD): ``ada`` the administrator (Manage Billing by default), ``ben``
  a user without Manage Billing, ``cara`` an identity-license user granted Manage
  Billing; a contract of 5 Sales Cloud seats (one assigned to ada) and its first
  invoice; a billing contact; a payment method.
- Other (Essentials, USD): ``jonas`` its administrator, a contract, an invoice, a contact.

Tokens: ``admin`` (ada), ``user`` (ben), ``identity`` (cara), ``other_admin`` (jonas),
``billing_staff``, ``account_manager``, ``auditor``, ``operator``, ``integration``, and
``spare`` (an auditor token that tests may revoke).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, replace
from typing import Any
from uuid import UUID

import httpx
import pytest
from fastapi.testclient import TestClient

from adapters.store import StoreSettings
from domain.account import BillingDetails, Contact, ContactRole, User
from domain.catalog import Edition
from domain.invoice import Invoice
from domain.money import Money
from service.access.tokens import Role, Tokens
from service.http.app import create_app
from service.ledger.application import Ledger
from service.ledger.context import CommandContext
from service.reads.read_side import ReadSide
from tests.clocks import RealTimeAhead
from tests.destinations import REGISTRATION_ONLY

STAFF = CommandContext("seed-staff", "billing_staff")
OPERATOR = CommandContext("seed-operator", "operator")
PROBLEM_JSON = "application/problem+json"
CONTACT_ID = "c-billing"

# token name -> (role, account ("acme" / "other" / None), user)
PRINCIPALS: dict[str, tuple[Role, str | None, str | None]] = {
    "admin": (Role.ADMIN, "acme", "ada"),
    "user": (Role.USER, "acme", "ben"),
    "identity": (Role.IDENTITY, "acme", "cara"),
    "other_admin": (Role.ADMIN, "other", "jonas"),
    "billing_staff": (Role.BILLING_STAFF, None, None),
    "account_manager": (Role.ACCOUNT_MANAGER, None, None),
    "auditor": (Role.AUDITOR, None, None),
    "operator": (Role.OPERATOR, None, None),
    "integration": (Role.INTEGRATION, None, None),
    "spare": (Role.AUDITOR, None, None),
}


@dataclass(frozen=True)
class Tenant:
    """One seeded account and the ids of what it holds."""

    account_id: UUID
    subscription_id: UUID
    invoice_id: UUID
    contact_id: str = CONTACT_ID
    credit_note_id: str = ""  # a credit note of ``invoice_id``, if the seed issued one


@dataclass(frozen=True)
class Seed:
    acme: Tenant
    other: Tenant
    tokens: dict[str, str]
    token_ids: dict[str, UUID]


CREDIT_NOTE_ID = "5eedc4ed17a04b4f9b2d6a1c0e8f3b21"


def _user(user_id: str, administrator: bool = False) -> User:
    return User(user_id, user_id.title(), f"{user_id}@example.com", administrator)


def _open_tenant(ledger: Ledger, name: str, admin_id: str) -> Tenant:
    billing = BillingDetails(
        f"{name} Inc", "1 Main St", "Springfield", "12345", "US", f"ap@{name.lower()}.example"
    )
    account_id = ledger.open_account(
        STAFF, name, Edition.ESSENTIALS, "USD", billing, _user(admin_id, administrator=True)
    ).aggregate_id
    ledger.add_contact(
        STAFF,
        account_id,
        Contact(ContactRole.BILLING, "Bill Payer", f"bill@{name.lower()}.example"),
        CONTACT_ID,
    )
    receipt = ledger.start_subscription(STAFF, account_id, {"sales-cloud": 5})
    (invoice_id,) = [i for i in receipt.created if isinstance(ledger.repository.get(i), Invoice)]
    return Tenant(account_id, receipt.aggregate_id, invoice_id)


def seed_ledger(ledger: Ledger) -> Seed:
    acme = _open_tenant(ledger, "Acme", "ada")
    ledger.add_user(STAFF, acme.account_id, _user("ben"))
    ledger.add_user(STAFF, acme.account_id, _user("cara"))
    ledger.assign_identity_license(STAFF, acme.account_id, "cara")
    ledger.grant_manage_billing(STAFF, acme.account_id, "cara")
    ledger.set_payment_method(STAFF, acme.account_id, "pm_card_visa")
    ledger.assign_seat(STAFF, acme.account_id, "sales-cloud", "ada")
    other = replace(_open_tenant(ledger, "Other", "jonas"), credit_note_id=CREDIT_NOTE_ID)
    # a credit note, a document of its own (A-YYYY-NNNNNN), on the other account's invoice
    credited = replace(STAFF, reason="five seats billed twice")
    amount = Money.of("100.00", "USD")
    ledger.issue_credit_note(credited, other.invoice_id, amount, CREDIT_NOTE_ID)
    accounts = {"acme": acme.account_id, "other": other.account_id}
    tokens = Tokens(ledger)
    issued = {
        name: tokens.issue(
            OPERATOR, role, accounts[account] if account else None, user, label=f"e2e {name}"
        )
        for name, (role, account, user) in PRINCIPALS.items()
    }
    return Seed(
        acme,
        other,
        {name: i.token for name, i in issued.items()},
        {name: i.token_id for name, i in issued.items()},
    )


class Api:
    """A test client that knows the seed: requests as a named token, and checks refusals."""

    def __init__(self, client: TestClient, ledger: Ledger, seed: Seed) -> None:
        self.client = client
        self.ledger = ledger
        self.seed = seed

    @property
    def acme(self) -> Tenant:
        return self.seed.acme

    @property
    def other(self) -> Tenant:
        return self.seed.other

    @property
    def head(self) -> int:
        return self.ledger.head_position()

    def request(
        self,
        method: str,
        path: str,
        who: str | None = None,
        *,
        headers: dict[str, str] | None = None,
        **kwargs: Any,
    ) -> httpx.Response:
        sent = dict(headers or {})
        if method == "GET":
            # read your writes, as a client does with the Ledger-Position it was given
            sent.setdefault("Ledger-Min-Position", str(self.head))
        if who is not None:
            sent["Authorization"] = f"Bearer {self.seed.tokens.get(who, who)}"
        return self.client.request(method, path, headers=sent, **kwargs)

    def get(self, path: str, who: str | None = None, **kwargs: Any) -> httpx.Response:
        return self.request("GET", path, who, **kwargs)

    def post(self, path: str, who: str | None = None, **kwargs: Any) -> httpx.Response:
        return self.request("POST", path, who, **kwargs)

    def put(self, path: str, who: str | None = None, **kwargs: Any) -> httpx.Response:
        return self.request("PUT", path, who, **kwargs)

    def patch(self, path: str, who: str | None = None, **kwargs: Any) -> httpx.Response:
        return self.request("PATCH", path, who, **kwargs)

    def delete(self, path: str, who: str | None = None, **kwargs: Any) -> httpx.Response:
        return self.request("DELETE", path, who, **kwargs)

    def refused(
        self, status: int, method: str, path: str, who: str | None = None, **kwargs: Any
    ) -> dict[str, Any]:
        """Send a request that must be refused with ``status``: a problem+json answer, and
        nothing written (the log head did not move). Returns the problem."""
        before = self.head
        response = self.request(method, path, who, **kwargs)
        assert response.status_code == status, response.text
        assert_problem(response, status)
        assert self.head == before, f"a refused {method} {path} moved the log"
        return dict(response.json())

    def wrote(self, response: httpx.Response, status: int = 200) -> dict[str, Any]:
        """A state-changing request succeeded: its Ledger-Position is the log head after it."""
        assert response.status_code == status, response.text
        assert int(response.headers["Ledger-Position"]) == self.head
        assert response.headers["ETag"].strip('"').isdigit()
        body: dict[str, Any] = response.json()
        return body


def record_payment_methods(api: Api, account_id: UUID, *references: str) -> None:
    """Record ``references`` on the account, as its admins would (a payment may only use a
    method recorded on the paying account); its current payment method stays as it was."""
    current = api.ledger.account(account_id).payment_method
    for reference in (*references, *([current] if current else [])):
        api.ledger.set_payment_method(STAFF, account_id, reference)


def assert_problem(response: httpx.Response, status: int) -> dict[str, Any]:
    """An RFC 9457 problem: its media type and members, and never a stack trace."""
    assert response.headers["content-type"].startswith(PROBLEM_JSON)
    problem: dict[str, Any] = response.json()
    assert problem["status"] == status
    assert problem["type"].startswith("/problems/")
    assert problem["title"] and problem["detail"]
    assert "Traceback" not in response.text
    return problem


def make_api(
    store: StoreSettings, ledger: Ledger, real_time: RealTimeAhead | None = None
) -> Iterator[Api]:
    seed = seed_ledger(ledger)
    # no webhook worker runs: endpoints at *.example.com may be registered, never sent to
    app = create_app(
        ReadSide(store, ledger), webhook_destinations=REGISTRATION_ONLY, real_time=real_time
    )
    with TestClient(app) as client:
        yield Api(client, ledger, seed)


@pytest.fixture
def real_time() -> RealTimeAhead:
    """The clock web sessions and sign-in links expire on: the system's, made to jump."""
    return RealTimeAhead()


@pytest.fixture
def api(store: StoreSettings, ledger: Ledger, real_time: RealTimeAhead) -> Iterator[Api]:
    """The API over a freshly seeded ledger (once per store), its projections running."""
    yield from make_api(store, ledger, real_time)
