"""Portal sessions: sign in with a link, check the session on each request, sign out.

A session is checked on every request the way an API token is: one keyed read of the
event store, a constant-time comparison, then the same ``Principal`` and the same access
rules (``service/http/access.py``). Nothing about it is cached across requests but its
last activity, so signing out, and any change of Manage Billing, act at once.
"""

from __future__ import annotations

import hmac
import secrets
from dataclasses import dataclass, replace
from datetime import timedelta
from uuid import UUID

from domain.base import LedgerAggregate
from domain.cause import Cause
from service.access.tokens import Principal, Role
from service.ledger.application import Ledger
from service.ledger.context import CommandContext
from service.web.activity import SessionActivity
from service.web.portal_session import LinkNotUsable, PortalSession, secret_hash
from service.web.sign_in_links import MAX_SECRET_LENGTH, SignInLinks


@dataclass(frozen=True)
class SessionPolicy:
    idle: timedelta = timedelta(minutes=30)
    lifetime: timedelta = timedelta(hours=12)  # absolute, however active


class PortalSessions:
    def __init__(
        self, ledger: Ledger, activity: SessionActivity, policy: SessionPolicy | None = None
    ) -> None:
        self.ledger = ledger
        self.links = SignInLinks(ledger)
        self.activity = activity
        self.policy = policy or SessionPolicy()

    def sign_in(self, ctx: CommandContext, token: str) -> tuple[str, PortalSession]:
        """Consume the link and open its session; the cookie value is shown once."""
        session_id = self.links.find(token).id
        secret = secrets.token_urlsafe(32)

        def work(cause: Cause) -> list[LedgerAggregate]:
            session = self.links.load(session_id)
            session.sign_in(secret_hash(secret), self.policy.lifetime, self.policy.idle, cause)
            return [session]

        self.ledger.execute(ctx, work, session_id)
        return f"{session_id.hex}.{secret}", self.links.load(session_id)

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

    def renew(self, ctx: CommandContext, cookie: str | None) -> str | None:
        """A new session for the holder of ``cookie`` (its principal and label), and the
        old one signed out: after the test clock moved past the old one's limits, which
        run on the ledger's clock (ADR 0024). Each step is its own command, with no
        idempotency key: the form's own is the clock move's."""
        session = self._by_cookie(cookie)
        if session is None:
            return None
        own = replace(ctx, idempotency_key=None, fingerprint="", expected_version=None)
        customer = session.account_id is not None and session.user_id is not None
        issued = self.links.issue(
            own,
            Role.OPERATOR,  # the holder signs themself in again: no one else gains a session
            None if customer else session.role,
            session.account_id,
            session.user_id,
            session.label,
        )
        fresh, _ = self.sign_in(own, issued.token)
        self.sign_out(own, cookie)
        return fresh

    def sign_out(self, ctx: CommandContext, cookie: str | None) -> None:
        session = self._by_cookie(cookie)
        if session is None:
            return

        def work(cause: Cause) -> list[LedgerAggregate]:
            fresh = self.links.load(session.id)
            fresh.sign_out(cause)
            return [fresh]

        self.ledger.execute(ctx, work, session.id)
        self.activity.forget(session.id)

    def _by_cookie(self, cookie: str | None) -> PortalSession | None:
        if not cookie or len(cookie) > MAX_SECRET_LENGTH:
            return None
        session_hex, _, secret = cookie.partition(".")
        try:
            session = self.links.load(UUID(hex=session_hex))
        except (ValueError, LinkNotUsable):
            return None
        if session.session_hash is None:
            return None
        if not hmac.compare_digest(session.session_hash, secret_hash(secret)):
            return None
        return session
