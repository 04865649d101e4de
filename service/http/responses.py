"""Headers every response carries: the resource version (ETag) and the log position; and
the answer of a command, rendered in the thread that ran it."""

from __future__ import annotations

from collections.abc import Callable

from fastapi import Response
from pydantic import BaseModel
from starlette.concurrency import run_in_threadpool

from service.ledger.application import Ledger, Receipt


def versioned(response: Response, version: int) -> None:
    response.headers["ETag"] = f'"{version}"'


def written(response: Response, receipt: Receipt, ledger: Ledger) -> None:
    """After a command: the subject's new ETag and the position of the command's last event
    (for a command that changed nothing, the log head: reads at it see the same state)."""
    versioned(response, receipt.version)
    position = receipt.position if receipt.position is not None else ledger.head_position()
    response.headers["Ledger-Position"] = str(position)
    if receipt.replayed:
        response.headers["Idempotent-Replayed"] = "true"


def answer(model: BaseModel, status_code: int = 200) -> Response:
    """``model`` as JSON, the bytes FastAPI writes for a route returning it (its response
    model's ``dump_json``, by alias), as a ready response: FastAPI neither validates nor
    serializes it again, which for a sync route is one more hand-off to a worker thread."""
    return Response(
        model.model_dump_json(by_alias=True), status_code, media_type="application/json"
    )


async def in_a_thread(command: Callable[[], Response]) -> Response:
    """Run a command and render its answer in one call to the thread pool.

    A sync route costs two hand-offs to a worker thread and back (its body, then FastAPI's
    validation of what it returned), each a wake-up of a worker and of the event loop
    under the GIL (ADR 0005); an async route awaiting this costs one. The route's
    ``response_model`` keeps the OpenAPI document as it was."""
    return await run_in_threadpool(command)
