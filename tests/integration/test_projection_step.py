"""One transaction per step of the projection runner (ADR 0005).

On a real store (SQLite and PostgreSQL): a step claims every due projection's position,
applies the batch to each and commits once; a projection failing on an event is rolled
back to a savepoint of its own while the others' rows and positions commit in the same
step; a step that does not commit (the commit fails, the connection is lost) leaves
every position where it was and makes every projection forget its memory, and the next
steps apply each event once.
"""

from __future__ import annotations

import sqlite3
import threading
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import psycopg
import pytest

from adapters.store import StoreSettings
from projections.audit_trail import AuditFilter, AuditTrail, audit_rows
from projections.projection import Projection, is_permanent
from projections.runner import ProjectionRunner
from projections.store import ReadStore, Sql, postgres_connector, sqlite_connector
from service.audit.verification import ChainVerifier
from service.ledger.application import Ledger
from service.ledger.read_models import read_store
from service.reads.read_side import ReadSide, build_projections
from tests.builders import open_account
from tests.integration.test_projection_isolation import BuggyRelease


@pytest.fixture
def read_side(store: StoreSettings, ledger: Ledger) -> Iterator[ReadSide]:
    side = ReadSide(store, ledger)
    yield side
    side.stop()


def write_some(ledger: Ledger, staff: Any, admin: Any, accounts: int = 3) -> int:
    for _ in range(accounts):
        ledger.set_payment_method(admin, open_account(ledger, staff), "pm_card_visa")
    return ledger.head_position()


def runner_of(
    side: ReadSide, projections: list[Projection], store: ReadStore | None = None, **options: Any
) -> ProjectionRunner:
    runner = ProjectionRunner(
        store or side.store,
        side.read_log,
        side.ledger.head_position,
        projections,
        read_stored=side.read_stored,
        decode_stored=side.decode_stored,
        **options,
    )
    runner.prepare()
    return runner


def every_row(side: ReadSide) -> dict[str, Counter[tuple[Any, ...]]]:
    with side.readers.transaction() as sql:
        return {
            table: Counter(tuple(row) for row in sql.execute(f"SELECT * FROM {table}").fetchall())
            for projection in side.projections
            for table in projection.tables
        }


def assert_each_event_once(side: ReadSide, head: int) -> None:
    """Every read model at the head, equal to a rebuild from 0; the chain whole."""
    assert side.positions() == dict.fromkeys(side.names, head)
    with side.readers.transaction() as sql:
        rows = audit_rows(sql, AuditFilter(), 1000)
    assert [row["position"] for row in rows] == list(range(1, head + 1))
    found = ChainVerifier(side.ledger.recorder, side.readers).verify()
    assert found.ok and found.checked == head, found.summary()
    before = every_row(side)
    for projection in side.projections:
        if not is_permanent(projection):
            side.runner.reset(projection)
    side.runner.catch_up()
    assert every_row(side) == before


def forgetting(monkeypatch: pytest.MonkeyPatch, projections: list[Projection]) -> Counter[str]:
    """How many times each projection is told to forget its memory."""
    told: Counter[str] = Counter()
    for projection in projections:

        def forget(projection: Projection = projection, inner: Any = projection.forget) -> None:
            told[projection.name] += 1
            inner()

        monkeypatch.setattr(projection, "forget", forget)
    return told


def test_a_step_applies_every_projection_in_one_transaction(
    read_side, ledger, staff, admin, monkeypatch
):
    runner = runner_of(read_side, read_side.projections)
    head = write_some(ledger, staff, admin)
    opened: list[str] = []
    transaction = read_side.store.transaction

    @contextmanager
    def counted() -> Iterator[Sql]:
        opened.append("transaction")
        with transaction() as sql:
            yield sql

    monkeypatch.setattr(read_side.store, "transaction", counted)
    every = len(read_side.projections)

    assert runner.step() == head * every
    assert len(opened) == 1
    # The log read to its end: the next step looks for more from the positions it
    # committed, and finding nothing opens no transaction.
    assert runner.step() == 0
    assert len(opened) == 1
    more = write_some(ledger, staff, admin, accounts=1)
    assert runner.step() == (more - head) * every  # found: claimed and applied
    assert len(opened) == 2
    assert runner.positions() == dict.fromkeys(read_side.names, more)


def test_each_catch_up_starts_from_the_positions_it_claims(read_side, ledger, staff, admin):
    """Positions another process moved back (a rebuild) since this runner's last step."""
    head = write_some(ledger, staff, admin)
    runner = runner_of(read_side, read_side.projections)
    runner.catch_up()
    elsewhere = runner_of(read_side, read_side.projections)
    elsewhere.reset(read_side.projection("book"))

    assert runner.catch_up() == head

    assert runner.positions() == dict.fromkeys(read_side.names, head)


