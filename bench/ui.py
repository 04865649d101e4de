"""How fast the web app serves its busiest pages, against GET /healthz of the same app.

    .venv/bin/python bench/ui.py                  # 5 s per page
    .venv/bin/python bench/ui.py --seconds 20

It starts ``subledger serve --demo`` as a subprocess on a free port in a temporary
directory (a fresh SQLite store with the demo's fourteen months of history, read models
kept current in the server process, a test clock), reads the sign-in links it prints,
and signs in as the demo's customer administrator and as billing staff, as a browser
does (the link's page, then its form; the session cookie kept). One client then asks,
for ``--seconds`` each and one request at a time:

- baseline: ``GET /healthz`` (a trivial endpoint of the same process and middleware);
- the customer's overview (``/app/accounts/{id}``);
- the customer's invoices (``/app/accounts/{id}/invoices``);
- the staff's time travel, comparing now with the end of last March
  (``/app/accounts/{id}/time-travel?compare=...``): two point-in-time folds of the
  account, its contracts, seats and invoices;

and prints pages per second, p50 and p95 latency, and the ratio of p95 to the
baseline's. Every answer must be a 200 with the page's marker, or the run fails.
"""

from __future__ import annotations

import argparse
import os
import re
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx

NORTHWIND = "f622d6f4-64a7-5a09-b2bd-cfde90b64e6b"  # the demo's customer (service/demo)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start(directory: str, port: int) -> tuple[subprocess.Popen[str], dict[str, str]]:
    """The demo server, and the sign-in links it printed (role -> URL)."""
    subledger = Path(sys.executable).parent / "subledger"
    env = {k: v for k, v in os.environ.items() if not k.startswith("SUBLEDGER_")}
    env["SUBLEDGER_PUBLIC_URL"] = f"http://127.0.0.1:{port}"
    server = subprocess.Popen(
        [str(subledger), "serve", "--demo", "--port", str(port)],
        env=env,
        cwd=directory,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    links: dict[str, str] = {}
    assert server.stdout is not None
    for line in server.stdout:
        found = re.match(r"\s+(\w+)\s+(http\S+/app/sign-in/\S+)", line)
        if found:
            links[found.group(1)] = found.group(2)
        if line.startswith("interactive API docs"):
            break
    # the server logs every request to stdout: keep reading it, or it blocks on a full pipe
    threading.Thread(target=lambda: [None for _ in server.stdout or ()], daemon=True).start()
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).is_success:
                return server, links
        except httpx.TransportError:
            time.sleep(0.1)
    server.kill()
    raise RuntimeError("the demo server did not answer /healthz within 60 s")


def signed_in(base: str, link: str) -> httpx.Client:
    """A client holding the session cookie, as a browser after opening the link."""
    client = httpx.Client(base_url=base, headers={"Origin": base}, timeout=30)
    client.get(link).raise_for_status()
    answer = client.post(link)
    assert answer.status_code == 303, answer.text
    return client


def measure(client: httpx.Client, path: str, marker: str, seconds: float) -> list[float]:
    latencies: list[float] = []
    deadline = time.perf_counter() + seconds
    while (began := time.perf_counter()) < deadline:
        answer = client.get(path)
        latencies.append(time.perf_counter() - began)
        if answer.status_code != 200 or marker not in answer.text:
            raise RuntimeError(f"{path} answered {answer.status_code}")
    return latencies


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=5.0)
    args = parser.parse_args()
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    with tempfile.TemporaryDirectory() as directory:
        server, links = start(directory, port)
        try:
            customer = signed_in(base, links["admin"])
            staff = signed_in(base, links["staff"])
            account = f"/app/accounts/{NORTHWIND}"
            pages = [
                ("GET /healthz (baseline)", customer, "/healthz", "ok"),
                ("overview", customer, account, "<main"),
                ("invoices", customer, f"{account}/invoices", "<main"),
                (
                    "staff time travel",
                    staff,
                    f"{account}/time-travel?compare=2026-03-31T23:59",
                    "<main",
                ),
            ]
            print(f"web app on the demo store, one client, {args.seconds:g} s per page")
            print(f"{'page':26} {'pages/s':>9} {'p50 ms':>8} {'p95 ms':>8} {'p95 / baseline':>15}")
            baseline = 0.0
            for label, client, path, marker in pages:
                measure(client, path, marker, min(1.0, args.seconds))  # warm up
                latencies = measure(client, path, marker, args.seconds)
                p95 = percentile(latencies, 0.95)
                baseline = baseline or p95
                rate = len(latencies) / sum(latencies)
                print(
                    f"{label:26} {rate:9.1f} {percentile(latencies, 0.5) * 1000:8.1f}"
                    f" {p95 * 1000:8.1f} {p95 / baseline:14.1f}x",
                    flush=True,
                )
        finally:
            server.terminate()
            server.wait(timeout=60)


if __name__ == "__main__":
    main()
