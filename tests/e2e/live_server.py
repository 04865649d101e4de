"""A real `subledger serve` in a subprocess, on a free port, over a seeded store.

For what the in-process test client cannot show: a stream read while it is written, a
client that disconnects mid-stream, programs that talk to the API over a socket.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx

from adapters.store import StoreSettings
from service.config.settings import Settings, load_settings

# Short intervals, so that heartbeats and reconnections happen within a test.
STREAM_ENV = {
    "SUBLEDGER_SSE_HEARTBEAT_SECONDS": "0.5",
    "SUBLEDGER_SSE_POLL_SECONDS": "0.1",
}


def store_environ(store: StoreSettings) -> dict[str, str]:
    """The environment variables that select ``store`` (the inverse of Settings.store)."""
    if store.postgres is None:
        assert store.sqlite_path is not None
        return {"SUBLEDGER_DB": store.sqlite_path}
    pg = store.postgres
    password = f":{quote(pg.password)}" if pg.password else ""
    url = f"postgresql://{quote(pg.user)}{password}@{pg.host}:{pg.port}/{pg.dbname}"
    return {"SUBLEDGER_DATABASE_URL": f"{url}?schema={pg.schema}"}


def settings_for(store: StoreSettings, **environ: str) -> Settings:
    """The settings of a process started with ``store_environ(store)`` and ``environ``."""
    return load_settings(store_environ(store) | environ)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def subledger_command() -> list[str]:
    script = Path(sys.executable).with_name("subledger")
    if script.exists():
        return [str(script)]
    return [sys.executable, "-c", "import sys; from service.cli.main import main; sys.exit(main())"]


class LiveServer:
    def __init__(
        self, store: StoreSettings, log_path: Path, serve_args: Sequence[str] = (), **env: str
    ) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = log_path
        environ = {k: v for k, v in os.environ.items() if not k.startswith("SUBLEDGER_")}
        environ.update(store_environ(store), **STREAM_ENV, **env)
        self._log = log_path.open("w")
        self.process = subprocess.Popen(
            [*subledger_command(), "serve", "--port", str(self.port), *serve_args],
            env=environ,
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )
        try:
            self._wait_until_up()
        except BaseException:
            self.stop()  # not left serving a store the test is about to drop
            raise

    def _wait_until_up(self, timeout: float = 90.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"subledger serve exited:\n{self.log_path.read_text()}")
            try:
                if httpx.get(f"{self.url}/healthz", timeout=1).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.1)
        raise RuntimeError(f"subledger serve did not come up:\n{self.log_path.read_text()}")

    def wait_for_projections(self, timeout: float = 30.0) -> None:
        """Until the server's read models have applied the whole log."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            ready = httpx.get(f"{self.url}/readyz", timeout=5)
            if ready.status_code == 200 and not any(ready.json()["lag"].values()):
                return
            time.sleep(0.1)
        raise RuntimeError("the server's read models did not catch up")

    def requests(self, route: str) -> list[dict[str, Any]]:
        """The server's request log lines for ``route`` (one per finished request)."""
        found = []
        for line in self.log_path.read_text().splitlines():
            if line.startswith("{"):
                entry = json.loads(line)
                if entry.get("event") == "request" and entry.get("route") == route:
                    found.append(entry)
        return found

    def stop(self) -> None:
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self._log.close()


def sse_messages(lines: Iterator[str]) -> Iterator[dict[str, str]]:
    """Server-Sent Events as dicts of their fields; a comment comes as {"comment": ...}."""
    fields: dict[str, str] = {}
    for line in lines:
        if not line:
            if fields:
                yield fields
            fields = {}
        elif line.startswith(":"):
            yield {"comment": line[1:].strip()}
        else:
            name, _, value = line.partition(":")
            fields[name] = value.removeprefix(" ")
