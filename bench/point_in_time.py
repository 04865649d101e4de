"""How fast point-in-time reads are: one account of 10,000 events, and the whole book.

    .venv/bin/python bench/point_in_time.py                    # SQLite: 10,000 + 100,000
    .venv/bin/python bench/point_in_time.py --contracts 20000  # a quicker run
    .venv/bin/python bench/point_in_time.py --contracts 50000 \
        --database-url postgresql://postgres@127.0.0.1:5432/test
    .venv/bin/python bench/point_in_time.py --only-book --keep book100k  # the book alone

``--only-book`` times the book report alone, on a book whose copies' rows are copied from
the templates' rows as their events are written (``--project-book``: projected from the
log instead; ``--check-copies``: both, compared); ``--keep NAME`` keeps the store, and a
later run measures it again without writing it.

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
default), against ``book_report_scanned`` (the same figures from the book's rows alone,
as before its totals), and against a plain scan of the same tables with no time
conditions (every row read and summed once: about the least any report over the rows
could cost).
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

from _log import ADA, ADMIN, BILLING, STAFF, START, catch_up, seed_worlds, write_copies
from _stores import add_keep_argument, add_store_arguments, fresh_store, store_for

from adapters.clock import ControllableClock
from adapters.payments import FakePaymentProvider
from adapters.store import StoreSettings
from domain.account import Account
from domain.catalog import Edition
from domain.subscription import Subscription
from projections.book import TABLES, TOTALS, Temporal, book_report, book_report_scanned, fill_totals
from projections.point_in_time import versions_of_account
from projections.runner import ProjectionRunner
from projections.store import CONNECTION_ERRORS, ReaderPool, ReadStore, Sql
from service.config.collector import freeze_what_started, tune_for_long_running
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


# Every column of a book table, as copied.
def _columns(table: Temporal) -> tuple[str, ...]:
    return (
        "aggregate_id",
        "row_key",
        *table.value_names,
        "effective_from",
        "effective_to",
        "valid_from_position",
        "valid_from",
        "valid_to_position",
        "valid_to",
    )


def book_rows(sql: Sql) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of the book's tables, every column, sorted."""
    return {
        name: sorted(
            (tuple(row) for row in sql.execute(f"SELECT {columns} FROM {name}").fetchall()),
            key=repr,  # NULLs among strings
        )
        for name, columns in [(t.name, ", ".join(_columns(t))) for t in TABLES] + [(TOTALS, "*")]
    }


class BookCopies:
    """The book's rows of copied events, made as ``write_copies`` writes each copy: the
    templates' rows as the projection wrote them, with the copy's ids and positions (a
    copy's events are its template's, ids aside, at positions ``T`` times its number
    further on). ``--check-copies`` holds them equal to the book the projection makes of
    the same log."""

    def __init__(
        self, store: ReadStore, templates: dict[str, list[tuple[Any, ...]]], shift: int, size: int
    ) -> None:
        self.store, self.templates, self.shift, self.size = store, templates, shift, size
        self.pending: dict[str, list[tuple[Any, ...]]] = {t.name: [] for t in TABLES}
        self.templates.pop(TOTALS, None)
        self.written = 0

    def copied(self, number: int, ids: Mapping[bytes, UUID]) -> None:
        fresh = {str(UUID(old.decode())): str(new) for old, new in ids.items()}
        shift = self.shift + number * self.size
        for table, rows in self.templates.items():
            self.pending[table] += [_copy(row, fresh, shift) for row in rows]
        if sum(map(len, self.pending.values())) >= 20_000:
            self.flush()

    def flush(self) -> None:
        with self.store.transaction() as sql:
            for table in TABLES:
                sql.insert_many(table.name, _columns(table), self.pending[table.name])
                self.written += len(self.pending[table.name])
                self.pending[table.name] = []


def _copy(row: tuple[Any, ...], fresh: dict[str, str], shift: int) -> tuple[Any, ...]:
    aggregate, key, account, *rest = row
    *values, opened, at, closed, until = rest
    closed = None if closed is None else closed + shift
    return (fresh[aggregate], key, fresh[account], *values, opened + shift, at, closed, until)


def only_book(args: argparse.Namespace, settings: StoreSettings) -> None:
    """The book report alone, on a book of ``--contracts`` (kept with ``--keep``)."""
    clock = ControllableClock(START)
    ledger = Ledger(
        env=settings.eventsourcing_env(), clock=clock, payment_provider=FakePaymentProvider()
    )
    began = time.perf_counter()
    read_side = ReadSide(settings, ledger)  # sums the totals of a book kept without them
    try:
        store = "PostgreSQL" if settings.postgres else "SQLite"
        print(f"{store}; Python {sys.version.split()[0]}; {args.seconds:g} s per measurement")
        print(f"(the read side started in {time.perf_counter() - began:.1f} s)", flush=True)
        book_projection = read_side.projection("book")
        runner = ProjectionRunner(
            read_side.store, read_side.read_log, ledger.head_position, [book_projection]
        )
        if ledger.head_position() == 0:
            write_book(args, ledger, clock, runner, read_side.store)
        else:
            print(f"the store kept: {ledger.head_position():,} events", flush=True)
        if runner.lag()["book"]:
            raise SystemExit("the book is not at the log's head: delete the kept store")
        readers = read_side.readers
        if settings.postgres is not None:
            with readers.transaction() as sql:  # as autovacuum would after the load
                for table in TABLES:
                    sql.execute(f"ANALYZE {table.name}")
        with readers.transaction() as sql:
            # As of now: the last instant the book knows (the end of the templates' year).
            now = max(
                datetime.fromisoformat(sql.scalar(f"SELECT MAX(valid_from) FROM {t.name}"))
                for t in TABLES
            )
            counts = [sql.scalar(f"SELECT COUNT(*) FROM {t.name}") for t in TABLES]
        print(
            "book rows: "
            + ", ".join(f"{t.name} {n:,}" for t, n in zip(TABLES, counts, strict=True))
        )
        measure_book(readers, now, args.seconds)
    finally:
        read_side.stop()
        ledger.close()


