"""What every page is sent with, and the checks every form passes.

- A strict Content-Security-Policy: scripts and styles only from the app's own files
  (no inline code at all, so no nonce is needed), no frames, forms posting only here.
- CSRF: each form carries a synchronizer token bound to the session, an HMAC of the
  session's secret (which only the session cookie holds), so nothing is stored for it;
  a form posted from another origin (``Origin`` or ``Sec-Fetch-Site`` say so) is refused
  too, which also covers the sign-in form, posted before there is a session.
"""

from __future__ import annotations

import hashlib
import hmac

from starlette.types import ASGIApp, Message, Receive, Scope, Send

POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "font-src 'self'; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; "
    "base-uri 'none'"
)
HEADERS = {
    "content-security-policy": POLICY,
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
    "referrer-policy": "same-origin",
    "cross-origin-opener-policy": "same-origin",
    "permissions-policy": "camera=(), microphone=(), geolocation=(), payment=()",
}


class SecurityHeaders:
    """Adds HEADERS (and HSTS under https) to every response of the web app; a route
    may set its own value of one of them (the sign-in page sends no Referer at all)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        extra = dict(HEADERS)
        if scope.get("scheme") == "https":
            extra["strict-transport-security"] = "max-age=31536000"

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                present = {key.decode().lower() for key, _ in message.get("headers", [])}
                message["headers"] = [
                    *message.get("headers", []),
                    *((k.encode(), v.encode()) for k, v in extra.items() if k not in present),
                ]
            await send(message)

        await self.app(scope, receive, send_with_headers)


def csrf_token(session_cookie: str) -> str:
    return hmac.new(session_cookie.encode(), b"subledger:csrf", hashlib.sha256).hexdigest()


def csrf_valid(session_cookie: str | None, presented: str | None) -> bool:
    if not session_cookie or not presented:
        return False
    return hmac.compare_digest(csrf_token(session_cookie), presented)


def same_origin(origin: str | None, fetch_site: str | None, host_url: str) -> bool:
    """False for a request a browser says came from another site."""
    if fetch_site is not None and fetch_site not in ("same-origin", "none"):
        return False
    return origin is None or origin == "null" or origin.rstrip("/") == host_url.rstrip("/")
