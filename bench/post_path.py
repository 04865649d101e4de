"""What one "add licenses" POST costs the server, counted rather than timed.

    .venv/bin/python bench/post_path.py                 # SQLite, 50 POSTs counted
    .venv/bin/python bench/post_path.py --posts 200

On a machine others load, CPU time per request moves by a third from run to run; counts
do not. This builds the app as ``subledger serve`` does (``app_from_environment``, the
projections left to another process) on a fresh SQLite store holding one contract and a
billing-staff token, sends it requests in-process (httpx's ASGI transport: no socket, no
uvicorn) after a warm-up, and prints per request, for the POST of bench/http_api.py and
for ``GET /healthz``: the Python function calls made in every thread (the client's
included, the same for both), the hand-offs to a worker thread of anyio's pool (each a
wake-up of a worker and of the event loop, under the GIL), and the store's SQL
statements by kind; and, measured apart with no profiler, the process's CPU time per
request.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import os
import sys
import tempfile
import threading
import time
from types import FrameType
from typing import Any

import anyio.to_thread
import eventsourcing.sqlite
import httpx
from _stores import fresh_store
from http_api import seed, server_env

calls = collections.Counter[str]()
counting = False


def _profile(frame: FrameType, event: str, arg: Any) -> None:
    if counting and event in ("call", "c_call"):
        calls[event] += 1


_execute = eventsourcing.sqlite.SQLiteCursor.execute


def _counted_execute(self: Any, statement: Any, *args: Any, **kwargs: Any) -> Any:
    if counting:
        calls["SQL " + " ".join(str(statement).split()[:4])] += 1
    return _execute(self, statement, *args, **kwargs)


_run_sync = anyio.to_thread.run_sync


async def _counted_run_sync(*args: Any, **kwargs: Any) -> Any:
    # Starlette's run_in_threadpool and FastAPI's sync dependencies and endpoints all go
    # through anyio.to_thread.run_sync: one call, one hand-off to a worker thread and back.
    if counting:
        calls["hand-offs"] += 1
    return await _run_sync(*args, **kwargs)


async def measure(app: Any, token: str, path: str, posts: int) -> None:
    global counting
    body = {"product_code": "sales-cloud", "quantity": 1}
    transport = httpx.ASGITransport(app=app)
    headers = {"Authorization": f"Bearer {token}"}
    async with httpx.AsyncClient(
        transport=transport, base_url="http://bench", headers=headers
    ) as c:
        for _ in range(20):  # warm-up: caches, the thread pool, lazily built schemas
            (await c.post(path, json=body)).raise_for_status()
            (await c.get("/healthz")).raise_for_status()
        for label, send in (
            ("POST licenses", lambda: c.post(path, json=body)),
            ("GET /healthz", lambda: c.get("/healthz")),
        ):
            calls.clear()
            counting = True
            for _ in range(posts):
                (await send()).raise_for_status()
            counting = False
            print(
                f"{label:14} per request: {calls['call'] / posts:6.0f} Python calls,"
                f" {calls['c_call'] / posts:6.0f} calls of C functions,"
                f" {calls['hand-offs'] / posts:3.1f} thread hand-offs"
            )
            for kind, count in sorted(calls.items()):
                if kind.startswith("SQL "):
                    print(f"{'':16}{count / posts:5.1f} {kind}")


async def cpu_per_request(app: Any, token: str, path: str, posts: int) -> None:
    """The process's CPU time per request (every thread, the client's included), best of
    three rounds, with no profiler hooked: less moved by other sessions than wall time."""
    body = {"product_code": "sales-cloud", "quantity": 1}
    transport = httpx.ASGITransport(app=app)
    headers = {"Authorization": f"Bearer {token}"}
    async with httpx.AsyncClient(
        transport=transport, base_url="http://bench", headers=headers
    ) as c:
        for _ in range(20):
            (await c.post(path, json=body)).raise_for_status()
            (await c.get("/healthz")).raise_for_status()
        best: dict[str, float] = {}
        for _ in range(3):
            for label, send in (
                ("POST licenses", lambda: c.post(path, json=body)),
                ("GET /healthz", lambda: c.get("/healthz")),
            ):
                began = time.process_time()
                for _ in range(posts):
                    (await send()).raise_for_status()
                spent = (time.process_time() - began) / posts
                best[label] = min(best.get(label, spent), spent)
    post, healthz = best["POST licenses"], best["GET /healthz"]
    print(
        f"CPU per request, best of 3 x {posts}: POST {post * 1000:.2f} ms,"
        f" GET /healthz {healthz * 1000:.2f} ms (POST / healthz {post / healthz:.1f})"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--posts", type=int, default=50)
    args = parser.parse_args()
    with (
        tempfile.TemporaryDirectory(prefix="subledger-bench-") as directory,
        fresh_store(None, directory) as settings,
    ):
        (subscription,), token = seed(settings, 1)
        os.environ.update(server_env(settings, "process"))
        os.environ["SUBLEDGER_PROJECTIONS"] = "off"  # as serve's own process runs
        from service.http.app import app_from_environment

        app = app_from_environment()
        path = f"/v1/subscriptions/{subscription}/licenses"
        # Timed first, in an event loop (and thread pool) of its own, then counted in
        # another whose worker threads start with the profiler hooked.
        asyncio.run(cpu_per_request(app, token, path, args.posts))
        eventsourcing.sqlite.SQLiteCursor.execute = _counted_execute  # type: ignore[method-assign]
        anyio.to_thread.run_sync = _counted_run_sync
        threading.setprofile(_profile)  # the thread pool's threads start after this
        sys.setprofile(_profile)
        asyncio.run(measure(app, token, path, args.posts))
        sys.setprofile(None)
        threading.setprofile(None)  # type: ignore[arg-type]
    return 0


if __name__ == "__main__":
    sys.exit(main())
