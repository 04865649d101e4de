"""RFC 9457 problem details: every error the API returns, and how exceptions map to them."""

from __future__ import annotations

from http import HTTPStatus
from typing import Any

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from starlette.exceptions import HTTPException as StarletteHTTPException

from domain import errors as domain
from service.ledger.errors import ConcurrencyConflict, PreconditionFailed

PROBLEM_JSON = "application/problem+json"


class FieldError(BaseModel):
    field: str
    message: str


class Problem(BaseModel):
    type: str
    title: str
    status: int
    detail: str
    instance: str | None = None
    errors: list[FieldError] | None = None
    permission: str | None = None
    decline_code: str | None = None  # a payment the provider declined: its code
    failing_projections: list[str] | None = None  # not ready: the read models failing


class ApiError(Exception):
    """An error raised by the HTTP layer itself (authentication, permission, headers)."""

    def __init__(
        self,
        status: int,
        code: str,
        title: str,
        detail: str,
        headers: dict[str, str] | None = None,
        **extra: Any,
    ) -> None:
        super().__init__(detail)
        self.status, self.code, self.title, self.detail = status, code, title, detail
        self.headers = headers or {}
        self.extra = extra


def unauthorized(detail: str) -> ApiError:
    return ApiError(
        401,
        "unauthorized",
        "Unauthorized",
        detail,
        {"WWW-Authenticate": 'Bearer realm="subledger"'},
    )


def forbidden(detail: str, permission: str | None = None) -> ApiError:
    return ApiError(403, "forbidden", "Forbidden", detail, permission=permission)


def problem(
    status: int,
    code: str,
    title: str,
    detail: str,
    request: Request | None = None,
    headers: dict[str, str] | None = None,
    **extra: Any,
) -> JSONResponse:
    body = Problem(
        type=f"/problems/{code}",
        title=title,
        status=status,
        detail=detail,
        instance=request.url.path if request is not None else None,
        **extra,
    )
    return JSONResponse(
        body.model_dump(exclude_none=True),
        status_code=status,
        media_type=PROBLEM_JSON,
        headers=headers,
    )


def status_of(kind: type[domain.DomainError]) -> tuple[int, str]:
    """The status and title of a refusal, decided by its class alone: one rule per kind
    (docs/errors.md)."""
    if issubclass(kind, domain.NotFound):
        return 404, "Not Found"
    if issubclass(kind, PreconditionFailed):
        return 412, "Precondition Failed"
    if issubclass(kind, domain.InvalidValue | domain.ReasonRequired):
        return 422, "Unprocessable Content"
    if issubclass(kind, ConcurrencyConflict):
        return 409, "Conflict"
    return 409, "Refused by the ledger"


async def on_domain_error(request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, domain.DomainError)
    status, title = status_of(type(error))
    return problem(status, error.code, title, str(error), request)


async def on_api_error(request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, ApiError)
    return problem(
        error.status, error.code, error.title, error.detail, request, error.headers, **error.extra
    )


async def on_validation_error(request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, RequestValidationError)
    fields = [
        FieldError(field=".".join(str(part) for part in e["loc"]), message=e["msg"])
        for e in error.errors()
    ]
    return problem(
        422,
        "validation-error",
        "Unprocessable Content",
        "the request is not valid: see errors",
        request,
        errors=fields,
    )


# The framework's own refusals (routing, unreadable bodies); any other status it might
# answer with is an "http-error" (docs/errors.md).
HTTP_ERROR_CODES = {400: "bad-request", 404: "not-found", 405: "method-not-allowed"}


async def on_http_error(request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, StarletteHTTPException)
    code = HTTP_ERROR_CODES.get(error.status_code, "http-error")
    return problem(
        error.status_code,
        code,
        HTTPStatus(error.status_code).phrase,
        str(error.detail),
        request,
        dict(error.headers or {}),
    )


async def on_provider_unavailable(request: Request, error: Exception) -> JSONResponse:
    return problem(
        503,
        "payment-provider-unavailable",
        "Service Unavailable",
        "the payment provider cannot be reached: nothing was recorded; retry shortly with the "
        "same Idempotency-Key",
        request,
        {"Retry-After": "5"},
    )


async def on_unexpected(request: Request, error: Exception) -> JSONResponse:
    return problem(500, "internal-error", "Internal Server Error", "an unexpected error", request)


# Declared on every route so that the OpenAPI document names each problem it can answer.
PROBLEM_RESPONSES: dict[int | str, dict[str, Any]] = {
    status: {"model": Problem, "content": {PROBLEM_JSON: {}}, "description": description}
    for status, description in {
        400: "The body cannot be read (e.g. not UTF-8)",
        401: "No valid bearer token",
        403: "The token lacks the permission",
        404: "No such resource (or not visible to this token)",
        409: "Refused by the ledger",
        412: "If-Match names a stale version",
        413: "Body too large",
        415: "Body is not JSON",
        422: "Invalid request",
        429: "Too many at once (event streams of a token, openings of a share link)",
        503: "Store (or payment provider) unavailable",
    }.items()
}
