"""Posted forms: the CSRF check, the command context, and refusals shown by the form.

Every form carries an idempotency key, made when the form is rendered: the command
runs with it exactly as an API request with an ``Idempotency-Key`` does, so a double
click, or a form sent again from the browser's history, replays the first answer and
writes nothing new. The request's fingerprint is made of its fields, so the same key
with other values is refused, as over the API.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, TypeVar

from fastapi import Depends, Request
from fastapi.responses import Response
from pydantic import BaseModel, ValidationError

from domain.errors import DomainError
from domain.payment_provider import PaymentProviderUnavailable
from service.http.problems import ApiError
from service.ledger.context import CommandContext
from service.web.deps import SignedIn, Visit
from service.web.refusals import Refusal, refusal, refusal_of
from service.web.security import csrf_valid, same_origin

M = TypeVar("M", bound=BaseModel)
KEY_FIELD = "idempotency_key"
UNSIGNED = ("csrf", KEY_FIELD)  # not part of what the request asks


class CsrfRefused(Exception):
    """A form without this session's token, or posted from another site."""


def new_key() -> str:
    return uuid.uuid4().hex


def from_this_site(request: Request) -> bool:
    return same_origin(
        request.headers.get("origin"),
        request.headers.get("sec-fetch-site"),
        f"{request.url.scheme}://{request.url.netloc}",
    )


@dataclass(frozen=True)
class Posted:
    visit: Visit
    fields: dict[str, str]
    ctx: CommandContext

    def text(self, name: str, default: str = "") -> str:
        return self.fields.get(name, default).strip()

    def model(self, model: type[M], **values: object) -> M:
        """The API's own request model, from the form: the same bounds and formats as
        over the API (an empty field is left to the model's default)."""
        return model.model_validate({k: v for k, v in values.items() if v not in ("", None)})


async def posted(request: Request, current: SignedIn) -> Posted:
    form = await request.form()
    items = [(k, v) for k, v in form.multi_items() if isinstance(v, str)]
    fields = dict(items)
    if not from_this_site(request) or not csrf_valid(current.session_cookie, fields.get("csrf")):
        raise CsrfRefused()
    signed = sorted((k, v) for k, v in items if k not in UNSIGNED)
    fingerprint = hashlib.sha256(
        f"POST {request.url.path}\n{json.dumps(signed)}".encode()
    ).hexdigest()
    assert current.principal is not None
    ctx = CommandContext(
        actor_id=current.principal.actor_id,
        actor_role=current.principal.role.value,
        request_id=request.state.request_id,
        idempotency_key=fields.get(KEY_FIELD) or None,
        fingerprint=fingerprint,
    )
    return Posted(current, fields, ctx)


Form = Annotated[Posted, Depends(posted)]

REFUSED = (DomainError, ApiError, PaymentProviderUnavailable)


def invalid(error: ValidationError) -> Refusal:
    """A form the API's request model refuses: each field and why, as pydantic says it."""
    detail = "; ".join(
        f"{'.'.join(str(part) for part in e['loc'])}: {e['msg']}" for e in error.errors()
    )
    return refusal(422, "validation-error", detail)


CAUGHT = (ValidationError, *REFUSED)


def refusal_for(error: Exception) -> Refusal:
    """A form's invalid field or a command's refusal, as the page shows it."""
    return invalid(error) if isinstance(error, ValidationError) else refusal_of(error)


def attempt(action: Callable[[], Response], refused: Callable[[Refusal], Response]) -> Response:
    """Run a form's action; a refusal is shown by ``refused`` (the form again, with the
    problem beside it). A refused command wrote nothing."""
    try:
        return action()
    except CAUGHT as error:
        found = refusal_for(error)
    answer = refused(found)
    answer.status_code = found.status
    return answer
