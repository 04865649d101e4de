"""How fast point-in-time reads are: one account of 10,000 events, and the whole book.

    .venv/bin/python bench/point_in_time.py                    # SQLite: 10,000 + 100,000
    .venv/bin/python bench/point_in_time.py --contracts 20000  # a quicker run
    .venv/bin/python bench/point_in_time.py --contracts 50000 \
        --database-url postgresql://postgres@127.0.0.1:5432/test

In a fresh store (a SQLite file in a temporary directory, or a PostgreSQL schema of its
own, dropped at the end) it writes:

- one account whose aggregates total ``--events`` events: opened, then ``add_licenses``
  of one seat, command after command through the ``Ledger``, the clock moving on between
  them over 350 days (each command writes a contract change, a seat added to the
  License, and a prorated invoice);
- a book of ``--contracts`` contracts: 50 customers' real commands run through the
  ``Ledger`` over a year (bench/_log.py), then copies of their events with fresh ids;

then runs the projections the reads below use (the audit trail, the recorded-time index;
the account overview, whose documents of every invoice version ``account_at`` reads
(ADR 0030); and the book; not the hash chain) to the head, and on PostgreSQL
analyzes their tables (as autovacuum does within a minute of such a load; SQLite has no
statistics unless asked, and the service never asks). It then times the read paths of
the HTTP API's ``as_of`` queries, called directly (no HTTP, no token or access check, no
JSON), repeated for ``--seconds`` (at least 10 times), p50 / p95:

- the contract ``aggregate_at`` (``GET /v1/subscriptions/{id}?as_of=``);
- the account ``aggregate_at`` (``GET /v1/accounts/{id}?as_of=``);
- the account with its contracts, seats and invoices, ``account_at``
  (``GET /v1/accounts/{id}/invoices?as_of=``, ``/subscriptions?as_of=``,
  ``subledger history``);

each as of the instant the account had half its events, against the same read as of now
(``account_at`` also against ``account_at_by_folding``, every invoice folded, as before
ADR 0030)
(its head, where every event is known): the same code on the same store, so the ratio
is what reaching into the past costs. And ``book_report`` (``GET /v1/reports/book``) as
of the middle of the book's year, against the same report as of now (the route's
default), and against a plain scan of the same tables with no time conditions (every
row read and summed once: about the least any report over them could cost).
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

from _log import ADA, ADMIN, BILLING, STAFF, START, catch_up, seed_worlds, write_copies
from _stores import add_store_arguments, fresh_store

from adapters.clock import ControllableClock
from adapters.payments import FakePaymentProvider
from domain.account import Account
from domain.catalog import Edition
from domain.subscription import Subscription
from projections.book import TABLES, book_report
from projections.point_in_time import versions_of_account
from projections.runner import ProjectionRunner
from projections.store import CONNECTION_ERRORS, Sql
from service.ledger.application import Ledger
from service.reads.point_in_time import account_at, account_at_by_folding, aggregate_at
from service.reads.read_side import ReadSide

WORLDS = 50  # template customers: one contract each, opened evenly over a year
HISTORY = timedelta(days=350)  # the long account's history, within its 12-month term


def long_account(
    ledger: Ledger, clock: ControllableClock, events: int
) -> tuple[UUID, UUID, datetime]:
    """An account whose aggregates total ``events`` events; returns its id, its contract's,
    and the instant it had half of them."""
    first = ledger.head_position() + 1
    account_id = ledger.open_account(
        STAFF, "Big Corp", Edition.ENTERPRISE, "USD", BILLING, ADA
    ).aggregate_id
    ledger.set_payment_method(ADMIN, account_id, "pm_card_visa")
    contract_id = ledger.start_subscription(ADMIN, account_id, {"sales-cloud": 10}).aggregate_id
    step = HISTORY / (events / 3)  # three events a command
    middle: datetime | None = None
    while ledger.head_position() - first + 1 < events:
        clock.advance(step)
        ledger.add_licenses(ADMIN, contract_id, "sales-cloud", 1)
        if middle is None and ledger.head_position() - first + 1 >= events // 2:
            middle = clock.now()
    assert middle is not None
    return account_id, contract_id, middle


def plain_scan(sql: Sql) -> list[Any]:
    """The book's four sums over every row of its tables, with no time conditions."""
    contracts, lines, seats, invoices = (t.name for t in TABLES)
    return [
        sql.execute(f"SELECT currency, COUNT(*) FROM {contracts} GROUP BY currency").fetchall(),
        sql.execute(
            f"SELECT product_code, SUM(held) FROM {seats} GROUP BY product_code"
        ).fetchall(),
        sql.execute(
            f"SELECT currency, (CAST(SUM(annual_minor) AS BIGINT) + 6) / 12 FROM {lines}"
            " GROUP BY currency"
        ).fetchall(),
        sql.execute(
            f"SELECT currency, SUM(balance_minor), COUNT(*) FROM {invoices} GROUP BY currency"
        ).fetchall(),
    ]


