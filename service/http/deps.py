"""FastAPI dependencies: the Ledger, the caller, and the context of each command."""

from __future__ import annotations

import hashlib
import json
from typing import Annotated

from fastapi import Depends, Header, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from service.access.tokens import Principal, Tokens
from service.http.access import authenticate, declared_level, require
from service.http.middleware import is_valid_id
from service.http.problems import ApiError
from service.ledger.application import Ledger
from service.ledger.context import CommandContext


async def get_ledger(request: Request) -> Ledger:
    ledger: Ledger = request.app.state.ledger
    return ledger


async def get_tokens(request: Request) -> Tokens:
    tokens: Tokens = request.app.state.tokens
    return tokens


bearer = HTTPBearer(auto_error=False, description="An API token: sl_...")


def get_principal(
    request: Request,
    tokens: Annotated[Tokens, Depends(get_tokens)],
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
) -> Principal:
    principal = authenticate(request, tokens, credentials.credentials if credentials else None)
    # The route's role check runs here, before the body is validated: a role that may not
    # call a route is told so (403), whatever it sent.
    require(principal, declared_level(request))
    return principal


def _if_match(header: str | None) -> int | None:
    if header is None or header.strip() == "*":
        return None
    tag = header.strip().removeprefix("W/").strip('"')
    if not tag.isdigit():
        raise ApiError(
            412, "precondition-failed", "Precondition Failed", 'If-Match must be an ETag like "3"'
        )
    return int(tag)


def _correlation_id(request: Request) -> str:
    """The caller's X-Correlation-ID, if it is a valid id; else none (the request id serves)."""
    offered = request.headers.get("x-correlation-id")
    return offered if is_valid_id(offered) else ""


async def get_context(
    request: Request,
    principal: Annotated[Principal, Depends(get_principal)],
    idempotency_key: Annotated[
        str | None,
        Header(
            max_length=255,
            description="Retries with the same key and body return the first answer",
        ),
    ] = None,
    if_match: Annotated[
        str | None, Header(description="The ETag of the version this change is based on")
    ] = None,
) -> CommandContext:
    body = await request.body()
    try:
        canonical = json.dumps(json.loads(body), sort_keys=True) if body else ""
    except ValueError:
        canonical = body.decode("utf-8", "replace")
    fingerprint = hashlib.sha256(
        f"{request.method} {request.url.path}\n{canonical}".encode()
    ).hexdigest()
    return CommandContext(
        actor_id=principal.actor_id,
        actor_role=principal.role.value,
        request_id=request.state.request_id,
        correlation_id=_correlation_id(request),
        expected_version=_if_match(if_match),
        idempotency_key=idempotency_key,
        fingerprint=fingerprint,
        caller=principal.caller,
    )


LedgerDep = Annotated[Ledger, Depends(get_ledger)]
TokensDep = Annotated[Tokens, Depends(get_tokens)]
PrincipalDep = Annotated[Principal, Depends(get_principal)]
ContextDep = Annotated[CommandContext, Depends(get_context)]
