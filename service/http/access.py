"""Who may call what: bearer tokens, roles, Manage Billing and tenant isolation.

Every route declares one access level. Customer tokens (admin, user, identity) act only
on their own account, and only while their user holds Manage Billing there: it is read
from the account on each request, so a revocation takes effect at once. Another
account's resources answer 404 exactly as a missing one would. Who holds Manage Billing,
and who belongs to the account, only the account's administrators decide (and staff).
"""

from __future__ import annotations

from enum import Enum
from typing import Any
from uuid import UUID

from fastapi import Request

from domain.account import Account
from domain.errors import NotFound
from service.access.tokens import CUSTOMER_ROLES, Principal, Role, Tokens
from service.http.problems import forbidden, unauthorized
from service.ledger.application import Ledger


class Access(Enum):
    PUBLIC = "public"
    CATALOG = "catalog"
    ACCOUNT_READ = "account-read"
    SELF_SERVICE = "self-service"
    ACCOUNT_ADMIN = "account-admin"
    STAFF = "staff"
    EDITION = "edition"
    AUDIT = "audit"
    REPORTS = "reports"
    OPERATOR = "operator"
    EVENTS = "events"
    CLOCK = "clock"
    CLOCK_CONTROL = "clock-control"
    PORTAL = "portal"


# Roles allowed at each level; customer roles additionally need Manage Billing on the
# account concerned (marked in docs/security.md).
ALLOWED: dict[Access, frozenset[Role]] = {
    Access.PUBLIC: frozenset(Role),
    Access.CATALOG: frozenset(Role),
    Access.ACCOUNT_READ: CUSTOMER_ROLES | {Role.BILLING_STAFF, Role.ACCOUNT_MANAGER, Role.AUDITOR},
    Access.SELF_SERVICE: CUSTOMER_ROLES | {Role.BILLING_STAFF},
    # Customers: an admin token, of a user who is an administrator of the account.
    Access.ACCOUNT_ADMIN: frozenset({Role.ADMIN, Role.BILLING_STAFF}),
    Access.STAFF: frozenset({Role.BILLING_STAFF}),
    Access.EDITION: frozenset({Role.BILLING_STAFF, Role.ACCOUNT_MANAGER}),
    Access.AUDIT: frozenset({Role.BILLING_STAFF, Role.AUDITOR}),
    Access.REPORTS: frozenset({Role.BILLING_STAFF, Role.ACCOUNT_MANAGER, Role.AUDITOR}),
    Access.OPERATOR: frozenset({Role.OPERATOR}),
    # Sign-in links to the web app (who may sign in whom: service/web/sessions.py).
    Access.PORTAL: frozenset({Role.BILLING_STAFF, Role.OPERATOR}),
    # The event feed: customers see only their own account's events (service/http/routes/events.py).
    Access.EVENTS: CUSTOMER_ROLES
    | {Role.BILLING_STAFF, Role.ACCOUNT_MANAGER, Role.AUDITOR, Role.INTEGRATION},
    # A test clock (ADR 0015): everyone may ask what day it is; staff and operators move it.
    Access.CLOCK: frozenset(Role),
    Access.CLOCK_CONTROL: frozenset({Role.BILLING_STAFF, Role.OPERATOR}),
}

MANAGE_BILLING = "manage_billing"
ADMINISTRATOR = "administrator"


def access_extra(level: Access) -> dict[str, Any]:
    """OpenAPI extension naming a route's access level (read by the permission-matrix test)."""
    return {"x-access": level.value}


def authenticate(request: Request, tokens: Tokens, presented: str | None) -> Principal:
    if not presented or not presented.strip():
        raise unauthorized("send a bearer token: Authorization: Bearer <token>")
    principal = tokens.verify(presented.strip())
    if principal is None:
        raise unauthorized("the bearer token is unknown or revoked")
    request.state.principal = principal
    return principal


def declared_level(request: Request) -> Access:
    """The access level the matched route declares (a route without one fails closed)."""
    return Access(request.scope["route"].openapi_extra["x-access"])


def require(principal: Principal, level: Access) -> None:
    if principal.role not in ALLOWED[level]:
        raise forbidden(f"the {principal.role.value} role may not do this ({level.value})")


def account_for(
    ledger: Ledger, principal: Principal, account_id: UUID, level: Access, what: str = "account"
) -> Account:
    """The account a request concerns, if this principal may act on it at ``level``."""
    require(principal, level)
    if principal.role in CUSTOMER_ROLES:
        if principal.account_id != account_id:
            raise NotFound(f"no {what}")
        account = ledger.account(account_id)
        if not account.has_manage_billing(principal.user_id or ""):
            raise forbidden(
                "this needs the Manage Billing permission on the account", MANAGE_BILLING
            )
        if (
            level is Access.ACCOUNT_ADMIN
            and not account.user(principal.user_id or "").administrator
        ):
            raise forbidden("only an administrator of the account may do this", ADMINISTRATOR)
        return account
    return ledger.account(account_id)
