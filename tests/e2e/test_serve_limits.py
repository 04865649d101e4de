"""``subledger serve`` limits what one client can hold at the socket, against a real
server: a connection that does not finish its request headers in time is closed (no
"slowloris"), and past ``limit_concurrency`` connections a request is answered 503 at
once instead of waiting without bound."""

from __future__ import annotations

import contextlib
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import uvicorn

from adapters.store import StoreSettings
from service.config.settings import SettingsInvalid, load_settings
from service.http.server import ServeMisconfigured, ServeSettings
from tests.e2e.live_server import LiveServer


@pytest.fixture
def sqlite_store(tmp_path: Path) -> StoreSettings:
    return StoreSettings(sqlite_path=str(tmp_path / "ledger.db"))  # no store is involved


def _connect(server: LiveServer) -> socket.socket:
    return socket.create_connection(("127.0.0.1", server.port), timeout=10)


def _closed_within(connection: socket.socket, seconds: float) -> bool:
    """Whether the server closes the connection within ``seconds`` (reading all it sends)."""
    connection.settimeout(seconds)
    try:
        while connection.recv(1024):
            pass
    except TimeoutError:
        return False
    return True


@pytest.fixture
def server(sqlite_store: StoreSettings, tmp_path: Path) -> Iterator[LiveServer]:
    live = LiveServer(
        sqlite_store,
        tmp_path / "server.log",
        SUBLEDGER_HEADER_TIMEOUT_SECONDS="1",
        SUBLEDGER_LIMIT_CONCURRENCY="4",
    )
    try:
        yield live
    finally:
        live.stop()


def _trickle_until_closed(connection: socket.socket, seconds: float) -> bool:
    """Send a request's headers a byte every 0.2 s, never finishing them; whether the
    server closed the connection within ``seconds``."""
    connection.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n")
    deadline = time.monotonic() + seconds
    try:
        while time.monotonic() < deadline:
            connection.sendall(b"X")
            time.sleep(0.2)
    except (BrokenPipeError, ConnectionResetError):
        return True
    return _closed_within(connection, 0.5)


def test_a_connection_that_trickles_its_headers_is_closed(server: LiveServer) -> None:
    with _connect(server) as silent, _connect(server) as trickling:
        started = time.monotonic()
        assert _trickle_until_closed(trickling, 4)
        assert time.monotonic() - started < 3
        assert _closed_within(silent, 1)  # connected, never sent a byte
    assert httpx.get(f"{server.url}/healthz").status_code == 200  # a prompt client is served


def test_past_the_concurrency_limit_a_request_is_answered_503_at_once(
    server: LiveServer,
) -> None:
    with contextlib.ExitStack() as held:
        for _ in range(4):  # the limit, held by connections that have begun a request
            connection = held.enter_context(_connect(server))
            connection.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n")
        refused = httpx.get(f"{server.url}/healthz", timeout=5)
        assert refused.status_code == 503
    deadline = time.monotonic() + 5
    while httpx.get(f"{server.url}/healthz").status_code != 200:
        assert time.monotonic() < deadline, "the limit was not released"
        time.sleep(0.1)


def test_the_settings_are_checked() -> None:
    def serve(environ: dict[str, str]) -> ServeSettings:
        return ServeSettings.from_settings(load_settings(environ))

    assert serve({}) == ServeSettings(256, 10.0, "")
    options = serve({}).uvicorn_options()
    assert options["proxy_headers"] is False  # X-Forwarded-For believed from nobody
    # uvicorn takes every option: a slow worker's ping is waited for 30 s, not 5
    config = uvicorn.Config("service.http.app:app_from_environment", workers=2, **options)
    assert config.timeout_worker_healthcheck == 30
    believed = serve({"SUBLEDGER_FORWARDED_ALLOW_IPS": "10.0.0.5"})
    assert believed.uvicorn_options()["forwarded_allow_ips"] == "10.0.0.5"
    for wrong in ({"SUBLEDGER_LIMIT_CONCURRENCY": "0"}, {"SUBLEDGER_HEADER_TIMEOUT_SECONDS": "x"}):
        with pytest.raises(SettingsInvalid, match=next(iter(wrong))):
            serve(wrong)
    with pytest.raises(ServeMisconfigured):
        ServeSettings(limit_concurrency=0)