def write_book(
    args: argparse.Namespace,
    ledger: Ledger,
    clock: ControllableClock,
    runner: ProjectionRunner,
    store: ReadStore,
) -> None:
    """The templates' commands and their copies in the log; the book's rows projected
    from it (``--project-book``) or copied from the templates' rows."""
    began = time.perf_counter()
    commands = seed_worlds(ledger, clock, WORLDS)
    size = ledger.head_position()
    catch_up(runner)  # the templates' rows
    print(f"the templates: {size:,} events in {time.perf_counter() - began:.1f} s", flush=True)
    copies = -(-(args.contracts - WORLDS) // WORLDS)
    with store.transaction() as sql:
        templates = book_rows(sql)
    maker = BookCopies(store, templates, size, size)
    began = time.perf_counter()
    written = write_copies(
        ledger.recorder,
        commands,
        copies * size,
        interleaved=False,
        copied=None if args.project_book else maker.copied,
    )
    maker.flush()
    head = ledger.head_position()
    assert head == size * (copies + 1), "a copy's positions are its template's, shifted"
    seconds = time.perf_counter() - began
    print(f"the copies: {written:,} events in {seconds:.1f} s", flush=True)
    if args.project_book:
        began = time.perf_counter()
        catch_up(runner)
        seconds = time.perf_counter() - began
        print(f"the book projected: {head:,} events in {seconds:.1f} s", flush=True)
        return
    began = time.perf_counter()
    with store.transaction() as sql:
        sql.execute(f"DELETE FROM {TOTALS}")  # the templates'
        fill_totals(sql)
        sql.execute("UPDATE projection_positions SET position = ? WHERE name = 'book'", (head,))
    print(
        f"the book's rows copied: {maker.written:,} in {seconds:.1f} s with the events;"
        f" its totals summed (set-based) in {time.perf_counter() - began:.1f} s",
        flush=True,
    )
    if args.check_copies:
        with store.transaction() as sql:
            copied = book_rows(sql)
        book = next(iter(runner.projections))
        runner.reset(book)
        began = time.perf_counter()
        catch_up(runner)
        print(f"  projected again in {time.perf_counter() - began:.1f} s", flush=True)
        with store.transaction() as sql:
            projected = book_rows(sql)
        assert projected == copied, "the copied rows are not what the projection makes"
        print("  the copied rows are the projected rows, every column", flush=True)


def measure_book(readers: ReaderPool, now: datetime, seconds: float) -> None:
    """``book_report`` (from the totals) as of the middle of the year and as of now,
    against the report scanning the book's rows (as before the totals), and the plain
    scan of every row."""
    book_middle = START + timedelta(days=180)

    def book(at: datetime) -> Any:
        with readers.transaction() as sql:
            return book_report(sql, at)

    def scanned(at: datetime) -> Any:
        with readers.transaction() as sql:
            return book_report_scanned(sql, at)

    for at in (book_middle, now):
        assert book(at) == scanned(at), f"the totals' report differs as of {at}"
    print(
        f"book: {sum(book(now).active_contracts.values()):,} contracts in force"
        f" as of {now:%Y-%m-%d %H:%M},"
        f" {sum(book(book_middle).active_contracts.values()):,} on {book_middle:%Y-%m-%d}"
        " (the same from the totals and from the rows)",
        flush=True,
    )
    then_p50, now_p50 = compare("book_report (totals)", book, book_middle, now, seconds)
    scan_then, scan_now = compare("book_report_scanned (rows)", scanned, book_middle, now, seconds)

    def scan() -> Any:
        with readers.transaction() as sql:
            return plain_scan(sql)

    print("book tables, plain scan (no time conditions)")
    floor, _ = timed("every row", scan, seconds)
    print(
        f"  totals / rows: as of then {then_p50 / scan_then:.2f}, as of now"
        f" {now_p50 / scan_now:.2f}; rows / plain scan: as of then {scan_then / floor:.2f},"
        f" as of now {scan_now / floor:.2f}",
        flush=True,
    )


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
    parser.add_argument(
        "--only-book",
        action="store_true",
        help="the book report alone (no long account); the copies' book rows are the"
        " templates' rows, copied with the events (see --project-book, --check-copies)",
    )
    parser.add_argument(
        "--project-book", action="store_true", help="--only-book: project the whole log"
    )
    parser.add_argument(
        "--check-copies",
        action="store_true",
        help="--only-book: then project the log again and compare (small sizes)",
    )
    parser.add_argument(
        "--default-gc",
        action="store_true",
        help="keep the interpreter's garbage collector settings; by default the reads run"
        " as in a served process: the collector tuned and what the seeding left alive"
        " frozen once the projections are current (service/config/collector.py, ADR 0031)",
    )
    add_store_arguments(parser)
    add_keep_argument(parser)
    args = parser.parse_args(argv)
    if args.only_book:
        with store_for(args.database_url, args.dir, args.keep) as settings:
            only_book(args, settings)
        return 0
    if args.keep:
        raise SystemExit("--keep: with --only-book")
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
            if not args.default_gc:
                tune_for_long_running()
                freeze_what_started()

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
            measure_book(readers, now, args.seconds)
        finally:
            if read_side is not None:
                read_side.stop()
            ledger.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
