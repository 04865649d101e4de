"""The write path under concurrent writers: the log stays in commit order, every
acknowledged command is in it exactly once, and no failed command is in it (ADR 0013)."""

from __future__ import annotations

import itertools
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any
from uuid import UUID, uuid4

import psycopg
import pytest
from eventsourcing.persistence import IntegrityError, OperationalError, StoredEvent
from prometheus_client import REGISTRY

from adapters.clock import SystemClock
from adapters.group_commit import GroupCommitRecorder, _arguments, _Save
from adapters.payments import FakePaymentProvider
from adapters.store import StoreSettings
from domain.errors import DomainError
from domain.license import License
from domain.subscription import Subscription
from service.ledger.application import Ledger
from service.ledger.context import CommandContext
from service.ledger.errors import ConcurrencyConflict
from tests.builders import open_account
from tests.conftest import FreshSchema, require_postgres

WRITERS_PER_LEDGER = 8
COMMANDS_PER_WRITER = 20


@dataclass
class Outcome:
    request_id: str
    began: float
    ended: float
    position: int | None = None  # of the command's last event, when acknowledged
    failed: str | None = None


def _contract(ledger: Ledger, staff: CommandContext, admin: CommandContext) -> UUID:
    account_id = open_account(ledger, staff)
    return ledger.start_subscription(admin, account_id, {"sales-cloud": 5}).aggregate_id


def _writer(
    ledger: Ledger,
    own: UUID,
    shared: UUID,
    outcomes: list[Outcome],
    start: threading.Barrier,
) -> Callable[[], None]:
    """Adds seats to its own contract and to one all writers share (so that some saves
    conflict); every third command on the shared one asks for no seats and is refused."""

    def run() -> None:
        start.wait()
        for n in range(COMMANDS_PER_WRITER):
            request_id = uuid4().hex
            ctx = CommandContext("ada", "admin", request_id=request_id)
            outcome = Outcome(request_id, time.monotonic(), 0.0)
            try:
                if n % 2 == 0:
                    receipt = ledger.add_licenses(ctx, own, "sales-cloud", 1)
                elif n % 3 == 0:
                    receipt = ledger.add_licenses(ctx, shared, "sales-cloud", 0)
                else:
                    receipt = ledger.add_licenses(ctx, shared, "sales-cloud", 1)
                outcome.position = receipt.position
            except (ConcurrencyConflict, DomainError) as error:
                outcome.failed = type(error).__name__
            outcome.ended = time.monotonic()
            outcomes.append(outcome)

    return run


def test_concurrent_writers_keep_the_log_in_commit_order_and_exactly_once(
    make_ledger: Callable[[], Ledger], staff: CommandContext, admin: CommandContext
) -> None:
    # Two Ledgers stand for two server processes: each groups its own writers' saves.
    ledgers = [make_ledger(), make_ledger()]
    shared = _contract(ledgers[0], staff, admin)
    owns = [_contract(ledgers[0], staff, admin) for _ in range(2 * WRITERS_PER_LEDGER)]
    head_before = ledgers[0].head_position()
    outcomes: list[Outcome] = []
    start = threading.Barrier(2 * WRITERS_PER_LEDGER)
    threads = [
        threading.Thread(target=_writer(ledgers[i % 2], own, shared, outcomes, start))
        for i, own in enumerate(owns)
    ]
    tailed: list[int] = []
    done = threading.Event()
    tail = threading.Thread(target=_tail, args=(ledgers[1], head_before, tailed, done))
    tail.start()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    done.set()
    tail.join()

    log = ledgers[0].recorder.select_notifications(head_before + 1, 1_000_000)
    positions = [n.id for n in log]
    # Strictly increasing, and a reader following the log while it was written saw the
    # same sequence: no event ever became visible behind a reader's cursor.
    assert all(a < b for a, b in itertools.pairwise(positions))
    assert tailed == positions
    # And with no holes: a refused or conflicting save takes no position (ADR 0013).
    assert positions == list(range(head_before + 1, head_before + 1 + len(positions)))

    # Each request's positions, and the contracts it changed, in one pass over the log.
    positions_of: defaultdict[str, list[int]] = defaultdict(list)
    contracts_of: defaultdict[str, list[UUID]] = defaultdict(list)
    for notification in log:
        event = ledgers[0].mapper.to_domain_event(notification)
        positions_of[event.meta.request_id].append(notification.id)
        if isinstance(event, Subscription.Event):
            contracts_of[event.meta.request_id].append(event.originator_id)
    acknowledged = [o for o in outcomes if o.failed is None]
    failed = [o for o in outcomes if o.failed is not None]
    assert len(outcomes) == 2 * WRITERS_PER_LEDGER * COMMANDS_PER_WRITER
    assert acknowledged and failed  # both kinds happened, or the test proves nothing
    for outcome in acknowledged:
        # Exactly one contract change per acknowledged command, and its receipt names the
        # position of its last event.
        assert len(contracts_of[outcome.request_id]) == 1
        assert outcome.position == max(positions_of[outcome.request_id])
    for outcome in failed:
        assert outcome.request_id not in positions_of
    assert set(positions_of) == {o.request_id for o in acknowledged}

    # Commit order: a command acknowledged before another began is earlier in the log.
    for later in acknowledged:
        for earlier in acknowledged:
            if earlier.ended < later.began:
                assert earlier.position is not None
                assert earlier.position < min(positions_of[later.request_id])

    # No update lost: the shared contract has every acknowledged seat.
    shared_adds = sum(1 for o in acknowledged if contracts_of[o.request_id] == [shared])
    assert ledgers[0].subscription(shared).lines["sales-cloud"].quantity == 5 + shared_adds