def counting_reads(
    monkeypatch: pytest.MonkeyPatch, runner: ProjectionRunner, store: ReadStore
) -> Counter[str]:
    """How many times ``runner`` reads the log, each way, and opens a transaction."""
    done: Counter[str] = Counter()
    read_stored, read_log, transaction = runner.read_stored, runner.read_log, store.transaction
    assert read_stored is not None

    def stored(after: int, limit: int) -> Any:
        done["read_stored"] += 1
        return read_stored(after, limit)

    def logged(after: int, limit: int) -> Any:
        done["read_log"] += 1
        return read_log(after, limit)

    @contextmanager
    def counted() -> Iterator[Sql]:
        done["transaction"] += 1
        with transaction() as sql:
            yield sql

    monkeypatch.setattr(runner, "read_stored", stored)
    monkeypatch.setattr(runner, "read_log", logged)
    monkeypatch.setattr(store, "transaction", counted)
    return done


def test_a_live_runner_reads_the_log_once_per_step_and_a_late_wake_up_costs_a_read(
    read_side, ledger, staff, admin, monkeypatch
):
    """Keeping up (``run``, a step per command): one read of the log, as stored, gives
    the hash chain its events and the others the same events to decode; the catch-up
    ends there (the wait that follows returns at once for a wake-up sent meanwhile). A
    wake-up for events a step already applied costs one read and no transaction."""
    runner = read_side.runner
    write_some(ledger, staff, admin, accounts=1)
    runner.catch_up()
    done = counting_reads(monkeypatch, runner, read_side.store)
    cycles: list[Counter[str]] = []
    stop = threading.Event()

    def wait(timeout: float) -> None:
        cycles.append(done.copy())
        done.clear()
        if len(cycles) == 1:
            write_some(ledger, staff, admin, accounts=1)  # a command: its wake-up
        elif len(cycles) == 3:
            stop.set()  # after a wake-up that finds nothing new

    runner.run(stop, wait)

    assert cycles[1] == {"read_stored": 1, "transaction": 1}
    assert cycles[2] == {"read_stored": 1}
    assert_each_event_once(read_side, ledger.head_position())


def test_positions_moved_back_elsewhere_are_claimed_once_remembering_ends(
    read_side, ledger, staff, admin
):
    """``remember``: the positions a step committed find that nothing is new for that
    long; a reset made elsewhere meanwhile is rebuilt by the first catch-up after."""
    head = write_some(ledger, staff, admin)
    runner = runner_of(read_side, read_side.projections)
    runner.catch_up()
    elsewhere = runner_of(read_side, read_side.projections)
    elsewhere.reset(read_side.projection("book"))

    assert runner.catch_up(remember=60.0) == 0
    assert runner.catch_up(remember=0.0) == head
    assert runner.positions() == dict.fromkeys(read_side.names, head)


def test_a_projection_failing_in_a_step_leaves_the_others_committed_in_that_step(
    read_side, ledger, staff, admin
):
    head = write_some(ledger, staff, admin)
    audit = read_side.projection("audit_trail")
    assert isinstance(audit, AuditTrail)
    others = [p for p in read_side.projections if p is not audit]
    # Failing amid the others, in the order the runner applies them and the order of
    # their names (the order their positions are claimed in).
    buggy = BuggyRelease(audit, fails_at=4, error=ValueError("cannot store this"))
    runner = runner_of(read_side, [*others[:2], buggy, *others[2:]], batch_size=head)

    assert runner.step() == head * len(others) + 3

    assert runner.positions() == dict.fromkeys(read_side.names, head) | {"audit_trail": 3}
    (failure,) = runner.failures().values()
    assert (failure.name, failure.position, failure.attempts) == ("audit_trail", 4, 1)
    assert failure.error == "ValueError: cannot store this"
    with read_side.readers.transaction() as sql:  # committed: another connection sees it
        rows = audit_rows(sql, AuditFilter(), 1000)
    assert [row["position"] for row in rows] == [1, 2, 3]
    found = ChainVerifier(ledger.recorder, read_side.readers).verify()
    assert found.ok and found.checked == head, found.summary()

    fixed = runner_of(read_side, read_side.projections)
    fixed.catch_up()
    assert fixed.failures() == {}
    assert_each_event_once(read_side, head)


class Losable:
    """The runner's connection to the read store, lost once when told where: at the next
    commit (``"COMMIT"``), or at the next statement that contains ``lose_at``."""

    def __init__(self, connection: Any, error: Exception) -> None:
        self.connection, self.error = connection, error
        self.lose_at: str | None = None

    def __getattr__(self, name: str) -> Any:
        return getattr(self.connection, name)

    def lose(self, what: str) -> None:
        if self.lose_at is not None and self.lose_at in what:
            self.lose_at = None
            raise self.error

    def cursor(self) -> Any:
        return LosableCursor(self, self.connection.cursor())

    def commit(self) -> None:
        self.lose("COMMIT")
        self.connection.commit()