def timed(label: str, read: Callable[[], Any], seconds: float) -> tuple[float, float]:
    """p50 and p95 of ``read`` in ms, repeated for ``seconds`` and at least 10 times."""
    for attempt in (1, 2, 3):
        try:
            times = _repeated(read, seconds)
            break
        except CONNECTION_ERRORS as error:
            # The shared server restarted: the pools reconnect; measure again from scratch.
            print(f"  (lost the connection: {type(error).__name__}; measuring again)")
            if attempt == 3:
                raise
            time.sleep(2)
    times.sort()
    p50, p95 = times[len(times) // 2] * 1000, times[int(0.95 * len(times))] * 1000
    print(
        f"  {label:10} {len(times):>6,} reads  p50 {p50:10.3f} ms  p95 {p95:10.3f} ms", flush=True
    )
    return p50, p95


def _repeated(read: Callable[[], Any], seconds: float) -> list[float]:
    read()  # warm
    times: list[float] = []
    deadline = time.perf_counter() + seconds
    while time.perf_counter() < deadline or len(times) < 10:
        began = time.perf_counter()
        read()
        times.append(time.perf_counter() - began)
    return times


def compare(
    label: str, read: Callable[[datetime], Any], then: datetime, now: datetime, seconds: float
) -> tuple[float, float]:
    """p50 of ``read`` as of ``then`` and as of ``now``, and their ratio."""
    print(f"{label}", flush=True)
    past, _ = timed("as of then", lambda: read(then), seconds)
    head, _ = timed("as of now", lambda: read(now), seconds)
    print(f"  then / now = {past / head:.2f}", flush=True)
    return past, head


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=10_000, help="the long account's events")
    parser.add_argument("--contracts", type=int, default=100_000, help="contracts in the book")
    parser.add_argument("--seconds", type=float, default=5.0, help="per measurement")
    add_store_arguments(parser)
    args = parser.parse_args(argv)
    with fresh_store(args.database_url, args.dir) as settings:
        clock = ControllableClock(START)
        ledger = Ledger(
            env=settings.eventsourcing_env(), clock=clock, payment_provider=FakePaymentProvider()
        )
        read_side: ReadSide | None = None
        try:
            store = "PostgreSQL" if settings.postgres else "SQLite"
            print(f"{store}; Python {sys.version.split()[0]}; {args.seconds:g} s per measurement")
            began = time.perf_counter()
            commands = seed_worlds(ledger, clock, WORLDS)
            book_middle = START + timedelta(days=180)
            account_id, contract_id, middle = long_account(ledger, clock, args.events)
            now = clock.now()
            print(
                f"the account: {ledger.head_position() - sum(map(len, commands)):,} events,"
                f" written with the templates in {time.perf_counter() - began:.1f} s",
                flush=True,
            )
            template_events = sum(map(len, commands))
            copies = -(-(args.contracts - WORLDS - 1) // WORLDS)
            began = time.perf_counter()
            written = write_copies(
                ledger.recorder, commands, copies * template_events, interleaved=False
            )
            print(
                f"the book: {written:,} events written in {time.perf_counter() - began:.1f} s",
                flush=True,
            )
            read_side = ReadSide(settings, ledger)
            used = [
                read_side.projection(name) for name in ("audit_trail", "account_overview", "book")
            ]
            runner = ProjectionRunner(
                read_side.store, read_side.read_log, ledger.head_position, used
            )
            began = time.perf_counter()
            catch_up(runner)
            head = ledger.head_position()
            seconds = time.perf_counter() - began
            print(
                f"projected {head:,} events in {seconds:.1f} s ({head / seconds:,.0f}/s)",
                flush=True,
            )
            readers = read_side.readers
            if settings.postgres is not None:
                # What autovacuum does within a minute of such a load: plans from statistics.
                with readers.transaction() as sql:
                    tables = (
                        "audit_events",
                        "overview_invoice_versions",
                        *(t.name for t in TABLES),
                    )
                    for table in tables:
                        sql.execute(f"ANALYZE {table}")

            def contract(at: datetime) -> Any:
                with readers.transaction() as sql:
                    return aggregate_at(ledger, sql, contract_id, at, None, Subscription)

            def account(at: datetime) -> Any:
                with readers.transaction() as sql:
                    return aggregate_at(ledger, sql, account_id, at, None, Account)

            def whole_account(at: datetime) -> Any:
                with readers.transaction() as sql:
                    return account_at(ledger, sql, account_id, at)

            def by_folding(at: datetime) -> Any:
                with readers.transaction() as sql:
                    return account_at_by_folding(ledger, sql, account_id, at)

            def one_by_one(at: datetime) -> Any:
                """The baseline of ``account_at``: ``aggregate_at`` for each aggregate of the
                account (four round trips each), as account_at did before issue 17."""
                with readers.transaction() as sql:
                    known = versions_of_account(
                        sql, account_id, at, at.date(), ("Subscription", "License", "Invoice")
                    )
                    return [aggregate_at(ledger, sql, account_id, at, None, Account)] + [
                        aggregate_at(ledger, sql, k.aggregate_id, at) for k in known
                    ]

            def book(at: datetime) -> Any:
                with readers.transaction() as sql:
                    return book_report(sql, at)

            seats_then = contract(middle).aggregate.line_for("sales-cloud").quantity
            whole = whole_account(middle)
            print(
                f"as of {middle:%Y-%m-%d %H:%M} the contract held {seats_then:,} seats,"
                f" the account {len(whole.invoices):,} invoices (now: "
                f"{len(whole_account(now).invoices):,})",
                flush=True,
            )
            compare("contract: aggregate_at", contract, middle, now, args.seconds)
            compare("account: aggregate_at", account, middle, now, args.seconds)
            compare(
                "account with contracts, seats, invoices: account_at",
                whole_account,
                middle,
                now,
                args.seconds,
            )
            compare(
                "the same, every invoice folded: account_at_by_folding (before ADR 0030)",
                by_folding,
                middle,
                now,
                args.seconds,
            )
            compare(
                "the same, one aggregate_at per aggregate (the baseline)",
                one_by_one,
                middle,
                now,
                args.seconds,
            )
            in_book = sum(book(now).active_contracts.values())
            print(
                f"book: {in_book:,} contracts in force now,"
                f" {sum(book(book_middle).active_contracts.values()):,} on {book_middle:%Y-%m-%d}",
                flush=True,
            )
            then_p50, now_p50 = compare("book_report", book, book_middle, now, args.seconds)
            with readers.transaction() as sql:
                scanned = plain_scan(sql)
            assert sum(int(n) for _, n in scanned[0]) >= in_book

            def scan() -> Any:
                with readers.transaction() as sql:
                    return plain_scan(sql)

            print("book tables, plain scan (no time conditions)")
            floor, _ = timed("every row", scan, args.seconds)
            print(
                f"  report as of then / scan = {then_p50 / floor:.2f},"
                f" as of now / scan = {now_p50 / floor:.2f}"
            )
            if settings.postgres is None:
                # SQLite plans without statistics unless asked: the same, after ANALYZE.
                with readers.transaction() as sql:
                    sql.execute("ANALYZE")
                print("after ANALYZE (SQLite)")
                then_p50, now_p50 = compare("book_report", book, book_middle, now, args.seconds)
                floor, _ = timed("every row", scan, args.seconds)
                print(
                    f"  report as of then / scan = {then_p50 / floor:.2f},"
                    f" as of now / scan = {now_p50 / floor:.2f}"
                )
        finally:
            if read_side is not None:
                read_side.stop()
            ledger.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