def _tail(ledger: Ledger, after: int, seen: list[int], done: threading.Event) -> None:
    """Follow the log as a consumer does: from its cursor, page by page, until the writers
    are done and nothing more is there."""
    cursor = after
    while True:
        finished = done.is_set()
        page = ledger.recorder.select_notifications(cursor + 1, 200)
        seen.extend(n.id for n in page)
        if page:
            cursor = page[-1].id
        elif finished:
            return
        else:
            time.sleep(0.001)


# -- the group commit itself (PostgreSQL) ------------------------------------------------


def _stored(originator_id: UUID, version: int) -> StoredEvent:
    return StoredEvent(originator_id, version, "tests:Event", b"{}")


@pytest.fixture
def postgres_store() -> Iterator[StoreSettings]:
    require_postgres()
    schema = FreshSchema()
    schema.settings.prepare()
    try:
        yield schema.settings
    finally:
        schema.drop()


def test_waiting_saves_are_committed_together_and_a_conflict_fails_alone(
    postgres_store: StoreSettings,
) -> None:
    store = postgres_store
    assert store.postgres is not None
    ledger = Ledger(
        env=store.eventsourcing_env(), clock=SystemClock(), payment_provider=FakePaymentProvider()
    )
    try:
        _check_group_commit(ledger, store)
    finally:
        ledger.close()


def _batches() -> tuple[float, float]:
    """The group commit's histogram of batch sizes: (batches, saves) in this process."""
    count = REGISTRY.get_sample_value("subledger_group_commit_batch_saves_count") or 0
    return count, REGISTRY.get_sample_value("subledger_group_commit_batch_saves_sum") or 0


def _check_group_commit(ledger: Ledger, store: StoreSettings) -> None:
    recorder = ledger.recorder
    assert isinstance(recorder, GroupCommitRecorder)
    batches_before, saves_before = _batches()
    taken = uuid4()
    recorder.insert_events([_stored(taken, 1)])
    pg = store.postgres
    assert pg is not None
    table = f'"{pg.schema}".subledger_events'
    saves = {
        "first": [_stored(uuid4(), 1)],
        "fresh": [_stored(uuid4(), 1), _stored(uuid4(), 1)],
        "stale": [_stored(uuid4(), 1), _stored(taken, 1)],  # version 1 is taken
        "next": [_stored(taken, 2)],
        "same version again": [_stored(taken, 2)],  # taken by "next" in the same batch
    }
    results: dict[str, object] = {}

    def save(name: str) -> None:
        try:
            results[name] = list(recorder.insert_events(saves[name]) or [])
        except IntegrityError as error:
            results[name] = error

    # Another writer holds the table lock: the first save waits for it inside its
    # transaction, and the others queue up behind it in the group.
    with psycopg.connect(pg.conninfo()) as blocker:
        blocker.execute(f"LOCK TABLE {table} IN EXCLUSIVE MODE")
        first = threading.Thread(target=save, args=("first",))
        first.start()
        _until(lambda: recorder._writing)
        others = [threading.Thread(target=save, args=(name,)) for name in list(saves)[1:]]
        for queued, thread in enumerate(others, start=1):
            thread.start()  # one at a time, so that the queue keeps this order
            _until(lambda n=queued: len(recorder._queue) == n)
        blocker.rollback()
    for thread in [first, *others]:
        thread.join()
    # Batches: "taken" alone, "first" alone, the three queued together, then the save
    # that claims a version "next" claimed in that batch.
    batches, written = _batches()
    assert (batches - batches_before, written - saves_before) == (4, 6)

    assert isinstance(results["stale"], IntegrityError)
    assert isinstance(results["same version again"], IntegrityError)
    fresh, following = results["fresh"], results["next"]
    assert isinstance(fresh, list) and isinstance(following, list)
    assert len(fresh) == 2 and len(following) == 1
    assert fresh[0] < fresh[1] < following[0]  # in the order they were given
    with psycopg.connect(pg.conninfo()) as conn:
        rows = conn.execute(
            f"SELECT notification_id, xmin::text FROM {table} WHERE notification_id = ANY(%s)",
            ([*fresh, *following, *results["first"]],),  # type: ignore[misc]
        ).fetchall()
        stale_rows = conn.execute(
            f"SELECT count(*) FROM {table} WHERE originator_id = %s",
            (saves["stale"][0].originator_id,),
        ).fetchone()
    transactions = dict(rows)
    # The queued saves shared one transaction, after the first's.
    assert transactions[fresh[0]] == transactions[fresh[1]] == transactions[following[0]]
    assert transactions[results["first"][0]] != transactions[fresh[0]]  # type: ignore[index]
    assert stale_rows == (0,)  # all or nothing: its fresh event was not written either


