"""A portal session: the single-use sign-in link that opens it, then the session itself.

Its limits (the link's 15 minutes, the session's idle and absolute ends) are real time,
the system clock's, never the ledger's: a test clock moved a year ahead must not sign
anyone out (ADR 0017). Its events keep the ledger's timestamps, as every event does.

One aggregate per link, its id derived from the hash of the link's secret (as an API
token's is, ``service/access/tokens.py``), so opening a link is one keyed read and a
constant-time comparison. Signing in consumes the link: the event store's primary key
makes two openings of one link race for the same version, and only one wins. The
session's own secret is new, never the link's (a link travels in URLs and mail; the
session lives only in an HttpOnly cookie), and is stored only as a hash.
"""

from __future__ import annotations

import hashlib
from datetime import datetime, timedelta
from typing import Any
from uuid import NAMESPACE_URL, UUID, uuid5

from domain.base import LedgerAggregate
from domain.cause import Cause
from domain.errors import NotFound
from service.access.tokens import Principal, Role

LINK_PREFIX = "si_"


def secret_hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def session_id_for(link_hash: str) -> UUID:
    return uuid5(NAMESPACE_URL, f"subledger:portal-session:{link_hash}")


class LinkNotUsable(NotFound):
    """Unknown, expired and used links are told apart from nothing: all are not found."""

    code = "sign-in-link-not-usable"

    def __init__(self) -> None:
        super().__init__("this sign-in link is unknown, expired or already used")


class PortalSession(LedgerAggregate):
    class LinkIssued(LedgerAggregate.Created):
        link_hash: str
        role: str
        account_id: UUID | None
        user_id: str | None
        label: str
        link_expires_at: datetime

    class SignedIn(LedgerAggregate.Event):
        """v2 added ``signed_in_at``: the session's limits run on real time, the event's
        timestamp on the ledger's clock, which a test clock moves (ADR 0017)."""

        class_version = 2
        session_hash: str
        signed_in_at: datetime  # real time (the system clock's)
        expires_at: datetime  # the absolute end, however active the session is (real time)
        idle_seconds: int  # inactivity after which it ends (tracked beside the log)

        @staticmethod
        def upcast_v1_v2(state: dict[str, Any]) -> None:
            # v1 was written on the system clock, when both times were one
            state["signed_in_at"] = state["timestamp"]

        def apply(self, session: PortalSession) -> None:
            session.session_hash = self.session_hash
            session.signed_in_at = self.signed_in_at
            session.expires_at = self.expires_at
            session.idle = timedelta(seconds=self.idle_seconds)

    class SignedOut(LedgerAggregate.Event):
        def apply(self, session: PortalSession) -> None:
            session.signed_out = True

    def __init__(
        self,
        link_hash: str,
        role: str,
        account_id: UUID | None,
        user_id: str | None,
        label: str,
        link_expires_at: datetime,
    ) -> None:
        self.link_hash = link_hash
        self.role = Role(role)
        self.account_id = account_id
        self.user_id = user_id
        self.label = label
        self.link_expires_at = link_expires_at
        self.session_hash: str | None = None
        self.signed_in_at: datetime | None = None
        self.expires_at: datetime | None = None
        self.idle = timedelta(0)
        self.signed_out = False

    def link_usable(self, now: datetime) -> bool:
        return self.session_hash is None and now < self.link_expires_at

    def sign_in(
        self, session_hash: str, lifetime: timedelta, idle: timedelta, now: datetime, cause: Cause
    ) -> None:
        """Open the session at ``now``, real time (its limits follow from it)."""
        if not self.link_usable(now):
            raise LinkNotUsable()
        self._record(
            self.SignedIn,
            cause,
            session_hash=session_hash,
            signed_in_at=now,
            expires_at=now + lifetime,
            idle_seconds=int(idle.total_seconds()),
        )

    def is_open(self, now: datetime) -> bool:
        """Signed in, not signed out, and before its absolute end (idleness is checked
        beside the log, ``service/web/activity.py``)."""
        return self.expires_at is not None and not self.signed_out and now < self.expires_at

    def sign_out(self, cause: Cause) -> None:
        if self.signed_out or self.session_hash is None:
            return  # signing out twice changes nothing
        self._record(self.SignedOut, cause)

    @property
    def principal(self) -> Principal:
        return Principal(self.id, self.role, self.account_id, self.user_id, self.label)
