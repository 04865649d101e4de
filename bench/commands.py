"""How fast the ledger writes on PostgreSQL, against raw INSERT commits.

    .venv/bin/python bench/commands.py                    # 1, 4, 16 writers, 5 s each
    .venv/bin/python bench/commands.py --seconds 20 --writers 1 2 4 8 16 32
    .venv/bin/python bench/commands.py --contended        # also: all writers on one contract

In a PostgreSQL schema of its own (dropped at the end), for each number of writers
(threads, as a server process's request threads are):

- baseline "INSERT": each writer, on its own psycopg connection, runs single-row INSERT
  transactions, one commit each, into a table shaped like the event store's (aggregate
  id, version, topic, state of 635 bytes, the average of a real event);
- "saves": the write path alone. Each writer records one event on a License of its own
  (``License.add``) and saves it with ``Ledger.save``: encoding, the event store's table
  lock and version check, the group commit (ADR 0013). One event per transaction asked
  for, as the baseline's one row per commit;
- "commands": each writer runs ``Ledger.add_licenses(ctx, subscription_id,
  "sales-cloud", 1)`` on a contract of its own, so that writers do not conflict: load
  the contract, its account and its License, write the seat, the contract change and a
  prorated invoice in one transaction; with ``--contended``, also all writers on one
  shared contract (a stale save is retried once by the ledger, then fails with
  ConcurrencyConflict, counted as "failed" and left out of the rate).

All writers share one ``Ledger`` (one process, the service's connection pool), as the
request threads of ``subledger serve`` do. First, as a ceiling that no store can raise,
the same command with one writer on the library's in-memory store: the Python work of a
command with no database at all.

It prints commands (or commits) per second, p50 / p99 latency, and the ratio to the
baseline measured in the same run at the same concurrency.
"""

from __future__ import annotations

import argparse
import itertools
import multiprocessing
import os
import sys
import threading
import time
from collections.abc import Callable
from contextlib import suppress
from dataclasses import dataclass, field
from datetime import UTC, datetime
from uuid import UUID, uuid4

import psycopg
from _stores import fresh_store

from adapters.clock import ControllableClock
from adapters.payments import FakePaymentProvider
from adapters.store import StoreSettings
from domain.account import BillingDetails, User
from domain.catalog import Edition
from domain.license import License
from service.ledger.application import Ledger
from service.ledger.context import CommandContext
from service.ledger.errors import ConcurrencyConflict

DEFAULT_URL = "postgresql://postgres@127.0.0.1:5432/test"
STATE = os.urandom(635)
STAFF = CommandContext("staff-1", "billing_staff")
ADMIN = CommandContext("ada", "admin")
# The tables are made once, before the runs: writers' processes starting together would
# otherwise race on the library's CREATE statements ("tuple concurrently updated").
EXISTING_TABLES = {"CREATE_TABLE": "n"}
# Contracts the in-memory ceiling cycles through (each of their aggregates stays short).
CEILING_CONTRACTS = 200


@dataclass
class Result:
    label: str
    writers: int
    seconds: float = 0.0
    latencies: list[float] = field(default_factory=list)
    failures: int = 0

    @property
    def rate(self) -> float:
        return len(self.latencies) / self.seconds

    def quantile(self, q: float) -> float:
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000

    def line(self, baseline: Result | None = None) -> str:
        text = (
            f"{self.label:12} {self.writers:>3} writers  {len(self.latencies):>7,} in "
            f"{self.seconds:5.1f} s  {self.rate:>8,.0f}/s  p50 {self.quantile(0.5):7.2f} ms  "
            f"p99 {self.quantile(0.99):7.2f} ms"
        )
        if self.failures:
            text += f"  failed {self.failures:,}"
        if baseline is not None:
            text += f"  ratio {self.rate / baseline.rate:.2f}"
        return text


Maker = Callable[[int], Callable[[], object]]


