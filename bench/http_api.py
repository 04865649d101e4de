"""How fast the HTTP API takes "add licenses" POSTs, against GET /healthz of the same app.

    .venv/bin/python bench/http_api.py                    # SQLite, 1 and 16 clients, 5 s each
    .venv/bin/python bench/http_api.py --seconds 20 --clients 1 4 16 64
    .venv/bin/python bench/http_api.py --database-url postgresql://postgres@127.0.0.1/test
    .venv/bin/python bench/http_api.py --runner thread      # one arrangement only

(Not ``bench/http.py``: run as a script, that name would shadow the standard library's
``http`` package, which httpx and uvicorn import.)

It makes a fresh store (a SQLite file in a temporary directory, or a PostgreSQL schema
of its own, dropped at the end) holding one contract per client and a billing-staff
token, and starts ``subledger serve`` on it as a subprocess on a free port, with
``SUBLEDGER_PROJECTIONS=on`` (the read models are kept current as they are by default),
once per arrangement of the projection runner (``--runner``, ADR 0005): ``process``, a
child process of the server's (the default deployment), ``thread``, a thread of the
server's process, and ``off`` (``SUBLEDGER_PROJECTIONS=off``, not by default): no read
model is kept at all, so a POST costs its command alone, the ceiling no arrangement of
the projections can pass. Once the read models have caught up with the seed, for each
number of clients, a second process (this script with ``--load``: an httpx.AsyncClient with that
many concurrent clients, each with a connection of its own) sends

- baseline: ``GET /healthz`` (a trivial endpoint of the same app, same middleware);
- ``POST /v1/subscriptions/{id}/licenses`` with one seat of sales-cloud, each client
  on its own contract,

for ``--seconds`` each, and this prints requests per second, p50 / p99 latency, the
ratio to the baseline, the CPU time the server's process (and, apart, the projection
runner it started) spent per request, and the server's peak resident memory (VmHWM).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any
from uuid import UUID

import httpx
from _stores import fresh_store

from adapters.clock import SystemClock
from adapters.payments import FakePaymentProvider
from adapters.store import StoreSettings
from domain.account import BillingDetails, User
from domain.catalog import Edition
from service.access.tokens import Role, Tokens
from service.ledger.application import Ledger
from service.ledger.context import CommandContext

STAFF = CommandContext("staff-1", "billing_staff")
ADMIN = CommandContext("ada", "admin")
OPERATOR = CommandContext("bench", "operator")


# -- the load generator (a second process) -------------------------------------------


async def load(url: str, paths: list[str], token: str, seconds: float) -> dict[str, Any]:
    """One client per path, each sending its request again as soon as it is answered."""
    headers = {"Authorization": f"Bearer {token}"}
    body = {"product_code": "sales-cloud", "quantity": 1}
    latencies: list[float] = []
    failures: dict[str, int] = {}
    limits = httpx.Limits(max_connections=len(paths), max_keepalive_connections=len(paths))
    async with httpx.AsyncClient(base_url=url, headers=headers, limits=limits) as client:
        deadline = 0.0

        async def one(path: str) -> None:
            post = path != "/healthz"
            while (began := time.perf_counter()) < deadline:
                if post:
                    response = await client.post(path, json=body, timeout=30)
                else:
                    response = await client.get(path, timeout=30)
                if response.is_success:
                    latencies.append(time.perf_counter() - began)
                else:
                    key = str(response.status_code)
                    failures[key] = failures.get(key, 0) + 1

        await asyncio.gather(*(client.get("/healthz") for _ in paths))  # open the connections
        began = time.perf_counter()
        deadline = began + seconds
        await asyncio.gather(*(one(path) for path in paths))
        elapsed = time.perf_counter() - began
    latencies.sort()
    return {
        "count": len(latencies),
        "seconds": elapsed,
        "p50": latencies[len(latencies) // 2] * 1000 if latencies else 0.0,
        "p99": latencies[min(len(latencies) - 1, int(0.99 * len(latencies)))] * 1000
        if latencies
        else 0.0,
        "failures": failures,
    }


def load_main(args: argparse.Namespace) -> int:
    spec = json.loads(Path(args.load).read_text())
    result = asyncio.run(load(spec["url"], spec["paths"], spec["token"], spec["seconds"]))
    print(json.dumps(result))
    return 0


# -- the driver ------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of a process so far (Linux)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def children_of(pid: int) -> list[int]:
    """The process's children: the projection runner under ``serve`` (ADR 0005)."""
    tasks = Path(f"/proc/{pid}/task")
    return [
        int(child) for task in tasks.iterdir() for child in (task / "children").read_text().split()
    ]


def peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


def seed(settings: StoreSettings, contracts: int) -> tuple[list[UUID], str]:
    """``contracts`` contracts, each on an account of its own, and a billing-staff token."""
    ledger = Ledger(
        env=settings.eventsourcing_env(),
        clock=SystemClock(),
        payment_provider=FakePaymentProvider(),
    )
    try:
        billing = BillingDetails(
            "Acme Corp", "1 Main St", "Springfield", "12345", "US", "ap@acme.example"
        )
        ada = User("ada", "Ada Admin", "ada@acme.example", administrator=True)
        ids = []
        for _ in range(contracts):
            account_id = ledger.open_account(
                STAFF, "Acme", Edition.ESSENTIALS, "USD", billing, ada
            ).aggregate_id
            ledger.set_payment_method(ADMIN, account_id, "pm_card_visa")
            sub = ledger.start_subscription(ADMIN, account_id, {"sales-cloud": 10})
            ids.append(sub.aggregate_id)
        token = Tokens(ledger).issue(OPERATOR, Role.BILLING_STAFF, label="bench").token
        return ids, token
    finally:
        ledger.close()


def server_env(settings: StoreSettings, runner: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SUBLEDGER_")}
    if runner == "off":
        env["SUBLEDGER_PROJECTIONS"] = "off"
    else:
        env["SUBLEDGER_PROJECTIONS"] = "on"
        env["SUBLEDGER_PROJECTIONS_RUNNER"] = runner
    if settings.postgres is not None:
        pg = settings.postgres
        env["SUBLEDGER_DATABASE_URL"] = (
            f"postgresql://{pg.user}@{pg.host}:{pg.port}/{pg.dbname}?schema={pg.schema}"
        )
    else:
        assert settings.sqlite_path is not None
        env["SUBLEDGER_DB"] = settings.sqlite_path
    return env


def wait_until_up(url: str, server: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 120  # a loaded machine starts it slowly
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError(f"the server exited with {server.returncode}")
        try:
            if httpx.get(f"{url}/healthz", timeout=1).is_success:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    raise RuntimeError("the server did not answer /healthz within 120 s")


def wait_until_caught_up(url: str) -> None:
    """Until the read models have applied the whole log (the seed): no catching up is
    measured."""
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        ready = httpx.get(f"{url}/readyz", timeout=30)
        if ready.status_code == 200 and not any(ready.json()["lag"].values()):
            return
        time.sleep(0.2)
    raise RuntimeError("the read models did not catch up within 300 s")


def run_load(
    directory: str, url: str, paths: list[str], token: str, seconds: float, server: int
) -> dict[str, Any]:
    """The load generator's figures, and the CPU seconds the server's process and its
    children (the projection runner) spent meanwhile: steadier than the rates on a
    machine others load."""
    spec = Path(directory) / "load.json"
    spec.write_text(json.dumps({"url": url, "paths": paths, "token": token, "seconds": seconds}))
    children = children_of(server)
    cpu = cpu_seconds(server), sum(cpu_seconds(child) for child in children)
    out = subprocess.run(
        [sys.executable, __file__, "--load", str(spec)],
        check=True,
        capture_output=True,
        text=True,
    )
    result: dict[str, Any] = json.loads(out.stdout)
    result["server_cpu"] = cpu_seconds(server) - cpu[0]
    result["children_cpu"] = sum(cpu_seconds(child) for child in children) - cpu[1]
    return result


def line(label: str, clients: int, r: dict[str, Any], baseline: dict[str, Any] | None) -> str:
    rate = r["count"] / r["seconds"]
    text = (
        f"{label:18} {clients:>3} clients  {r['count']:>7,} in {r['seconds']:5.1f} s"
        f"  {rate:>8,.0f} req/s  p50 {r['p50']:7.2f} ms  p99 {r['p99']:7.2f} ms"
    )
    count = max(r["count"], 1)
    text += f"  server CPU {r['server_cpu'] / count * 1000:5.2f} ms/req"
    if r["children_cpu"]:
        text += f" (+ runner {r['children_cpu'] / count * 1000:4.2f})"
    if r["failures"]:
        text += f"  failed {r['failures']}"
    if baseline is not None:
        text += f"  ratio {rate / (baseline['count'] / baseline['seconds']):.2f}"
    return text


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=5.0, help="per configuration")
    parser.add_argument("--clients", type=int, nargs="+", default=[1, 16])
    parser.add_argument("--database-url", help="postgresql://... (a schema of its own)")
    parser.add_argument(
        "--runner",
        nargs="+",
        choices=["process", "thread", "off"],
        default=["process", "thread"],
        help="where the server runs the projection runner, or `off` (no read models: the "
        "command alone); each is measured in turn",
    )
    parser.add_argument("--load", help=argparse.SUPPRESS)  # the load generator's spec
    args = parser.parse_args(argv)
    if args.load:
        return load_main(args)
    with (
        tempfile.TemporaryDirectory(prefix="subledger-bench-") as directory,
        fresh_store(args.database_url, directory) as settings,
    ):
        ids, token = seed(settings, max(args.clients))
        for runner in args.runner:
            measure(args, settings, runner, directory, ids, token)
    return 0


def measure(
    args: argparse.Namespace,
    settings: StoreSettings,
    runner: str,
    directory: str,
    ids: list[UUID],
    token: str,
) -> None:
    """Serve the store with the projection runner in ``runner``, and measure it."""
    subledger = Path(sys.executable).with_name("subledger")
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    server = subprocess.Popen(
        [str(subledger), "serve", "--port", str(port)],
        env=server_env(settings, runner),
        cwd=directory,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_until_up(url, server)
        # One write applied before measuring: the runner (a child process) is up.
        httpx.post(
            f"{url}/v1/subscriptions/{ids[0]}/licenses",
            json={"product_code": "sales-cloud", "quantity": 1},
            headers={"Authorization": f"Bearer {token}"},
            timeout=60,
        ).raise_for_status()
        if runner == "off":
            where = "off (SUBLEDGER_PROJECTIONS=off: the command alone)"
        else:
            wait_until_caught_up(url)
            where = "on, in " + ("a child process" if runner == "process" else "a thread")
            where += f" (SUBLEDGER_PROJECTIONS_RUNNER={runner})"
        print(
            f"{'PostgreSQL' if settings.postgres else 'SQLite'}, uvicorn 1 worker, "
            f"projections {where}, "
            f"{args.seconds:g} s per configuration; "
            f"Python {sys.version.split()[0]}, {os.cpu_count()} CPUs; "
            f"server peak RSS at start {peak_rss_mb(server.pid):.0f} MB",
            flush=True,
        )
        for clients in args.clients:
            health = run_load(
                directory, url, ["/healthz"] * clients, token, args.seconds, server.pid
            )
            print(line("GET /healthz", clients, health, None), flush=True)
            paths = [f"/v1/subscriptions/{i}/licenses" for i in ids[:clients]]
            posts = run_load(directory, url, paths, token, args.seconds, server.pid)
            print(line("POST licenses", clients, posts, health), flush=True)
        print(f"server peak RSS (VmHWM): {peak_rss_mb(server.pid):.0f} MB", flush=True)
    finally:
        server.terminate()
        try:
            server.wait(timeout=15)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


if __name__ == "__main__":
    sys.exit(main())
