"""What every page of an account shares: the access check, the navigation, the context.

The check is the API's own (``account_for``): a customer sees only its own account, and
only while its user holds Manage Billing; staff and auditors see any account. Whether
the visitor may change things is the role's right at the ``self-service`` level.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from uuid import UUID

from fastapi.responses import Response

from domain.account import Account
from service.access.tokens import CUSTOMER_ROLES
from service.http.access import Access, account_for
from service.ledger.application import Receipt
from service.web.deps import Visit
from service.web.forms import Posted, attempt
from service.web.i18n import N_
from service.web.pages import done
from service.web.refusals import Refusal

SECTIONS = (
    ("overview", "", N_("Overview")),
    ("invoices", "/invoices", N_("Invoices")),
    ("billing", "/billing", N_("Billing details")),
    ("users", "/users", N_("Users and licenses")),
    ("support", "/support", N_("Support")),
    ("upgrade", "/upgrade", N_("Upgrade")),
)
# What staff and auditors see of an account besides (service/web/routes/staff.py, audit.py)
STAFF_SECTIONS = (("time-travel", "/time-travel", N_("Time travel")),)
AUDIT_SECTIONS = (("history", "/history", N_("History and audit")),)


def account_path(account_id: UUID) -> str:
    return f"/accounts/{account_id}"


def _sections(current: Visit) -> tuple[tuple[str, str, str], ...]:
    assert current.principal is not None
    if current.principal.role in CUSTOMER_ROLES:
        return SECTIONS
    audit = AUDIT_SECTIONS if current.may(Access.AUDIT) else ()
    return SECTIONS + STAFF_SECTIONS + audit


def account_context(
    current: Visit, account_id: UUID, section: str, level: Access = Access.ACCOUNT_READ
) -> dict[str, Any]:
    """The account, if the visitor may see it at ``level``, and the page's frame."""
    assert current.principal is not None
    account: Account = account_for(current.ledger, current.principal, account_id, level)
    root = current.request.scope.get("root_path", "")
    base = root + account_path(account_id)
    return {
        "account": account,
        "acct": base,
        "section": section,
        "sections": [(key, base + tail, label) for key, tail, label in _sections(current)],
        "manage": current.may(Access.SELF_SERVICE),
        "administer": current.may(Access.ACCOUNT_ADMIN),
        "correct": current.may(Access.STAFF),
        "change_edition": current.may(Access.EDITION),
        "staff_view": current.principal.role not in CUSTOMER_ROLES,
        "me": account.users.get(current.principal.user_id or ""),
    }


def change_account(
    posted: Posted,
    account_id: UUID,
    section: str,
    notice: str,
    run: Callable[[Account], Receipt],
    refused: Callable[[Refusal], Response],
    level: Access = Access.SELF_SERVICE,
) -> Response:
    """A form that changes the account: the API's access check, the use case, then back
    to the section's page; a refusal is shown by ``refused``."""
    current = posted.visit

    def act() -> Response:
        assert current.principal is not None
        account = account_for(current.ledger, current.principal, account_id, level)
        receipt = run(account)
        tail = "" if section == "overview" else f"/{section}"
        return done(current, account_path(account_id) + tail, notice, receipt)

    return attempt(act, refused)
