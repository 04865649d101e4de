"""Sign-in links to the web app, made for someone by billing staff or an operator.

As a billing portal's "portal session" is: the answer holds a URL that signs its holder
in once, for a short time (``service/web/sessions.py``). Billing staff make links for a
customer's users (to help them); operators for anyone with pages in the portal.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Request, Response, status
from pydantic import BaseModel, Field, StringConstraints

from service.access.tokens import Role
from service.http.access import Access, access_extra
from service.http.deps import ContextDep, LedgerDep, PrincipalDep
from service.http.problems import PROBLEM_RESPONSES, ApiError, forbidden
from service.http.responses import written
from service.http.schemas.common import Body, UserId, safe
from service.web.cli import link_url
from service.web.sign_in_links import SignInLinks, may_issue

router = APIRouter(prefix="/v1/portal-sessions", tags=["portal"], responses=PROBLEM_RESPONSES)


class PortalSessionIn(Body):
    account_id: UUID | None = Field(None, description="A customer's account (with user_id)")
    user_id: UserId | None = Field(None, description="The user of that account to sign in")
    role: Role | None = Field(
        None, description="A staff or auditor role, for a link bound to no account"
    )
    label: Annotated[str, StringConstraints(max_length=100), safe(100)] = ""
    expires_in_minutes: int = Field(15, ge=1, le=1440)


class PortalSessionOut(BaseModel):
    id: UUID
    role: Role
    account_id: UUID | None
    user_id: str | None
    expires_at: datetime
    url: str = Field(description="The sign-in link: works once, until expires_at; shown once")


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    openapi_extra=access_extra(Access.PORTAL),
    summary="A single-use sign-in link to the web app (shown once)",
)
def create_portal_session(
    body: PortalSessionIn,
    ledger: LedgerDep,
    principal: PrincipalDep,
    ctx: ContextDep,
    request: Request,
    response: Response,
) -> PortalSessionOut:
    links = SignInLinks(ledger, request.app.state.real_time)
    role = links.link_role(body.role, body.account_id, body.user_id)
    if not may_issue(principal.role, role):
        raise forbidden(f"the {principal.role.value} role may not sign in a {role.value}")
    issued = links.issue(
        ctx,
        principal.role,
        body.role,
        body.account_id,
        body.user_id,
        body.label,
        timedelta(minutes=body.expires_in_minutes),
    )
    if issued.receipt.replayed:
        # The first answer held the link, which is never stored: it cannot be repeated.
        raise ApiError(
            409,
            "portal-session-already-created",
            "Conflict",
            f"this request already created sign-in link {issued.session_id}; it was shown "
            "once and is not kept. Create another.",
        )
    written(response, issued.receipt, ledger)
    # From the configured public URL, never the request's Host (as share links are).
    url = link_url(request.app.state.public_url, issued)
    return PortalSessionOut(
        id=issued.session_id,
        role=role,
        account_id=body.account_id,
        user_id=body.user_id,
        expires_at=issued.expires_at,
        url=url,
    )
