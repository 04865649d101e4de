"""An open event stream outlives no permission, and a token holds only so many, against a
real server on both stores: revoking the token, or a customer's Manage Billing, ends the
stream within a heartbeat or two; the fifth stream of one token is refused with 429."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from adapters.store import StoreSettings
from service.access.tokens import Tokens
from service.ledger.application import Ledger
from tests.e2e.conftest import OPERATOR, STAFF, Seed, seed_ledger
from tests.e2e.live_server import LiveServer, sse_messages

STREAM = "/v1/events/stream"
HEARTBEAT = 0.5  # live_server.STREAM_ENV


@pytest.fixture
def live(
    store: StoreSettings, ledger: Ledger, tmp_path: Path
) -> Iterator[tuple[LiveServer, Seed, Ledger]]:
    seed = seed_ledger(ledger)
    server = LiveServer(store, tmp_path / "server.log")
    server.wait_for_projections()
    try:
        yield server, seed, ledger
    finally:
        server.stop()


def _headers(seed: Seed, who: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {seed.tokens[who]}"}


def _seconds_until_the_stream_ends(
    server: LiveServer,
    headers: dict[str, str],
    params: dict[str, str],
    take_away: Callable[[], None],
) -> float:
    """Open a stream, let it settle (two heartbeats), take the permission away, and time
    how long the stream goes on; fails after 10 s."""
    heartbeats = 0
    taken_at: float | None = None
    with httpx.stream(
        "GET", server.url + STREAM, headers=headers, params=params, timeout=15
    ) as response:
        assert response.status_code == 200, response.read()
        for message in sse_messages(response.iter_lines()):
            if message.get("comment") == "heartbeat":
                heartbeats += 1
                if heartbeats == 2:
                    take_away()
                    taken_at = time.monotonic()
            if taken_at is not None:
                assert time.monotonic() - taken_at < 10, "the stream outlived the permission"
    assert taken_at is not None, "the stream ended before anything was taken away"
    return time.monotonic() - taken_at


def test_revoking_the_token_ends_its_open_stream(live: tuple[LiveServer, Seed, Ledger]) -> None:
    server, seed, ledger = live
    revoke = lambda: Tokens(ledger).revoke(OPERATOR, seed.token_ids["spare"])  # noqa: E731
    lasted = _seconds_until_the_stream_ends(server, _headers(seed, "spare"), {}, revoke)
    assert lasted < 4 * HEARTBEAT + 1
    assert httpx.get(server.url + STREAM, headers=_headers(seed, "spare")).status_code == 401


def test_revoking_manage_billing_ends_a_customers_open_stream(
    live: tuple[LiveServer, Seed, Ledger],
) -> None:
    server, seed, ledger = live
    account = str(seed.acme.account_id)
    revoke = lambda: ledger.revoke_manage_billing(STAFF, seed.acme.account_id, "cara")  # noqa: E731
    lasted = _seconds_until_the_stream_ends(
        server, _headers(seed, "identity"), {"account": account}, revoke
    )
    assert lasted < 4 * HEARTBEAT + 1
    refused = httpx.get(server.url + STREAM, headers=_headers(seed, "identity"))
    assert refused.status_code == 403 and refused.json()["permission"] == "manage_billing"


def test_a_token_holds_at_most_four_streams_at_once(live: tuple[LiveServer, Seed, Ledger]) -> None:
    server, seed, _ = live
    headers = _headers(seed, "integration")
    with contextlib.ExitStack() as open_streams:
        client = open_streams.enter_context(httpx.Client(base_url=server.url, timeout=15))
        streams = [
            open_streams.enter_context(client.stream("GET", STREAM, headers=headers))
            for _ in range(4)
        ]
        assert [s.status_code for s in streams] == [200] * 4

        with client.stream("GET", STREAM, headers=headers) as refused:  # (a stream if let in)
            assert refused.status_code == 429
            assert refused.headers["content-type"].startswith("application/problem+json")
            assert refused.headers["retry-after"]
            refused.read()
        assert refused.json()["type"] == "/problems/too-many-streams"
        # another token is not held back by this one's streams
        with client.stream("GET", STREAM, headers=_headers(seed, "auditor")) as other:
            assert other.status_code == 200

        streams[0].close()  # the client goes away: its slot comes back
        deadline = time.monotonic() + 10
        while True:
            with client.stream("GET", STREAM, headers=headers) as again:
                if again.status_code == 200:
                    break
            assert time.monotonic() < deadline, "a closed stream kept its slot"
            time.sleep(0.2)
