"""What the projection runner spends to apply one "add licenses" POST, in process.

    .venv/bin/python bench/runner_step.py                      # SQLite, 200 POSTs
    .venv/bin/python bench/runner_step.py --posts 400 --database-url postgresql://...

The live runner (``subledger serve``'s child, ADR 0005) applies each POST's four events
in a step of its own, and most of what it spends is fixed per step. This seeds a fresh
store as bench/http_api.py does, builds the read side as the child does (``ReadSide``,
every projection, the runner's own connection), and runs ``ProjectionRunner.run`` with a
wait that sends the next ``add_licenses`` command: what the runner does between two
waits is one POST's catch-up, as in live serving. It prints per POST: the runner's CPU
time (no profiler hooked; best of three rounds) and, counted in a round of their own,
its Python function calls and SQL statements on the read store and the event store by
kind (their first two words; on SQLite BEGIN and ROLLBACK included, on PostgreSQL the
commits but not psycopg's implicit BEGIN); then the same per wake-up that finds nothing
new (its events applied by the step before: frequent under load).
"""

from __future__ import annotations

import argparse
import collections
import cProfile
import pstats
import sqlite3
import sys
import threading
import time
from collections.abc import Callable
from types import FrameType
from typing import Any
from uuid import UUID

import psycopg
import psycopg.sql
from _stores import add_store_arguments, fresh_store
from http_api import ADMIN, seed

from adapters.clock import SystemClock
from adapters.payments import FakePaymentProvider
from service.config.collector import freeze_what_started, tune_for_long_running
from service.ledger.application import Ledger
from service.reads.read_side import ReadSide

counts = collections.Counter[str]()
counting = False
read_connections: set[int] = set()  # ids of the read store's connections


def _where(connection: Any) -> str:
    return "read store" if id(connection) in read_connections else "event store"


def _kind(statement: Any) -> str:
    if isinstance(statement, bytes):
        statement = statement.decode()
    if isinstance(statement, psycopg.sql.Composable):
        statement = statement.as_string(None)
    text = str(statement)
    words = text.split()[:2]
    return " ".join(w.upper() for w in words) if words[:1] != ["SELECT"] else "SELECT"


def _count(where: str, statement: Any) -> None:
    if counting:
        counts[f"{where}: {_kind(statement)}"] += 1


def _hook_sqlite(read_path: str) -> None:
    """Every SQLite connection made from now on reports its statements (BEGIN and COMMIT
    included) through a trace callback; the read store's are told apart by their file."""
    connect = sqlite3.connect

    def traced(database: Any, *args: Any, **kwargs: Any) -> sqlite3.Connection:
        connection = connect(database, *args, **kwargs)
        where = "read store" if str(database) == read_path else "event store"
        connection.set_trace_callback(lambda statement: _count(where, statement))
        return connection

    sqlite3.connect = traced  # type: ignore[assignment]


def _hook_postgres() -> None:
    """psycopg's statements and commits, by connection (the read store's are the runner's)."""
    cursor, commit = psycopg.Cursor, psycopg.Connection.commit

    def counted(method: Callable[..., Any]) -> Callable[..., Any]:
        def call(self: Any, *args: Any, **kwargs: Any) -> Any:
            _count(_where(self.connection), args[0] if args else kwargs.get("query"))
            return method(self, *args, **kwargs)

        return call

    def counted_commit(self: Any) -> None:
        _count(_where(self), "COMMIT")
        commit(self)

    cursor.execute = counted(cursor.execute)  # type: ignore[method-assign]
    cursor.executemany = counted(cursor.executemany)  # type: ignore[method-assign]
    cursor.copy = counted(cursor.copy)  # type: ignore[method-assign]
    psycopg.Connection.commit = counted_commit  # type: ignore[method-assign]


def _profile(frame: FrameType, event: str, arg: Any) -> None:
    if counting and event == "call":
        counts["Python calls"] += 1


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--posts", type=int, default=200, help="POSTs per round")
    parser.add_argument("--profile", type=int, metavar="N", help="also print cProfile's top N")
    parser.add_argument(
        "--per-step",
        type=int,
        nargs="+",
        default=[],
        metavar="K",
        help="also measure steps that each find K POSTs (a runner gathering under load)",
    )
    add_store_arguments(parser)
    args = parser.parse_args()
    global counting
    with fresh_store(args.database_url, args.dir) as settings:
        (subscription,), _ = seed(settings, 1)
        if settings.postgres is None:
            _hook_sqlite(settings.read_sqlite_path)
        else:
            _hook_postgres()
        ledger = Ledger(
            env=settings.eventsourcing_env(),
            clock=SystemClock(),
            payment_provider=FakePaymentProvider(),
        )
        read_side = ReadSide(settings, ledger)
        # As serve's runner child starts (service/cli/projection_process.py): its start-up
        # heap frozen, which a step must not walk (it did, in gc.get_freeze_count()).
        tune_for_long_running()
        freeze_what_started()
        runner = read_side.runner
        runner.catch_up()
        read_connections.add(id(read_side.store.connection))

        def post(sub: UUID = subscription) -> None:
            ledger.add_licenses(ADMIN, sub, "sales-cloud", 1)

        def live(
            posts: int, on: Callable[[], None], off: Callable[[], None], send: Callable[[], None]
        ) -> list[float]:
            """``runner.run`` as the live runner runs it, its wait sending the next POST:
            what it does between two waits is one POST's catch-up. Its CPU time each."""
            stop, spans, left = threading.Event(), [], posts
            began: float | None = None

            def wait(timeout: float) -> None:
                nonlocal left, began
                off()
                if began is not None:
                    spans.append(time.process_time() - began)
                if not left:
                    stop.set()
                    return
                left -= 1
                send()
                on()
                began = time.process_time()

            runner.run(stop, wait)
            return spans

        def nothing() -> None:
            pass

        def count(on: bool) -> Callable[[], None]:
            def switch() -> None:
                global counting
                counting = on
                sys.setprofile(_profile if on else None)

            return switch

        def measure(label: str, send: Callable[[], None]) -> None:
            live(20, nothing, nothing, send)  # warm-up: caches, lazily built statements
            n = args.posts
            best = min(sum(live(n, nothing, nothing, send)) / n for _ in range(3))
            counts.clear()
            live(n, count(True), count(False), send)
            print(
                f"{label}: runner CPU {best * 1000:.3f} ms (best of 3 x {n}),"
                f" {counts.pop('Python calls', 0) / n:.0f} Python calls"
            )
            for where in ("read store", "event store"):
                mine = {k: v for k, v in counts.items() if k.startswith(where)}
                print(f"  {where}: {sum(mine.values()) / n:.1f} statements")
                for kind, times in sorted(mine.items(), key=lambda kv: -kv[1]):
                    print(f"    {times / n:5.1f} {kind.split(': ', 1)[1]}")

        store = "PostgreSQL" if settings.postgres else "SQLite"
        measure(f"{store}, per POST of 4 events", post)
        for k in args.per_step:  # the runner's CPU for each, divided by k: per POST

            def posts(k: int = k) -> None:
                for _ in range(k):
                    post()

            measure(f"{store}, per step of {k} POSTs", posts)
        # A wake-up for events the step before already applied (under load, written
        # between the wake-up that began that step and its read).
        measure(f"{store}, per wake-up with nothing new", nothing)
        if args.profile:
            profiler = cProfile.Profile()
            live(args.posts, profiler.enable, profiler.disable, post)
            for order in ("tottime", "cumulative"):
                pstats.Stats(profiler).sort_stats(order).print_stats(args.profile)
        read_side.stop()
        ledger.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
