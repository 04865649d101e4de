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


IdempotencyKey = Annotated[
    str | None,
    Header(
        max_length=255,
        description="Retries with the same key and body return the first answer",
    ),
]
IfMatch = Annotated[
    str | None, Header(description="The ETag of the version this change is based on")
]


async def _fingerprint(request: Request) -> str:
    body = await request.body()
    try:
        canonical = json.dumps(json.loads(body), sort_keys=True) if body else ""
    except ValueError:
        canonical = body.decode("utf-8", "replace")
    return hashlib.sha256(f"{request.method} {request.url.path}\n{canonical}".encode()).hexdigest()


def _context(
    request: Request,
    principal: Principal,
    idempotency_key: str | None,
    if_match: str | None,
    fingerprint: str,
) -> CommandContext:
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


async def get_context(
    request: Request,
    principal: Annotated[Principal, Depends(get_principal)],
    idempotency_key: IdempotencyKey = None,
    if_match: IfMatch = None,
) -> CommandContext:
    fingerprint = await _fingerprint(request)
    return _context(request, principal, idempotency_key, if_match, fingerprint)


class Caller:
    """A request's bearer token, checked in the worker thread that runs its command.

    ``get_principal`` reads the store (the token, so that a revocation takes effect at
    once), and a sync dependency costs a hand-off to a worker thread and back; a route
    that runs its command in a thread (``service.http.responses.in_a_thread``) checks its
    ``Command`` there first, so the token's check and the command share one hand-off.

    The refusals come in the same order as with ``PrincipalDep`` and ``ContextDep``: no
    token (401) at once, in ``get_caller``; then, in ``check``, an unknown or revoked
    token (401) and a role the route does not allow (403). What FastAPI refuses before
    the route runs (422: an invalid header, path or body) is answered only after the
    caller passed, as before (``on_invalid_request`` in service/http/app.py checks the
    caller first).
    """

    def __init__(self, request: Request, tokens: Tokens, presented: str) -> None:
        self.request, self.tokens, self.presented = request, tokens, presented
        self._principal: Principal | None = None

    def check(self) -> Principal:
        """The caller, or the refusal (reads the store)."""
        if self._principal is None:
            principal = authenticate(self.request, self.tokens, self.presented)
            require(principal, declared_level(self.request))
            self._principal = principal
        return self._principal


class Command:
    """A command's caller and context (``Caller``); ``check`` adds the If-Match header's
    refusal (412), which came after the caller's and before FastAPI's 422s."""

    def __init__(
        self,
        caller: Caller,
        idempotency_key: str | None,
        if_match: str | None,
        fingerprint: str,
    ) -> None:
        self.caller = caller
        self.idempotency_key = idempotency_key
        self.if_match = if_match
        self.fingerprint = fingerprint

    @property
    def ledger(self) -> Ledger:
        """The app's Ledger (for a route that needs no ``LedgerDep`` beside this: one
        dependency fewer for FastAPI to resolve)."""
        ledger: Ledger = self.caller.request.app.state.ledger
        return ledger

    def check(self) -> tuple[Principal, CommandContext]:
        """The caller and the command's context, or the refusal (reads the store)."""
        principal = self.caller.check()
        context = _context(
            self.caller.request, principal, self.idempotency_key, self.if_match, self.fingerprint
        )
        return principal, context


def unchecked(request: Request) -> Caller | Command | None:
    """What a request refused by FastAPI before its route ran has left to check first."""
    pending: Caller | Command | None = getattr(request.state, "unchecked", None)
    return pending


class _CallerBearer(HTTPBearer):
    """``bearer`` that answers with the request's ``Caller``: the token's scheme for the
    OpenAPI document as ``bearer`` gives it (same model, same name), and one dependency
    for FastAPI to resolve where ``get_caller`` on ``bearer`` were two (each about fifty
    Python calls a request)."""

    async def __call__(self, request: Request) -> Caller:  # type: ignore[override]
        credentials = await super().__call__(request)
        # The tokens are the app's, read here rather than through ``get_tokens``.
        tokens: Tokens = request.app.state.tokens
        presented = credentials.credentials if credentials else None
        if presented is None or not presented.strip():
            authenticate(request, tokens, presented)  # raises 401: no token (no store read)
        assert presented is not None
        caller = Caller(request, tokens, presented)
        request.state.unchecked = caller
        return caller


get_caller = _CallerBearer(
    auto_error=False, description=bearer.model.description, scheme_name=bearer.scheme_name
)


async def get_command(
    request: Request,
    caller: Annotated[Caller, Depends(get_caller)],
    idempotency_key: IdempotencyKey = None,
    if_match: IfMatch = None,
) -> Command:
    command = Command(caller, idempotency_key, if_match, await _fingerprint(request))
    request.state.unchecked = command
    return command


LedgerDep = Annotated[Ledger, Depends(get_ledger)]
TokensDep = Annotated[Tokens, Depends(get_tokens)]
PrincipalDep = Annotated[Principal, Depends(get_principal)]
ContextDep = Annotated[CommandContext, Depends(get_context)]
CommandDep = Annotated[Command, Depends(get_command)]
