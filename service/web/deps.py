"""Who is visiting, in which language, and the services a page uses.

The web app is mounted inside the API's FastAPI app and shares its ``state`` (the
Ledger, the read side, the tokens), so pages and routes reach the very same objects.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, Request
from starlette.datastructures import State

from service.access.tokens import Principal
from service.http.access import ALLOWED, Access
from service.ledger.application import Ledger
from service.reads.read_side import ReadSide
from service.web import i18n
from service.web.activity import SessionActivity
from service.web.security import csrf_token
from service.web.sessions import PortalSessions

SESSION_COOKIE = "subledger_session"
_building = threading.Lock()


class SignInRequired(Exception):
    """No open session: the page explains how to sign in."""


def portal_sessions(state: State) -> PortalSessions:
    """The sessions service over the app's ledger, made on first use (and again if the
    ledger was replaced, as tests do)."""
    ledger: Ledger = state.ledger
    with _building:
        sessions: PortalSessions | None = getattr(state, "portal_sessions", None)
        if sessions is None or sessions.ledger is not ledger:
            read_side: ReadSide = state.read_side
            activity = SessionActivity(read_side.settings, read_side.readers)
            sessions = PortalSessions(
                ledger,
                activity,
                getattr(state, "session_policy", None),
                getattr(state, "real_time", None),
            )
            state.portal_sessions = sessions
    return sessions


@dataclass(frozen=True)
class Visit:
    """One request to the web app: the visitor, the language, the services."""

    request: Request
    language: str
    principal: Principal | None
    session_cookie: str | None

    @property
    def ledger(self) -> Ledger:
        ledger: Ledger = self.request.app.state.ledger
        return ledger

    @property
    def read_side(self) -> ReadSide:
        read_side: ReadSide = self.request.app.state.read_side
        return read_side

    @property
    def sessions(self) -> PortalSessions:
        return portal_sessions(self.request.app.state)

    @property
    def csrf(self) -> str:
        return csrf_token(self.session_cookie) if self.session_cookie else ""

    def may(self, level: Access) -> bool:
        """Whether the visitor's role is allowed at ``level`` (access.py's own table);
        Manage Billing is checked on the account, as for the API."""
        return self.principal is not None and self.principal.role in ALLOWED[level]

    @property
    def translations(self) -> Any:
        return i18n.translations(self.language)

    def gettext(self, message: str) -> str:
        return str(self.translations.gettext(message))


def visit(request: Request) -> Visit:
    language = i18n.negotiate(
        request.cookies.get(i18n.LANGUAGE_COOKIE), request.headers.get("accept-language")
    )
    cookie = request.cookies.get(SESSION_COOKIE)
    principal = portal_sessions(request.app.state).verify(cookie) if cookie else None
    if principal is not None:
        request.state.principal = principal  # named in the request log, as for tokens
    return Visit(request, language, principal, cookie if principal else None)


def signed_in(current: Annotated[Visit, Depends(visit)]) -> Visit:
    if current.principal is None:
        raise SignInRequired()
    return current


AnyVisit = Annotated[Visit, Depends(visit)]
SignedIn = Annotated[Visit, Depends(signed_in)]
