"""The webhook transport: one HTTP POST, its outcome and how long it took.

Redirects are not followed (a 3xx is a failed delivery: the endpoint should be
registered at its final URL), and the response body is never read: only the status
code says whether the receiver took the event. Every connection goes to an address the
``Destinations`` permit, checked when it is made (``webhook_destinations``), and never
through a proxy named by the environment (it would connect for us, unchecked). A failed
attempt is logged by its error's class alone (``ConnectTimeout``,
``DestinationRefused``...): the exception's text can carry what the receiver or the
network said, and the delivery log is read by operators through the API.
"""

from __future__ import annotations

import time
import typing
from dataclasses import dataclass

import httpcore
import httpx

from adapters.webhook_destinations import DestinationRefused, Destinations

USER_AGENT = "subledger-webhooks/1"


@dataclass(frozen=True)
class Sent:
    """What came of one attempt: a status code, or the class of error that prevented one."""

    status_code: int | None
    error: str | None
    duration: float  # seconds

    @property
    def acknowledged(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


class _CheckedBackend(httpcore.SyncBackend):
    """Connects only to the addresses ``destinations`` permit for the host asked for."""

    def __init__(self, destinations: Destinations) -> None:
        self._destinations = destinations

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: typing.Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.NetworkStream:
        failure: httpcore.ConnectError | None = None
        for address in self._destinations.addresses(host, port):
            try:
                return super().connect_tcp(
                    str(address), port, timeout, local_address, socket_options
                )
            except httpcore.ConnectError as error:
                failure = error
        assert failure is not None  # addresses() returns at least one
        raise failure


class _CheckedTransport(httpx.HTTPTransport):
    def __init__(self, destinations: Destinations) -> None:
        super().__init__(trust_env=False)
        # httpx builds its connection pool without a way to name the network backend
        self._pool = httpcore.ConnectionPool(
            ssl_context=httpx.create_ssl_context(trust_env=False),
            network_backend=_CheckedBackend(destinations),
        )


class HttpWebhookTransport:
    def __init__(self, timeout: float, destinations: Destinations) -> None:
        self._client = httpx.Client(
            timeout=httpx.Timeout(timeout),
            follow_redirects=False,
            headers={"User-Agent": USER_AGENT},
            transport=_CheckedTransport(destinations),
            trust_env=False,
        )

    def post(self, url: str, body: bytes, headers: dict[str, str]) -> Sent:
        started = time.monotonic()
        try:
            with self._client.stream("POST", url, content=body, headers=headers) as response:
                status = response.status_code
        except (httpx.HTTPError, httpx.InvalidURL, DestinationRefused) as error:
            return Sent(None, type(error).__name__, _since(started))
        return Sent(status, None, _since(started))

    def close(self) -> None:
        self._client.close()


def _since(started: float) -> float:
    return time.monotonic() - started
