"""The live stream against a real server, on both stores: a client cut off in the middle
resumes with Last-Event-ID and, in the end, has exactly what the pull feed says; new
events arrive promptly, idle streams carry heartbeats, and a client's disconnection ends
its stream on the server."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from adapters.store import StoreSettings
from service.ledger.application import Ledger
from tests.e2e.conftest import Seed, seed_ledger
from tests.e2e.live_server import LiveServer, sse_messages

STREAM = "/v1/events/stream"


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


def client(server: LiveServer, seed: Seed, who: str) -> httpx.Client:
    return httpx.Client(
        base_url=server.url, headers={"Authorization": f"Bearer {seed.tokens[who]}"}, timeout=10
    )


def add_contacts(staff: httpx.Client, seed: Seed, names: list[str]) -> None:
    for name in names:
        response = staff.post(
            f"/v1/accounts/{seed.acme.account_id}/contacts",
            json={"role": "technical", "name": name, "email": f"{name}@acme.example"},
        )
        assert response.status_code == 201, response.text


def pull_everything(reader: httpx.Client) -> list[dict[str, Any]]:
    events: list[dict[str, Any]] = []
    after = 0
    while True:
        page = reader.get("/v1/events", params={"after": after, "limit": 5}).json()
        events += page["events"]
        after = page["next_after"]
        if page["caught_up"]:
            return events


def wait_for(condition: Any, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def test_a_stream_cut_off_and_resumed_with_last_event_id_equals_the_pull_feed(
    live: tuple[LiveServer, Seed, Ledger],
) -> None:
    server, seed, ledger = live
    reader, staff = client(server, seed, "integration"), client(server, seed, "billing_staff")
    received: list[dict[str, str]] = []

    with reader.stream("GET", STREAM) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        for message in sse_messages(response.iter_lines()):
            if "data" in message:
                received.append(message)
            if len(received) == 7:
                break  # the client goes away in the middle of the log
    add_contacts(staff, seed, ["dora", "emil", "fay"])  # written while it is away

    heartbeats = 0
    written_at: float | None = None
    with reader.stream("GET", STREAM, headers={"Last-Event-ID": received[-1]["id"]}) as response:
        for message in sse_messages(response.iter_lines()):
            if "data" in message:
                received.append(message)
                if written_at is not None and json.loads(message["data"])["subject"] == str(
                    seed.acme.account_id
                ):
                    assert time.monotonic() - written_at < 3.0  # prompt (polled every 0.1 s)
                    if int(message["id"]) == ledger.head_position():
                        break
            elif message.get("comment") == "heartbeat" and written_at is None:
                heartbeats += 1  # idle: caught up with everything written so far
                if heartbeats == 2:
                    written_at = time.monotonic()
                    add_contacts(staff, seed, ["gil", "hana"])  # written while it listens

    streamed = [json.loads(m["data"]) for m in received]
    assert [int(m["id"]) for m in received] == [int(e["sequence"]) for e in streamed]
    assert streamed == pull_everything(reader)
    assert len({e["id"] for e in streamed}) == len(streamed)

    # Each disconnection ended its stream on the server (the request log line is
    # written when the response ends), long before a stream's lifetime.
    wait_for(lambda: len(server.requests(STREAM)) == 2)
    for logged in server.requests(STREAM):
        assert logged["status"] == 200
        assert logged["duration_ms"] < 30_000


def test_a_customer_stream_on_a_real_server_holds_only_its_account(
    live: tuple[LiveServer, Seed, Ledger],
) -> None:
    server, seed, _ = live
    admin = client(server, seed, "admin")
    expected = pull_everything(admin)
    received = []
    with admin.stream("GET", STREAM) as response:
        for message in sse_messages(response.iter_lines()):
            if "data" in message:
                received.append(json.loads(message["data"]))
            elif received:  # a heartbeat after the events: caught up
                break
    assert received == expected
    assert {e["subject"] for e in received} >= {str(seed.acme.account_id)}
    assert str(seed.other.account_id) not in {e["subject"] for e in received}