class LosableCursor:
    def __init__(self, connection: Losable, cursor: Any) -> None:
        self.losable, self.cursor = connection, cursor

    def __getattr__(self, name: str) -> Any:
        return getattr(self.cursor, name)

    def execute(self, statement: str, params: Any = ()) -> Any:
        self.losable.lose(statement)
        return self.cursor.execute(statement, params)


def losable_store(settings: StoreSettings) -> tuple[ReadStore, list[Losable]]:
    """A store for the runner, and the connections it made, each of them losable."""
    made: list[Losable] = []

    def connect() -> Losable:
        if settings.postgres is not None:
            pg = settings.postgres
            connection: Any = postgres_connector(pg.conninfo(), pg.schema)()
            error: Exception = psycopg.OperationalError("server closed the connection")
        else:
            connection = sqlite_connector(settings.read_sqlite_path)()
            error = sqlite3.OperationalError("disk I/O error")
        made.append(Losable(connection, error))
        return made[-1]

    return ReadStore(connect, "postgres" if settings.postgres is not None else "sqlite"), made


@pytest.mark.parametrize(
    "lose_at",
    ["COMMIT", "INSERT INTO projection_positions"],
    ids=["at-the-commit", "after-every-projection-applied"],
)
def test_a_step_that_does_not_commit_moves_no_position_and_forgets_every_memory(
    read_side, ledger, staff, admin, store, monkeypatch, lose_at
):
    runner_of(read_side, read_side.projections).catch_up()
    head = write_some(ledger, staff, admin)
    before = read_side.positions()
    told = forgetting(monkeypatch, read_side.projections)
    losable, made = losable_store(store)
    runner = runner_of(read_side, read_side.projections, losable)
    assert told == Counter()
    made[-1].lose_at = lose_at

    with pytest.raises((psycopg.OperationalError, sqlite3.OperationalError)):
        runner.step()

    # Rolled back, all of it: the projections applied before the loss included.
    assert read_side.positions() == before
    assert told == Counter(read_side.names)
    losable.reset()  # as the runner's loop does after a lost connection
    runner.catch_up()
    assert len(made) == 2
    assert_each_event_once(read_side, head)


def test_a_failure_recorded_for_a_position_already_passed_is_deleted_by_the_next_step(
    read_side, ledger, staff, admin
):
    """As a runner that waited for another's claim may leave it on PostgreSQL (its claim
    read the failure before the other's commit deleted it)."""
    head = write_some(ledger, staff, admin)
    runner = runner_of(read_side, read_side.projections)
    runner.catch_up()
    with read_side.store.transaction() as sql:
        sql.execute(
            "INSERT INTO projection_failures VALUES (?, ?, ?, ?, ?, ?)",
            ("book", head - 1, "KeyError: 'stale'", 1, 1.0, 2.0),
        )
    assert set(runner.failures()) == {"book"}

    assert runner.catch_up() == 0

    assert runner.failures() == {}


@pytest.mark.parametrize("store", ["postgres"], indirect=True)
def test_two_runners_at_once_apply_each_event_once_and_never_wait_in_a_circle(
    read_side, ledger, store, staff, admin
):
    """A deposed runner may run on beside the one elected until it notices: they claim
    positions in the same order (their names'), whatever order each lists its projections
    in, so each waits for the other's commit and skips what it applied."""
    head = write_some(ledger, staff, admin, accounts=6)
    errors: list[BaseException] = []
    start = threading.Barrier(2)

    def run(runner: ProjectionRunner) -> None:
        try:
            start.wait(timeout=30)
            runner.catch_up()
        except BaseException as error:
            errors.append(error)
        finally:
            runner.store.close()

    listed = build_projections(ledger), build_projections(ledger)[::-1]
    runners = [
        runner_of(read_side, projections, read_store(store), batch_size=2) for projections in listed
    ]
    threads = [threading.Thread(target=run, args=(runner,)) for runner in runners]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not errors, errors
    assert_each_event_once(read_side, head)


def test_a_savepoint_undoes_its_block_alone_and_the_transaction_goes_on(store):
    read = read_store(store)
    try:
        with read.transaction() as sql:
            sql.execute("CREATE TABLE IF NOT EXISTS kept (k INTEGER PRIMARY KEY)")
            sql.execute("INSERT INTO kept VALUES (1)")
            refused = (sqlite3.IntegrityError, psycopg.errors.UniqueViolation)
            with pytest.raises(refused), sql.savepoint("s"):
                sql.execute("INSERT INTO kept VALUES (2)")
                sql.execute("INSERT INTO kept VALUES (1)")
            with sql.savepoint("s"):
                sql.execute("INSERT INTO kept VALUES (3)")
        with read.transaction() as sql:
            assert sql.execute("SELECT k FROM kept ORDER BY k").fetchall() == [(1,), (3,)]
    finally:
        read.close()