def test_the_version_check_probes_the_key_even_with_a_plan_made_on_a_small_table(
    postgres_store: StoreSettings,
) -> None:
    # A generic plan made while the table was small once joined the batch to a scan of the
    # whole table: every save then read the whole log, slower as the log grew, until the
    # next ANALYZE. The probe must stay an index lookup per event, planned on an empty
    # table never analyzed, and on a tiny one just analyzed.
    ledger = Ledger(
        env=postgres_store.eventsourcing_env(),
        clock=SystemClock(),
        payment_provider=FakePaymentProvider(),
    )
    try:
        recorder = ledger.recorder
        assert isinstance(recorder, GroupCommitRecorder)
        assert postgres_store.postgres is not None
        table = "subledger_events"
        batch = [_Save([_stored(uuid4(), 1), _stored(uuid4(), 1)]), _Save([_stored(uuid4(), 3)])]
        explain = f"EXPLAIN (FORMAT JSON) EXECUTE {recorder.statement}{_arguments(batch)}"
        with psycopg.connect(postgres_store.postgres.conninfo(), autocommit=True) as conn:

            def plan() -> Any:  # in the batch's own transaction, as a batch is planned
                conn.execute(recorder.setup)
                try:
                    return conn.execute(explain).fetchone()
                finally:
                    conn.execute("ROLLBACK")

            conn.execute("SET plan_cache_mode = force_generic_plan")
            conn.execute(recorder._prepare)
            plans = [plan()]
            recorder.insert_events([_stored(uuid4(), 1) for _ in range(3)])
            conn.execute(f'VACUUM ANALYZE "{postgres_store.postgres.schema}".{table}')
            plans.append(plan())  # planned again after ANALYZE
        for row in plans:
            assert row is not None
            nodes = _plan_nodes(row[0][0]["Plan"])
            scans = [
                n for n in nodes if n.get("Relation Name") == table and "Scan" in n["Node Type"]
            ]
            assert scans, "the events table is not in the plan"
            assert {node["Node Type"] for node in scans} <= {"Index Scan", "Index Only Scan"}, scans
    finally:
        ledger.close()


def _plan_nodes(node: dict[str, Any]) -> Iterator[dict[str, Any]]:
    yield node
    for child in node.get("Plans", []):
        yield from _plan_nodes(child)


def test_a_batch_written_as_sql_literals_keeps_every_byte(postgres_store: StoreSettings) -> None:
    # The batch travels as literals in the query text (ADR 0013): quotes, backslashes
    # and every byte value must come back as they were given, and ids must be UUIDs.
    ledger = Ledger(
        env=postgres_store.eventsourcing_env(),
        clock=SystemClock(),
        payment_provider=FakePaymentProvider(),
    )
    try:
        recorder = ledger.recorder
        assert isinstance(recorder, GroupCommitRecorder)
        odd = StoredEvent(uuid4(), 1, "it's a \\ topic'); --", bytes(range(256)) + b"'\\")
        plain = StoredEvent(uuid4(), 1, "t", b"")
        recorder.insert_events([odd])
        recorder.insert_events([plain])
        for given in (odd, plain):
            (stored,) = recorder.select_events(given.originator_id)
            assert (stored.topic, stored.state) == (given.topic, given.state)
        with pytest.raises(ValueError):
            _arguments([_Save([StoredEvent("'); DROP TABLE x; --", 1, "t", b"")])])  # type: ignore[arg-type]
        with pytest.raises(ValueError):
            _arguments([_Save([StoredEvent(uuid4(), "1); --", "t", b"")])])  # type: ignore[arg-type]
        # Through the write path: refused before it joins a batch, and nothing written.
        head = ledger.head_position()
        bad = StoredEvent(uuid4(), "2); --", "t", b"")  # type: ignore[arg-type]
        with pytest.raises(ValueError):
            recorder.insert_events([StoredEvent(uuid4(), 1, "t", b""), bad])
        assert ledger.head_position() == head
        assert not recorder._queue and not recorder._writing
    finally:
        ledger.close()