def run_writers(label: str, writers: int, seconds: float, make: Maker) -> Result:
    """Run ``writers`` threads, each calling its operation until the time is up."""
    result = Result(label, writers)
    operations = [make(i) for i in range(writers)]  # set up before the clock starts
    lock = threading.Lock()
    start = threading.Barrier(writers + 1)
    deadline = 0.0

    def loop(operation: Callable[[], object]) -> None:
        mine: list[float] = []
        failed = 0
        start.wait()
        while (began := time.perf_counter()) < deadline:
            try:
                operation()
            except ConcurrencyConflict:
                failed += 1
                continue
            mine.append(time.perf_counter() - began)
        with lock:
            result.latencies.extend(mine)
            result.failures += failed

    threads = [threading.Thread(target=loop, args=(op,)) for op in operations]
    for thread in threads:
        thread.start()
    began = time.perf_counter()
    deadline = began + seconds
    start.wait()
    for thread in threads:
        thread.join()
    result.seconds = time.perf_counter() - began
    return result


def raw_inserts(
    conninfo: str, schema: str, opened: list[psycopg.Connection]
) -> Callable[[int], Callable[[], None]]:
    def make(_: int) -> Callable[[], None]:
        conn = psycopg.connect(conninfo)
        opened.append(conn)
        conn.execute(f'SET search_path TO "{schema}"')
        conn.commit()
        aggregate_id = uuid4()
        version = 0

        def insert() -> None:
            nonlocal version
            version += 1
            conn.execute(
                "INSERT INTO raw_events (originator_id, originator_version, topic, state)"
                " VALUES (%s, %s, %s, %s)",
                (aggregate_id, version, "domain.subscription:Subscription.LicensesAdded", STATE),
            )
            conn.commit()

        return insert

    return make


def new_contract(ledger: Ledger) -> UUID:
    billing = BillingDetails(
        "Acme Corp", "1 Main St", "Springfield", "12345", "US", "ap@acme.example"
    )
    ada = User("ada", "Ada Admin", "ada@acme.example", administrator=True)
    account_id = ledger.open_account(
        STAFF, "Acme", Edition.ESSENTIALS, "USD", billing, ada
    ).aggregate_id
    ledger.set_payment_method(ADMIN, account_id, "pm_card_visa")
    return ledger.start_subscription(ADMIN, account_id, {"sales-cloud": 10}).aggregate_id


def ledger_commands(
    settings: StoreSettings, clock: ControllableClock, opened: list[Ledger], shared: UUID | None
) -> Callable[[int], Callable[[], None]]:
    ledger = Ledger(
        env={**settings.eventsourcing_env(), **EXISTING_TABLES},
        clock=clock,
        payment_provider=FakePaymentProvider(),
    )
    opened.append(ledger)

    def make(_: int) -> Callable[[], None]:
        subscription_id = shared or new_contract(ledger)
        with suppress(ConcurrencyConflict):  # on a shared contract, others warm up too
            ledger.add_licenses(ADMIN, subscription_id, "sales-cloud", 1)  # warm the pool

        def command() -> None:
            ledger.add_licenses(ADMIN, subscription_id, "sales-cloud", 1)

        return command

    return make


def ledger_saves(
    settings: StoreSettings, clock: ControllableClock, opened: list[Ledger]
) -> Callable[[int], Callable[[], None]]:
    ledger = Ledger(
        env={**settings.eventsourcing_env(), **EXISTING_TABLES},
        clock=clock,
        payment_provider=FakePaymentProvider(),
    )
    opened.append(ledger)
    subscription_id = uuid4()

    def make(_: int) -> Callable[[], None]:
        cause = ADMIN.cause(clock.now())
        lic = License.open(uuid4(), "sales-cloud", cause)
        ledger.save(lic)

        def save() -> None:
            lic.add(subscription_id, 1, cause.today, cause)
            ledger.save(lic)

        return save

    return make


def in_memory_ceiling(seconds: float) -> Result:
    """One writer's commands on the library's in-memory store: no database at all.

    Round-robin over many contracts: the in-memory store scans an aggregate's whole list
    of events to read the new ones, so one contract growing for the whole run would
    measure that scan, not the command."""
    clock = ControllableClock(datetime(2026, 1, 5, 9, tzinfo=UTC))
    ledger = Ledger(
        env={"PERSISTENCE_MODULE": "eventsourcing.popo"},
        clock=clock,
        payment_provider=FakePaymentProvider(),
    )
    contracts = itertools.cycle([new_contract(ledger) for _ in range(CEILING_CONTRACTS)])
    try:
        return run_writers(
            "in-memory",
            1,
            seconds,
            lambda _: lambda: ledger.add_licenses(ADMIN, next(contracts), "sales-cloud", 1),
        )
    finally:
        ledger.close()


