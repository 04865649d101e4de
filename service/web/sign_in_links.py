"""Sign-in links: single-use, short-lived, made by an operator or billing staff.

A link names who it signs in: a user of an account (whose role the account gives), or
a staff or auditor role bound to no account. Its secret is shown once and stored only
as a hash (the session's id derives from it, ``portal_session.py``).
"""

from __future__ import annotations

import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError

from adapters.clock import SystemClock
from domain.account import Account
from domain.base import LedgerAggregate
from domain.cause import Cause
from domain.clock import Clock
from domain.errors import InvalidValue, PermissionRule
from domain.text import safe_text
from service.access.tokens import CUSTOMER_ROLES, Role
from service.ledger.application import Ledger, Receipt
from service.ledger.context import CommandContext
from service.web.portal_session import (
    LINK_PREFIX,
    LinkNotUsable,
    PortalSession,
    secret_hash,
    session_id_for,
)

# Roles with pages in the portal: customers, and the vendor's staff and auditors.
PORTAL_ROLES = CUSTOMER_ROLES | {Role.BILLING_STAFF, Role.ACCOUNT_MANAGER, Role.AUDITOR}
MAX_SECRET_LENGTH = 100
LINK_LIFETIME = timedelta(minutes=15)  # unless the issuer asks otherwise
MAX_LINK_LIFETIME = timedelta(days=1)


@dataclass(frozen=True)
class IssuedLink:
    token: str  # the link's secret, shown once ("" for an idempotent replay)
    session_id: UUID
    expires_at: datetime
    receipt: Receipt


def customer_role(account: Account, user_id: str) -> Role:
    """A customer's role, as the account says: its administrators are admins, users on
    a free identity license identity users, anyone else a user."""
    user = account.user(user_id)
    if user.administrator:
        return Role.ADMIN
    if user_id in account.identity_licenses:
        return Role.IDENTITY
    return Role.USER


def may_issue(issuer: Role, role: Role) -> bool:
    """Billing staff sign customers in (to help them); operators anyone with pages."""
    return role in PORTAL_ROLES and (
        issuer is Role.OPERATOR or (issuer is Role.BILLING_STAFF and role in CUSTOMER_ROLES)
    )


class SignInLinks:
    def __init__(self, ledger: Ledger, real_time: Clock | None = None) -> None:
        """``real_time``: the clock a link's expiry runs on, the system's (ADR 0017)."""
        self.ledger = ledger
        self.real_time: Clock = real_time or SystemClock()

    def issue(
        self,
        ctx: CommandContext,
        issuer: Role,
        role: Role | None = None,
        account_id: UUID | None = None,
        user_id: str | None = None,
        label: str = "",
        lifetime: timedelta | None = None,
    ) -> IssuedLink:
        """A single-use sign-in link: for a user of an account (whose role the account
        says), or for a staff or auditor role (``role``, bound to no account), made by
        someone in the ``issuer`` role."""
        role = self.link_role(role, account_id, user_id)
        if not may_issue(issuer, role):
            raise PermissionRule(f"the {issuer.value} role may not sign in a {role.value}")
        lifetime = lifetime or LINK_LIFETIME
        if not timedelta(minutes=1) <= lifetime <= MAX_LINK_LIFETIME:
            raise InvalidValue("a sign-in link lives between 1 minute and 1 day")
        token = LINK_PREFIX + secrets.token_urlsafe(32)
        digest = secret_hash(token)
        session_id = session_id_for(digest)
        name = safe_text(label.strip()[:100], "label", 100) or f"{role.value}-{session_id.hex[:8]}"
        expires = [self.real_time.now() + lifetime]

        def work(cause: Cause) -> list[LedgerAggregate]:
            return [
                PortalSession._begin(
                    PortalSession.LinkIssued,
                    session_id,
                    cause,
                    link_hash=digest,
                    role=role.value,
                    account_id=account_id,
                    user_id=user_id,
                    label=name,
                    link_expires_at=expires[0],
                )
            ]

        receipt = self.ledger.execute(ctx, work, session_id)
        if receipt.replayed:
            return IssuedLink(
                "", receipt.aggregate_id, self.load(session_id).link_expires_at, receipt
            )
        return IssuedLink(token, session_id, expires[0], receipt)

    def link_role(self, role: Role | None, account_id: UUID | None, user_id: str | None) -> Role:
        """The role a link signs in as (a customer's comes from the account)."""
        if account_id is not None or user_id is not None:
            if account_id is None or user_id is None:
                raise InvalidValue("a customer's sign-in link names an account and a user")
            if role is not None:
                raise InvalidValue("a customer's role is the one the account gives its user")
            return customer_role(self.ledger.account(account_id), user_id)
        if role is None or role in CUSTOMER_ROLES:
            raise InvalidValue("name the account and user, or a staff or auditor role")
        if role not in PORTAL_ROLES:
            raise InvalidValue(f"the {role.value} role has no pages in the portal")
        return role

    def pending(self, token: str) -> PortalSession:
        """The session a link would open, while it can still be used."""
        session = self.find(token)
        if not session.link_usable(self.real_time.now()):
            raise LinkNotUsable()
        return session

    def find(self, token: str) -> PortalSession:
        """The session a link names, used or not (unknown or malformed: not found)."""
        if not token.startswith(LINK_PREFIX) or len(token) > MAX_SECRET_LENGTH:
            raise LinkNotUsable()
        digest = secret_hash(token)
        session = self.load(session_id_for(digest))
        if not hmac.compare_digest(session.link_hash, digest):
            raise LinkNotUsable()
        return session

    def load(self, session_id: UUID) -> PortalSession:
        try:
            session: object = self.ledger.repository.get(session_id)
        except AggregateNotFoundError:
            raise LinkNotUsable() from None
        if not isinstance(session, PortalSession):
            raise LinkNotUsable()
        return session
