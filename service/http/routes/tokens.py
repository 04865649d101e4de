"""API tokens, managed by operators."""

from __future__ import annotations

from uuid import UUID

from fastapi import APIRouter, Response, status

from service.access.tokens import ApiToken
from service.http.access import Access, access_extra, require
from service.http.deps import ContextDep, PrincipalDep, TokensDep
from service.http.problems import PROBLEM_RESPONSES, ApiError
from service.http.responses import written
from service.http.schemas.tokens import TokenIn, TokenIssuedOut, TokenOut

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
    if issued.receipt.replayed:
        # The first answer held the secret, which is never stored: it cannot be repeated.
        raise ApiError(
            409,
            "token-already-issued",
            "Conflict",
            f"this request already created token {issued.token_id}; its secret was shown "
            "once and is not kept. Revoke that token if the secret was lost.",
        )
    written(response, issued.receipt, tokens.ledger)
    token: ApiToken = tokens.ledger.repository.get(issued.token_id, version=issued.receipt.version)
    return TokenIssuedOut(**TokenOut.model_validate(token).model_dump(), token=issued.token)


@router.get(
    "", openapi_extra=access_extra(Access.OPERATOR), summary="All tokens (never their secrets)"
)
def list_tokens(tokens: TokensDep, principal: PrincipalDep) -> list[TokenOut]:
    require(principal, Access.OPERATOR)
    return [TokenOut.model_validate(t) for t in tokens.all()]


@router.delete("/{token_id}", openapi_extra=access_extra(Access.OPERATOR), summary="Revoke a token")
def revoke_token(
    token_id: UUID, tokens: TokensDep, principal: PrincipalDep, ctx: ContextDep, response: Response
) -> TokenOut:
    require(principal, Access.OPERATOR)
    receipt = tokens.revoke(ctx, token_id)
    written(response, receipt, tokens.ledger)
    return TokenOut.model_validate(tokens.ledger.repository.get(token_id, version=receipt.version))
