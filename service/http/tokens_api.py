"""API tokens, managed by operators."""

from __future__ import annotations

from uuid import UUID

from fastapi import APIRouter, Response, status

from service.http.access import Access, access_extra, require
from service.http.deps import ContextDep, PrincipalDep, TokensDep
from service.http.problems import PROBLEM_RESPONSES
from service.http.responses import written
from service.http.schemas import TokenIn, TokenIssuedOut, TokenOut
from service.ledger import Receipt

router = APIRouter(prefix="/v1/tokens", tags=["tokens"], responses=PROBLEM_RESPONSES)


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    openapi_extra=access_extra(Access.OPERATOR),
    summary="Create a token (shown once)",
)
def create_token(
    body: TokenIn, tokens: TokensDep, principal: PrincipalDep, ctx: ContextDep, response: Response
) -> TokenIssuedOut:
    require(principal, Access.OPERATOR)
    issued = tokens.issue(ctx, body.role, body.account_id, body.user_id, body.label)
    token = tokens.get(issued.token_id)
    written(response, Receipt(token.id, token.version, issued.position), tokens.ledger)
    return TokenIssuedOut(**TokenOut.of(token).model_dump(), token=issued.token)


@router.get(
    "", openapi_extra=access_extra(Access.OPERATOR), summary="All tokens (never their secrets)"
)
def list_tokens(tokens: TokensDep, principal: PrincipalDep) -> list[TokenOut]:
    require(principal, Access.OPERATOR)
    return [TokenOut.of(t) for t in tokens.all()]


@router.delete("/{token_id}", openapi_extra=access_extra(Access.OPERATOR), summary="Revoke a token")
def revoke_token(
    token_id: UUID, tokens: TokensDep, principal: PrincipalDep, ctx: ContextDep, response: Response
) -> TokenOut:
    require(principal, Access.OPERATOR)
    position = tokens.revoke(ctx, token_id)
    token = tokens.get(token_id)
    written(response, Receipt(token.id, token.version, position), tokens.ledger)
    return TokenOut.of(token)
