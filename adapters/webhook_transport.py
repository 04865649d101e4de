"""The webhook transport: one HTTP POST, its outcome and how long it took.

Redirects are not followed (a 3xx is a failed delivery: the endpoint should be
registered at its final URL), and the response body is never read: only the status
code says whether the receiver took the event.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import httpx

USER_AGENT = "subledger-webhooks/1"


@dataclass(frozen=True)
class Sent:
    """What came of one attempt: a status code, or the error that prevented one."""

    status_code: int | None
    error: str | None
    duration: float  # seconds

    @property
    def acknowledged(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


class HttpWebhookTransport:
    def __init__(self, timeout: float) -> None:
        self._client = httpx.Client(
            timeout=httpx.Timeout(timeout),
            follow_redirects=False,
            headers={"User-Agent": USER_AGENT},
        )

    def post(self, url: str, body: bytes, headers: dict[str, str]) -> Sent:
        started = time.monotonic()
        try:
            with self._client.stream("POST", url, content=body, headers=headers) as response:
                status = response.status_code
        except (httpx.HTTPError, httpx.InvalidURL) as error:
            reason = str(error).strip() or "no detail"
            return Sent(None, f"{type(error).__name__}: {reason}"[:500], _since(started))
        return Sent(status, None, _since(started))

    def close(self) -> None:
        self._client.close()


def _since(started: float) -> float:
    return time.monotonic() - started
