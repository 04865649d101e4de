"""`subledger serve` runs the projection runner in a child process of its own (the default,
ADR 0005), on both stores: reads that name a write's position see it, a killed child is
replaced and catches up, and stopping the server (or killing it) leaves no child behind."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import httpx
import pytest

from adapters.store import StoreSettings
from service.ledger.application import Ledger
from tests.e2e.conftest import Seed, seed_ledger
from tests.e2e.live_server import LiveServer

CHILD = "service.cli.projection_process"


def runner_children(pid: int) -> list[int]:
    """The live projection runner processes whose parent is ``pid``."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            command = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:  # gone meanwhile
            continue
        state, parent = stat.rpartition(")")[2].split()[:2]
        if int(parent) == pid and state != "Z" and CHILD.encode() in command:
            found.append(int(entry.name))
    return found


def the_runner_child(server: LiveServer, other_than: int | None = None) -> int:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        children = [c for c in runner_children(server.process.pid) if c != other_than]
        if children:
            (child,) = children
            return child
        time.sleep(0.1)
    raise AssertionError(f"no projection runner process:\n{server.log_path.read_text()}")


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[0]
    except OSError:
        return False
    return state != "Z"


def gone_within(pid: int, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while alive(pid) and time.monotonic() < deadline:
        time.sleep(0.1)
    return not alive(pid)


def pay(server: LiveServer, seed: Seed, amount: str) -> int:
    """Pay ``amount`` on Acme's invoice over HTTP; the write's log position."""
    paid = httpx.post(
        f"{server.url}/v1/invoices/{seed.acme.invoice_id}/payments",
        json={"amount": amount},
        headers={"Authorization": f"Bearer {seed.tokens['admin']}"},
        timeout=30,
    )
    assert paid.status_code == 201, paid.text
    return int(paid.headers["Ledger-Position"])


def balance_at(server: LiveServer, seed: Seed, position: int) -> httpx.Response:
    return httpx.get(
        f"{server.url}/v1/invoices/{seed.acme.invoice_id}",
        params={"min_position": position},
        headers={"Authorization": f"Bearer {seed.tokens['admin']}"},
        timeout=30,
    )


@pytest.fixture
def seeded(ledger: Ledger) -> Seed:
    return seed_ledger(ledger)


def test_the_runner_is_a_child_and_reads_name_a_writes_position(
    store: StoreSettings, seeded: Seed, tmp_path: Path
) -> None:
    server = LiveServer(store, tmp_path / "server.log")
    try:
        child = the_runner_child(server)
        server.wait_for_projections(timeout=90)  # the seed, applied by the child
        position = pay(server, seeded, "500.00")
        read = balance_at(server, seeded, position)
        assert read.status_code == 200, read.text
        assert read.json()["balance"] == {"amount": "1000.00", "currency": "USD"}
        ready = httpx.get(f"{server.url}/readyz", timeout=30).json()
        assert ready["runner"] == "elsewhere"  # not in the server's process: in the child
        assert runner_children(server.process.pid) == [child]
    finally:
        server.stop()


def test_a_killed_runner_process_is_replaced_and_catches_up(
    store: StoreSettings, seeded: Seed, tmp_path: Path
) -> None:
    server = LiveServer(store, tmp_path / "server.log")
    try:
        killed = the_runner_child(server)
        os.kill(killed, signal.SIGKILL)
        assert gone_within(killed, 10)
        position = pay(server, seeded, "400.00")  # while no runner runs
        replacement = the_runner_child(server, other_than=killed)
        deadline = time.monotonic() + 60
        while (read := balance_at(server, seeded, position)).status_code == 503:
            assert time.monotonic() < deadline, read.text  # each try waits its bound
        assert read.status_code == 200, read.text
        assert read.json()["balance"] == {"amount": "1100.00", "currency": "USD"}
        assert runner_children(server.process.pid) == [replacement]
        assert f"the projection runner process {killed} exited" in server.log_path.read_text()
    finally:
        server.stop()


@pytest.mark.parametrize("stop", [signal.SIGTERM, signal.SIGINT, signal.SIGKILL], ids=str)
def test_stopping_the_server_leaves_no_runner_process(
    store: StoreSettings, tmp_path: Path, stop: signal.Signals
) -> None:
    server = LiveServer(store, tmp_path / "server.log")
    try:
        child = the_runner_child(server)
        server.process.send_signal(stop)
        code = server.process.wait(timeout=30)
        if stop != signal.SIGKILL:
            assert code == 0, server.log_path.read_text()
            assert not alive(child)  # stopped before the server exits
        # killed outright, the server cannot stop it: the child sees its stdin close
        assert gone_within(child, 30), server.log_path.read_text()
    finally:
        server.stop()
