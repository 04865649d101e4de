"""Sign-in links and portal sessions: issue a link, sign in with it, check, sign out.

A session is checked on every request the way an API token is: one keyed read of the
event store, a constant-time comparison, then the same ``Principal`` and the same access
rules (``service/http/access.py``). Nothing about it is cached across requests but its
last activity, so signing out, and any change of Manage Billing, act at once.
"""

from __future__ import annotations

import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError

from domain.account import Account
from domain.base import LedgerAggregate
from domain.cause import Cause
from domain.errors import InvalidValue
from service.context import CommandContext
from service.ledger import Ledger, Receipt
from service.tokens import CUSTOMER_ROLES, Principal, Role
from service.web.activity import SessionActivity
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


@dataclass(frozen=True)
class SessionPolicy:
    link_lifetime: timedelta = timedelta(minutes=15)  # unless the issuer asks otherwise
    max_link_lifetime: timedelta = timedelta(days=1)
    idle: timedelta = timedelta(minutes=30)
    lifetime: timedelta = timedelta(hours=12)  # absolute, however active


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


class PortalSessions:
    def __init__(
        self, ledger: Ledger, activity: SessionActivity, policy: SessionPolicy | None = None
    ) -> None:
        self.ledger = ledger
        self.activity = activity
        self.policy = policy or SessionPolicy()

    # -- links --------------------------------------------------------------------------

    def issue_link(
        self,
        ctx: CommandContext,
        role: Role | None = None,
        account_id: UUID | None = None,
        user_id: str | None = None,
        label: str = "",
        lifetime: timedelta | None = None,
    ) -> IssuedLink:
        """A single-use sign-in link: for a user of an account (whose role the account
        says), or for a staff or auditor role (``role``, bound to no account)."""
        role = self._role(role, account_id, user_id)
        lifetime = lifetime or self.policy.link_lifetime
        if not timedelta(minutes=1) <= lifetime <= self.policy.max_link_lifetime:
            raise InvalidValue("a sign-in link lives between 1 minute and 1 day")
        token = LINK_PREFIX + secrets.token_urlsafe(32)
        digest = secret_hash(token)
        session_id = session_id_for(digest)
        name = label.strip()[:100] or f"{role.value}-{session_id.hex[:8]}"
        expires: list[datetime] = []

        def work(cause: Cause) -> list[LedgerAggregate]:
            expires[:] = [cause.at + lifetime]
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
                "", receipt.aggregate_id, self._load(session_id).link_expires_at, receipt
            )
        return IssuedLink(token, session_id, expires[0], receipt)

    def _role(self, role: Role | None, account_id: UUID | None, user_id: str | None) -> Role:
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
        session = self._by_link(token)
        if not session.link_usable(self.ledger.clock.now()):
            raise LinkNotUsable()
        return session

    # -- sessions -----------------------------------------------------------------------

    def sign_in(self, ctx: CommandContext, token: str) -> tuple[str, PortalSession]:
        """Consume the link and open its session; the cookie value is shown once."""
        session_id = self._by_link(token).id
        secret = secrets.token_urlsafe(32)

        def work(cause: Cause) -> list[LedgerAggregate]:
            session = self._load(session_id)
            session.sign_in(secret_hash(secret), self.policy.lifetime, self.policy.idle, cause)
            return [session]

        self.ledger.execute(ctx, work, session_id)
        return f"{session_id.hex}.{secret}", self._load(session_id)

    def verify(self, cookie: str | None) -> Principal | None:
        """The principal of an open session, or None (malformed, unknown, signed out,
        expired or idle too long)."""
        session = self._by_cookie(cookie)
        if session is None:
            return None
        now = self.ledger.clock.now()
        if not session.is_open(now):
            return None
        assert session.signed_in_at is not None
        if not self.activity.active(session.id, session.signed_in_at, session.idle, now):
            return None
        return session.principal

    def sign_out(self, ctx: CommandContext, cookie: str | None) -> None:
        session = self._by_cookie(cookie)
        if session is None:
            return

        def work(cause: Cause) -> list[LedgerAggregate]:
            fresh = self._load(session.id)
            fresh.sign_out(cause)
            return [fresh]

        self.ledger.execute(ctx, work, session.id)
        self.activity.forget(session.id)

    # -- loading ------------------------------------------------------------------------

    def _by_link(self, token: str) -> PortalSession:
        if not token.startswith(LINK_PREFIX) or len(token) > MAX_SECRET_LENGTH:
            raise LinkNotUsable()
        digest = secret_hash(token)
        try:
            session = self._load(session_id_for(digest))
        except LinkNotUsable:
            raise LinkNotUsable() from None
        if not hmac.compare_digest(session.link_hash, digest):
            raise LinkNotUsable()
        return session

    def _by_cookie(self, cookie: str | None) -> PortalSession | None:
        if not cookie or len(cookie) > MAX_SECRET_LENGTH:
            return None
        session_hex, _, secret = cookie.partition(".")
        try:
            session = self._load(UUID(hex=session_hex))
        except (ValueError, LinkNotUsable):
            return None
        if session.session_hash is None:
            return None
        if not hmac.compare_digest(session.session_hash, secret_hash(secret)):
            return None
        return session

    def _load(self, session_id: UUID) -> PortalSession:
        try:
            session: object = self.ledger.repository.get(session_id)
        except AggregateNotFoundError:
            raise LinkNotUsable() from None
        if not isinstance(session, PortalSession):
            raise LinkNotUsable()
        return session