def _until(condition: Callable[[], bool], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.005)


def _pool_pids(ledger: Ledger) -> set[int]:
    """The server processes behind every connection idle in the ledger's pool."""
    pool = ledger.recorder.datastore.pool  # type: ignore[attr-defined]
    pool.wait(timeout=10)  # all of its connections open
    return {conn.pgconn.backend_pid for conn in pool._pool}


def test_a_dropped_connection_is_replaced_and_the_save_written_once(
    postgres_store: StoreSettings, staff: CommandContext, caplog: pytest.LogCaptureFixture
) -> None:
    ledger = Ledger(
        env=postgres_store.eventsourcing_env(),
        clock=SystemClock(),
        payment_provider=FakePaymentProvider(),
    )
    try:
        cause = staff.cause(ledger.clock.now())
        lic = License.open(uuid4(), "sales-cloud", cause)
        ledger.save(lic)
        lic.add(uuid4(), 3, cause.today, cause)
        assert postgres_store.postgres is not None
        with psycopg.connect(postgres_store.postgres.conninfo(), autocommit=True) as admin:
            for pid in _pool_pids(ledger):
                admin.execute("SELECT pg_terminate_backend(%s)", (pid,))

        (recording,) = ledger.save(lic)  # every pooled connection is dead by now

        assert "connection lost while writing" in caplog.text
        stored = ledger.recorder.select_events(lic.id)
        assert [e.originator_version for e in stored] == [1, 2]
        assert recording.notification.id == ledger.head_position()
    finally:
        ledger.close()


def test_a_commit_whose_answer_was_lost_is_found_not_written_again(
    postgres_store: StoreSettings, staff: CommandContext
) -> None:
    ledger = Ledger(
        env=postgres_store.eventsourcing_env(),
        clock=SystemClock(),
        payment_provider=FakePaymentProvider(),
    )
    try:
        recorder = ledger.recorder
        assert isinstance(recorder, GroupCommitRecorder)
        commit = recorder._transaction
        lost: list[bool] = []

        def commit_then_lose_the_answer(batch: list[Any]) -> dict[Any, list[int]]:
            written = commit(batch)
            if not lost:
                lost.append(True)  # the server committed; the client never heard
                raise OperationalError("server closed the connection unexpectedly")
            return written

        recorder._transaction = commit_then_lose_the_answer  # type: ignore[method-assign]
        cause = staff.cause(ledger.clock.now())
        lic = License.open(uuid4(), "sales-cloud", cause)

        (recording,) = ledger.save(lic)

        assert lost == [True]
        assert [e.originator_version for e in recorder.select_events(lic.id)] == [1]
        assert recording.notification.id == ledger.head_position()
    finally:
        ledger.close()


def test_processes_starting_together_on_a_fresh_schema_all_start(
    postgres_store: StoreSettings,
) -> None:
    # As `serve --workers 4` on a new database: each makes the tables if missing. The
    # library's CREATE statements race ("tuple concurrently updated", a duplicate
    # pg_type key) unless one process at a time runs them.
    starting = threading.Barrier(4)
    failures: list[Exception] = []

    def start() -> None:
        starting.wait()
        try:
            Ledger(
                env=postgres_store.eventsourcing_env(),
                clock=SystemClock(),
                payment_provider=FakePaymentProvider(),
            ).close()
        except Exception as error:  # every failure is the finding
            failures.append(error)

    threads = [threading.Thread(target=start) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []
    ledger = Ledger(
        env=postgres_store.eventsourcing_env(),
        clock=SystemClock(),
        payment_provider=FakePaymentProvider(),
    )
    try:
        assert ledger.head_position() == 0  # the tables are there, and usable
    finally:
        ledger.close()
