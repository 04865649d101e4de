"""Portal sessions: sign in with a link, check the session on each request, sign out.

A session is checked on every request the way an API token is: one keyed read of the
event store, a constant-time comparison, then the same ``Principal`` and the same access
rules (``service/http/access.py``). Nothing about it is cached across requests but its
last activity, so signing out, and any change of Manage Billing, act at once.
"""

from __future__ import annotations

import hmac
import secrets
from dataclasses import dataclass
from datetime import timedelta
from uuid import UUID

from domain.base import LedgerAggregate
from domain.cause import Cause
from domain.clock import Clock
from service.access.tokens import Principal
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
        self,
        ledger: Ledger,
        activity: SessionActivity,
        policy: SessionPolicy | None = None,
        real_time: Clock | None = None,
    ) -> None:
        """``real_time``: the clock the limits run on, the system's (never the ledger's,
        which a test clock moves: ADR 0017)."""
        self.ledger = ledger
        self.links = SignInLinks(ledger, real_time)
        self.real_time = self.links.real_time
        self.activity = activity
        self.policy = policy or SessionPolicy()

    def sign_in(self, ctx: CommandContext, token: str) -> tuple[str, PortalSession]:
        """Consume the link and open its session; the cookie value is shown once."""
        session_id = self.links.find(token).id
        secret = secrets.token_urlsafe(32)

        def work(cause: Cause) -> list[LedgerAggregate]:
            session = self.links.load(session_id)
            session.sign_in(
                secret_hash(secret),
                self.policy.lifetime,
                self.policy.idle,
                self.real_time.now(),
                cause,
            )
            return [session]

        self.ledger.execute(ctx, work, session_id)
        return f"{session_id.hex}.{secret}", self.links.load(session_id)

    def verify(self, cookie: str | None) -> Principal | None:
        """The principal of an open session, or None (malformed, unknown, signed out,
        expired or idle too long)."""
        session = self._by_cookie(cookie)
        if session is None:
            return None
        now = self.real_time.now()
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
