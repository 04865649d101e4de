"""docs/consuming-events.md: its pull and SSE consumers, run exactly as written against a
real server while events are written. Each prints every event once, in order; the pull
consumer resumes from its cursor file after being killed, and the SSE consumer resumes
with Last-Event-ID each time the server ends its stream (here every 1.5 s)."""

from __future__ import annotations

import os
import re
import secrets
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from adapters.clock import ControllableClock
from adapters.payments import FakePaymentProvider
from adapters.store import StoreSettings
from service.ledger.application import Ledger
from tests.conftest import T0
from tests.e2e.conftest import Seed, seed_ledger
from tests.e2e.live_server import LiveServer

DOC = Path(__file__).resolve().parents[2] / "docs" / "consuming-events.md"


def snippet(name: str) -> str:
    """The python block right after ``<!-- snippet: NAME -->``."""
    found = re.search(
        rf"<!-- snippet: {name} -->\n```python\n(.*?)\n```", DOC.read_text(), re.DOTALL
    )
    assert found, f"no snippet {name!r} in {DOC.name}"
    return found.group(1) + "\n"


class Consumer:
    """A snippet run as a program; what it prints goes to a file."""

    def __init__(self, name: str, directory: Path, env: dict[str, str]) -> None:
        self.program = directory / f"{name}.py"
        self.program.write_text(snippet(name))
        self.output = directory / f"{name}.out"
        self.env = {**os.environ, **env}
        self.process: subprocess.Popen[bytes] | None = None
        self.start()

    def start(self) -> None:
        with self.output.open("a") as out:
            self.process = subprocess.Popen(
                [sys.executable, str(self.program)], env=self.env, stdout=out, stderr=out
            )

    def kill(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait()

    def events(self) -> list[str]:
        lines = self.output.read_text().splitlines()
        return [line for line in lines if not line.startswith("reconnecting:")]

    def log(self) -> str:
        return self.output.read_text()


@pytest.fixture
def server(tmp_path: Path) -> Iterator[tuple[LiveServer, Seed]]:
    store = StoreSettings(sqlite_path=str(tmp_path / "ledger.db"))
    ledger = Ledger(
        env=store.eventsourcing_env(),
        clock=ControllableClock(T0),
        payment_provider=FakePaymentProvider(),
    )
    seed = seed_ledger(ledger)
    ledger.close()
    live = LiveServer(store, tmp_path / "server.log", SUBLEDGER_SSE_MAX_SECONDS="1.5")
    try:
        yield live, seed
    finally:
        live.stop()


def expected_lines(live: LiveServer, token: str) -> list[str]:
    """What a consumer should have printed: the pull feed, "sequence type subject"."""
    lines, after = [], 0
    with httpx.Client(base_url=live.url, headers={"Authorization": f"Bearer {token}"}) as api:
        while True:
            page = api.get("/v1/events", params={"after": after}).json()
            lines += [f"{e['sequence']} {e['type']} {e['subject']}" for e in page["events"]]
            after = page["next_after"]
            if page["caught_up"]:
                return lines


def settle(consumers: list[Consumer], live: LiveServer, token: str, timeout: float = 20) -> None:
    """Until every consumer has printed what the feed holds (or the timeout)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        expected = expected_lines(live, token)
        if all(len(c.events()) >= len(expected) for c in consumers):
            return
        time.sleep(0.2)


def test_the_documented_pull_and_sse_consumers_get_every_event_once_in_order(
    server: tuple[LiveServer, Seed], tmp_path: Path
) -> None:
    live, seed = server
    token = seed.tokens["integration"]
    env = {
        "SUBLEDGER_URL": live.url,
        "SUBLEDGER_TOKEN": token,
        "SUBLEDGER_CURSOR_FILE": str(tmp_path / "cursor.txt"),
    }
    pull, sse = Consumer("pull", tmp_path, env), Consumer("sse", tmp_path, env)
    staff = httpx.Client(
        base_url=live.url, headers={"Authorization": f"Bearer {seed.tokens['billing_staff']}"}
    )

    def write(n: int) -> None:
        for i in range(n):
            response = staff.put(
                f"/v1/accounts/{seed.acme.account_id}/payment-method",
                json={"reference": f"pm_doc_{i}_{secrets.token_hex(4)}"},  # no card number
            )
            assert response.status_code == 200, response.text
            time.sleep(0.3)

    try:
        write(6)  # while both read; the stream is ended and resumed more than once
        settle([pull, sse], live, token)
        time.sleep(0.5)  # past writing its cursor: it is waiting for more
        pull.kill()
        write(3)  # while the pull consumer is down
        pull.start()
        settle([pull, sse], live, token)
        expected = expected_lines(live, token)
        assert pull.events() == expected, pull.log()
        assert sse.events() == expected, sse.log()
        assert sse.log().count("reconnecting:") == 0  # the server ended streams cleanly
    finally:
        for consumer in (pull, sse):
            if consumer.process is not None and consumer.process.poll() is None:
                consumer.kill()
        staff.close()
    # The SSE consumer was cut off and resumed. A stream is logged when it ends, and the
    # last one ends (at the latest) when its lifetime is up, so give it that long.
    deadline = time.monotonic() + 10
    while len(requests := live.requests("/v1/events/stream")) < 2 and time.monotonic() < deadline:
        time.sleep(0.1)
    assert len(requests) >= 2
