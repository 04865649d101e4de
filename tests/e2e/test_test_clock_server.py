"""A real ``subledger serve --test-clock --workers 2`` on both stores: every worker
process answers the instant the clock was moved to (it is read from the store, never
cached), the clock survives a restart, and served without the option the same store's
test-clock routes answer 404 (ADR 0015)."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from adapters.store import StoreSettings
from service.clock.test_clock import use_test_clock
from service.ledger.application import Ledger
from tests.e2e.conftest import Seed, seed_ledger
from tests.e2e.live_server import LiveServer

CLOCK = "/v1/test-clock"
WORKERS = ["--test-clock", "--workers", "2"]


@pytest.fixture
def seeded(store: StoreSettings, ledger: Ledger) -> Seed:
    """The seed, with the store's test clock started at its time (5 January 2026, 09:00)."""
    seed = seed_ledger(ledger)
    use_test_clock(ledger)
    return seed


@pytest.fixture
def serve(store: StoreSettings, tmp_path: Path) -> Iterator[Callable[..., LiveServer]]:
    started: list[LiveServer] = []

    def start(*args: str) -> LiveServer:
        # The projection runner in a thread of one worker: /readyz tells the workers apart.
        server = LiveServer(
            store,
            tmp_path / f"server-{len(started)}.log",
            serve_args=args,
            SUBLEDGER_PROJECTIONS_RUNNER="thread",
        )
        started.append(server)
        return server

    yield start
    for server in started:
        if server.process.poll() is None:
            server.stop()


def as_(seed: Seed, server: LiveServer, who: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {seed.tokens[who]}"}


def started_workers(server: LiveServer) -> int:
    return server.log_path.read_text().count("Application startup complete")


def instants_seen(seed: Seed, server: LiveServer, workers: int = 2) -> set[str]:
    """The clock as answered by each worker: fresh connections until each process has
    answered (told apart by /readyz, where only the projection runner says "here"); a
    connection stays with one process, so its two answers come from the same one."""
    # uvicorn spawns its workers one interpreter each: on a loaded machine the second may
    # start well after the first answers. Asking before it has started proves nothing.
    deadline = time.monotonic() + 120
    while started_workers(server) < workers and time.monotonic() < deadline:
        time.sleep(0.5)
    log_tail = server.log_path.read_text()[-4000:]
    assert started_workers(server) >= workers, f"not all {workers} workers started:\n{log_tail}"
    seen: dict[str, set[str]] = {}
    # Which process accepts a connection is the kernel's choice: on a loaded machine one
    # may take many in a row, so keep trying for a while rather than a fixed count.
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        with httpx.Client(base_url=server.url, timeout=10) as fresh:
            runner = fresh.get("/readyz").json()["runner"]
            response = fresh.get(CLOCK, headers=as_(seed, server, "auditor"))
            assert response.status_code == 200, response.text
            seen.setdefault(runner, set()).add(response.json()["now"])
        if len(seen) == min(workers, 2):
            break
    assert len(seen) == min(workers, 2), f"only {set(seen)} answered"
    return set().union(*seen.values())


def test_every_worker_agrees_on_the_moved_clock_and_a_restart_keeps_it(
    seeded: Seed, serve: Callable[..., LiveServer]
) -> None:
    server = serve(*WORKERS)
    server.wait_for_projections()  # one worker is elected to run them: "here"
    assert instants_seen(seeded, server) == {"2026-01-05T09:00:00Z"}

    moved = httpx.post(
        f"{server.url}{CLOCK}",
        json={"advance": "P1M"},
        headers=as_(seeded, server, "billing_staff"),
        timeout=60,
    )
    assert moved.status_code == 200, moved.text
    assert moved.json()["now"] == "2026-02-05T09:00:00Z"
    assert {a["kind"] for a in moved.json()["actions"]} == {"overdue"}  # the seed's invoices
    assert instants_seen(seeded, server) == {"2026-02-05T09:00:00Z"}
    server.stop()

    restarted = serve("--test-clock")
    restarted.wait_for_projections()
    assert instants_seen(seeded, restarted, workers=1) == {"2026-02-05T09:00:00Z"}


def test_served_without_the_option_the_same_store_has_no_test_clock(
    seeded: Seed, serve: Callable[..., LiveServer]
) -> None:
    server = serve()
    for who, method in (("auditor", "GET"), ("billing_staff", "POST"), ("operator", "POST")):
        response = httpx.request(
            method,
            f"{server.url}{CLOCK}",
            json={"advance": "P1M"} if method == "POST" else None,
            headers=as_(seeded, server, who),
            timeout=10,
        )
        assert response.status_code == 404, response.text
        assert response.headers["content-type"].startswith("application/problem+json")
        assert "--test-clock" in response.json()["detail"]
