"""ASGI middleware: request ids, the one-line request log and the request metrics, and the
body guard.

Both are plain ASGI so that they see every response, including the ones FastAPI's
exception handlers produce, and so that the body guard can refuse a body before any
of it is parsed.
"""

from __future__ import annotations

import json
import re
import time
import uuid
from typing import TypeGuard

import structlog
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from service.http.metrics import observe_request
from service.http.problems import PROBLEM_JSON

MAX_BODY_BYTES = 64 * 1024
_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,100}$")


def is_valid_id(offered: str | None) -> TypeGuard[str]:
    """Whether a caller's request or correlation id may be recorded as given (else it is
    replaced): it goes into every event, the logs and the exports."""
    return bool(offered and _REQUEST_ID.match(offered))


_JSON_TYPES = ("application/json", "application/merge-patch+json")
FORM_TYPE = "application/x-www-form-urlencoded"

log = structlog.get_logger("subledger.http")


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", []):
        if key == name:
            return str(value.decode("latin-1"))
    return None


class RequestLog:
    """Give each request an id (X-Request-ID, or a new one), echo it, and log one line."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        offered = _header(scope, b"x-request-id")
        request_id = offered if is_valid_id(offered) else uuid.uuid4().hex
        scope.setdefault("state", {})["request_id"] = request_id
        started = time.perf_counter()
        status = 500

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [
                    *message.get("headers", []),
                    (b"x-request-id", request_id.encode()),
                ]
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            principal = scope.get("state", {}).get("principal")
            route = scope.get("route")
            seconds = time.perf_counter() - started
            # A mounted app's route (the web app's) is named with its mount's prefix.
            template = scope.get("root_path", "") + route.path if route is not None else None
            observe_request(scope["method"], template, status, seconds)
            log.info(
                "request",
                request_id=request_id,
                method=scope["method"],
                route=getattr(route, "path", scope["path"]),
                status=status,
                actor=principal.actor_id if principal else None,
                role=principal.role.value if principal else None,
                duration_ms=round(seconds * 1000, 2),
            )


async def _refuse(send: Send, status: int, code: str, title: str, detail: str, path: str) -> None:
    body = json.dumps(
        {
            "type": f"/problems/{code}",
            "title": title,
            "status": status,
            "detail": detail,
            "instance": path,
        }
    ).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", PROBLEM_JSON.encode()),
                (b"content-length", str(len(body)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


class BodyGuard:
    """Refuse bodies over MAX_BODY_BYTES (413) and bodies that are not JSON (415); the
    web app's forms (under ``form_prefix``) may be URL-encoded instead."""

    def __init__(
        self, app: ASGIApp, limit: int = MAX_BODY_BYTES, form_prefix: str | None = None
    ) -> None:
        self.app = app
        self.limit = limit
        self.form_prefix = form_prefix

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] in ("GET", "HEAD", "OPTIONS"):
            await self.app(scope, receive, send)
            return
        path = scope["path"]
        length = _header(scope, b"content-length")
        if length is not None and length.isdigit() and int(length) > self.limit:
            await _refuse(
                send,
                413,
                "body-too-large",
                "Content Too Large",
                f"the body exceeds {self.limit} bytes",
                path,
            )
            return
        chunks: list[bytes] = []
        size = 0
        more = True
        while more:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.limit:
                await _refuse(
                    send,
                    413,
                    "body-too-large",
                    "Content Too Large",
                    f"the body exceeds {self.limit} bytes",
                    path,
                )
                return
            chunks.append(chunk)
            more = message.get("more_body", False)
        body = b"".join(chunks)
        content_type = (_header(scope, b"content-type") or "").split(";")[0].strip().lower()
        accepted: tuple[str, ...] = _JSON_TYPES
        if self.form_prefix and path.startswith(self.form_prefix + "/"):
            accepted = (*_JSON_TYPES, FORM_TYPE)
        if body and content_type not in accepted:
            await _refuse(
                send,
                415,
                "unsupported-media-type",
                "Unsupported Media Type",
                "send the body as application/json",
                path,
            )
            return
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if replayed:
                return await receive()
            replayed = True
            return {"type": "http.request", "body": body, "more_body": False}

        await self.app(scope, replay, send)