def run_variant(
    label: str,
    writers: int,
    processes: int,
    seconds: float,
    settings: StoreSettings,
    shared: UUID | None,
) -> Result:
    """``writers`` threads running ``label``'s operation, spread over ``processes``
    processes (as ``serve --workers``), each with one Ledger for its threads."""
    if processes == 1:
        return _run_here(label, writers, seconds, settings, shared)
    context = multiprocessing.get_context("spawn")
    with context.Pool(processes) as pool:
        shares = [writers // processes + (i < writers % processes) for i in range(processes)]
        parts = pool.starmap(
            _run_here, [(label, share, seconds, settings, shared) for share in shares]
        )
    result = Result(f"{label} x{processes}", writers, max(part.seconds for part in parts))
    for part in parts:
        result.latencies.extend(part.latencies)
        result.failures += part.failures
    return result


def _run_here(
    label: str, writers: int, seconds: float, settings: StoreSettings, shared: UUID | None
) -> Result:
    clock = ControllableClock(datetime(2026, 1, 5, 9, tzinfo=UTC))
    ledgers: list[Ledger] = []
    try:
        if label == "saves":
            make = ledger_saves(settings, clock, ledgers)
        else:
            make = ledger_commands(settings, clock, ledgers, shared)
        return run_writers(label, writers, seconds, make)
    finally:
        for ledger in ledgers:
            ledger.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=5.0, help="per configuration")
    parser.add_argument("--writers", type=int, nargs="+", default=[1, 4, 16])
    parser.add_argument("--contended", action="store_true", help="also: one shared contract")
    parser.add_argument(
        "--processes",
        type=int,
        nargs="+",
        default=[1],
        help="run the ledger's writers in this many processes (each its own Ledger)",
    )
    parser.add_argument("--database-url", default=DEFAULT_URL)
    args = parser.parse_args(argv)
    with fresh_store(args.database_url) as settings:
        pg = settings.postgres
        assert pg is not None
        with psycopg.connect(pg.conninfo(), autocommit=True) as conn:
            conn.execute(
                f'CREATE TABLE "{pg.schema}".raw_events (id bigserial PRIMARY KEY,'
                " originator_id uuid NOT NULL, originator_version integer NOT NULL,"
                " topic text NOT NULL, state bytea NOT NULL,"
                " UNIQUE (originator_id, originator_version))"
            )
            server = conn.execute("SHOW server_version").fetchone()
        clock = ControllableClock(datetime(2026, 1, 5, 9, tzinfo=UTC))
        print(
            f"PostgreSQL {server[0] if server else '?'}, {args.seconds:g} s per configuration;"
            f" Python {sys.version.split()[0]}, {os.cpu_count()} CPUs",
            flush=True,
        )
        setup = Ledger(
            env=settings.eventsourcing_env(), clock=clock, payment_provider=FakePaymentProvider()
        )
        shared = new_contract(setup)
        setup.close()
        print(in_memory_ceiling(args.seconds).line(), " (commands, no database)", flush=True)
        for writers in args.writers:
            connections: list[psycopg.Connection] = []
            try:
                make = raw_inserts(pg.conninfo(), pg.schema, connections)
                raw = run_writers("INSERT", writers, args.seconds, make)
            finally:
                for connection in connections:
                    connection.close()
            print(raw.line(), flush=True)
            variants: list[tuple[str, UUID | None]] = [("saves", None), ("commands", None)]
            if args.contended and writers > 1:
                variants.append(("contended", shared))
            for label, subscription_id in variants:
                for processes in args.processes:
                    if processes > writers:
                        continue
                    mine = run_variant(
                        label, writers, processes, args.seconds, settings, subscription_id
                    )
                    print(mine.line(raw), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
