"""How ``subledger serve`` runs uvicorn: limits at the socket, and whom to believe about
a client's address.

- ``SUBLEDGER_LIMIT_CONCURRENCY``: connections and requests a process serves at once;
  past it uvicorn answers 503 at once instead of queueing without bound (each open
  event stream holds one).
- ``SUBLEDGER_HEADER_TIMEOUT_SECONDS``: a client must send a request's headers within
  this long of connecting (or of starting the next request on a kept-alive connection),
  or the connection is closed. uvicorn has no such timeout of its own: a client sending
  its headers a byte at a time would hold a connection for ever ("slowloris").
- ``SUBLEDGER_FORWARDED_ALLOW_IPS``: the proxies whose ``X-Forwarded-For`` and
  ``X-Forwarded-Proto`` are believed (uvicorn's ``forwarded_allow_ips``: addresses,
  networks, or ``*``). Unset, none is: uvicorn would otherwise believe any client
  connecting from loopback, and a share link's recorded openings and the limits per
  address would take whatever address such a client claims.
"""

from __future__ import annotations

import asyncio
import functools
from dataclasses import dataclass
from typing import Any

import h11
from uvicorn.protocols.http.h11_impl import H11Protocol

from service.config.settings import Settings, load_settings

PROTOCOL = "service.http.server:HeaderTimeoutProtocol"


class ServeMisconfigured(ValueError):
    pass


@dataclass(frozen=True)
class ServeSettings:
    limit_concurrency: int = 256
    header_timeout: float = 10.0
    forwarded_allow_ips: str = ""  # none: X-Forwarded-For is never believed

    def __post_init__(self) -> None:
        if self.limit_concurrency < 1 or self.header_timeout <= 0:
            raise ServeMisconfigured(
                "SUBLEDGER_LIMIT_CONCURRENCY and SUBLEDGER_HEADER_TIMEOUT_SECONDS must be positive"
            )

    @classmethod
    def from_settings(cls, settings: Settings) -> ServeSettings:
        return cls(
            settings.limit_concurrency,
            settings.header_timeout_seconds,
            settings.forwarded_allow_ips,
        )

    def uvicorn_options(self) -> dict[str, Any]:
        return {
            "limit_concurrency": self.limit_concurrency,
            "http": PROTOCOL,  # reads header_timeout from the environment, in each worker
            "proxy_headers": bool(self.forwarded_allow_ips),
            "forwarded_allow_ips": self.forwarded_allow_ips or None,
            # uvicorn's supervisor kills a worker that does not answer its ping within
            # this (default 5 s) and starts another; on a loaded host a worker still
            # opening the store missed it, and with two workers the second never came up
            "timeout_worker_healthcheck": WORKER_HEALTHCHECK_SECONDS,
        }


WORKER_HEALTHCHECK_SECONDS = 30


@functools.cache
def _header_timeout() -> float:
    return load_settings().header_timeout_seconds


class HeaderTimeoutProtocol(H11Protocol):
    """uvicorn's HTTP/1.1 protocol, closing a connection whose request headers are not
    all in within the header timeout."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._header_timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._await_headers()

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        if self.conn.their_state is h11.IDLE:
            self._await_headers()  # a request has begun, its headers not yet complete
        else:
            self._stop_waiting()

    def connection_lost(self, exc: Exception | None) -> None:
        self._stop_waiting()
        super().connection_lost(exc)

    def _await_headers(self) -> None:
        if self._header_timer is None:
            self._header_timer = self.loop.call_later(_header_timeout(), self._headers_late)

    def _stop_waiting(self) -> None:
        if self._header_timer is not None:
            self._header_timer.cancel()
            self._header_timer = None

    def _headers_late(self) -> None:
        self._header_timer = None
        if self.conn.their_state is h11.IDLE and not self.transport.is_closing():
            self.transport.close()
