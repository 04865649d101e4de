"""A projection that fails on an event stops alone (projections/failures.py).

On a real store (SQLite and PostgreSQL): a poison event written straight into the log
stops the one read model that cannot store it, at that event; the others, the hash
chain included, reach the head; the failure is recorded with its position and error and
retried with growing pauses; and a release that fixes the cause resumes from exactly the
failed position, applying every event once.
"""

from __future__ import annotations

from collections.abc import Iterator

import psycopg
import pytest

from adapters.raw_log import RawEvent
from adapters.store import StoreSettings
from projections.audit_trail import AuditFilter, AuditTrail, audit_rows
from projections.failures import pause_after
from projections.hash_chain import HashChain
from projections.projection import LoggedEvent, Projection
from projections.runner import ProjectionRunner
from projections.store import Sql
from service.ledger.application import Ledger
from service.ledger.context import CommandContext
from service.reads.read_side import ReadSide
from tests.builders import open_account
from tests.poison import FAILS, append_raw, write_poison


class Moment:
    """The runner's clock, moved by the test."""

    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def read_side(store: StoreSettings, ledger: Ledger) -> Iterator[ReadSide]:
    side = ReadSide(store, ledger)
    yield side
    side.stop()


def runner_of(side: ReadSide, projections: list[Projection], moment: Moment) -> ProjectionRunner:
    runner = ProjectionRunner(
        side.store,
        side.read_log,
        side.ledger.head_position,
        projections,
        now=moment,
        read_stored=side.read_stored,  # as ReadSide's runner: the hash chain reads it
    )
    runner.prepare()
    return runner


def test_a_poison_event_stops_only_the_read_model_that_cannot_store_it(
    read_side, ledger, store, staff, admin
):
    poisoned = write_poison(ledger, open_account(ledger, staff), store)
    ledger.set_payment_method(admin, open_account(ledger, staff), "pm_card_visa")  # after it
    head = ledger.head_position()
    moment = Moment()
    runner = runner_of(read_side, read_side.projections, moment)

    runner.catch_up()

    healthy = {name: head for name in read_side.names if name != FAILS}
    assert runner.positions() == healthy | {FAILS: poisoned - 1}  # the hash chain sealed on
    (failure,) = runner.failures().values()
    assert (failure.name, failure.position, failure.attempts) == (FAILS, poisoned, 1)
    expected = "NUL" if store.postgres is not None else "surrogates not allowed"
    assert expected in failure.error
    assert failure.error.isascii() and failure.error.isprintable()
    read_side.wait_for(head, timeout=0.5)  # reads do not wait for a failing read model

    runner.catch_up()  # within its pause: not tried again
    assert runner.failures()[FAILS].attempts == 1
    moment.now += pause_after(1)
    runner.catch_up()
    again = runner.failures()[FAILS]
    assert (again.attempts, again.position, again.failing_since) == (2, poisoned, moment.now - 1)
    assert again.next_attempt_at == moment.now + pause_after(2)
    assert runner.positions()[FAILS] == poisoned - 1


class BuggyRelease:
    """The audit trail in a release with a bug that fails it on one event."""

    def __init__(self, inner: AuditTrail, fails_at: int, error: Exception | None = None) -> None:
        self.inner, self.fails_at = inner, fails_at
        self.error = error or KeyError("a bug on this event")
        self.name, self.version, self.tables = inner.name, inner.version, inner.tables

    def create(self, sql: Sql) -> None:
        self.inner.create(sql)

    def apply(self, sql: Sql, logged: LoggedEvent) -> None:
        if logged.position == self.fails_at:
            raise self.error
        self.inner.apply(sql, logged)

    def forget(self) -> None:
        self.inner.forget()


def audit_failing_at_4(
    read_side: ReadSide,
    ledger: Ledger,
    staff: CommandContext,
    admin: CommandContext,
    moment: Moment,
) -> tuple[AuditTrail, ProjectionRunner]:
    """Three accounts paying by card, and a runner whose audit trail fails on event 4."""
    for _ in range(3):
        ledger.set_payment_method(admin, open_account(ledger, staff), "pm_card_visa")
    audit = read_side.projection("audit_trail")
    assert isinstance(audit, AuditTrail)
    others = [p for p in read_side.projections if p is not audit]
    return audit, runner_of(read_side, [BuggyRelease(audit, fails_at=4), *others], moment)


def test_a_fixed_release_resumes_from_the_failed_position_applying_each_event_once(
    read_side, ledger, staff, admin
):
    _, buggy = audit_failing_at_4(read_side, ledger, staff, admin, Moment())

    buggy.catch_up()
    ledger.set_payment_method(admin, open_account(ledger, staff), "pm_card_visa")
    buggy.catch_up()

    head = ledger.head_position()
    assert buggy.positions() == dict.fromkeys(read_side.names, head) | {"audit_trail": 3}
    (failure,) = buggy.failures().values()
    assert (failure.name, failure.position) == ("audit_trail", 4)
    assert failure.error == "KeyError: 'a bug on this event'"

    fixed = runner_of(read_side, read_side.projections, Moment())  # the next release
    fixed.catch_up()  # at once: a new runner does not wait out the old one's pause

    assert fixed.positions() == dict.fromkeys(read_side.names, head)
    assert fixed.failures() == {}
    with read_side.readers.transaction() as sql:
        rows = audit_rows(sql, AuditFilter(), 1000)
    assert [row["position"] for row in rows] == list(range(1, head + 1))  # each once


def test_a_projection_behind_the_hash_chain_is_tried_again_once_due_in_the_same_catch_up(
    read_side, ledger, staff, admin
):
    # After a step that read the log to its end, the runner asks the log as stored
    # whether anything is new; the chain is at the head then, and a projection failing
    # before it is not: once its pause is over, the log as decoded is asked from there.
    moment = Moment()
    _, runner = audit_failing_at_4(read_side, ledger, staff, admin, moment)

    def time_passes(_: int) -> None:
        moment.now += pause_after(1)

    runner.catch_up(progress=time_passes)

    assert runner.failures()["audit_trail"].attempts == 2  # again, without a new event
    assert runner.positions()["audit_trail"] == 3
    assert runner.positions()["hash_chain"] == ledger.head_position()


def test_a_statement_error_filed_as_operational_stops_the_projection_not_the_runner(
    read_side, ledger, staff, admin
):
    """psycopg files some errors of the statement (a value beyond a server limit) under
    OperationalError, with lost connections: they are the event's, not the connection's."""
    ledger.set_payment_method(admin, open_account(ledger, staff), "pm_card_visa")
    audit = read_side.projection("audit_trail")
    assert isinstance(audit, AuditTrail)
    too_large = psycopg.errors.ProgramLimitExceeded("index row size 3000 exceeds maximum 2712")
    others = [p for p in read_side.projections if p is not audit]
    runner = runner_of(read_side, [BuggyRelease(audit, 2, too_large), *others], Moment())

    runner.catch_up()

    head = ledger.head_position()
    assert runner.positions() == dict.fromkeys(read_side.names, head) | {"audit_trail": 1}
    (failure,) = runner.failures().values()
    assert (failure.position, failure.error) == (2, f"ProgramLimitExceeded: {too_large}")


def test_an_event_that_cannot_be_decoded_is_sealed_and_fails_only_what_reads_it(
    read_side, ledger, staff, admin
):
    garbled = append_raw(ledger, open_account(ledger, staff), lambda _: b'{"not json')
    ledger.set_payment_method(admin, open_account(ledger, staff), "pm_card_visa")
    head = ledger.head_position()
    runner = runner_of(read_side, read_side.projections, Moment())

    runner.catch_up()

    assert runner.positions()["hash_chain"] == head  # it seals the bytes as stored
    failing = runner.failures()
    # The lookups, the billing and retention agendas and the book decode only the events
    # they keep (tokens', share links' and endpoints' creations; contracts' and invoices'
    # events; an account's holds and erasures; contracts', seats' and invoices'), never
    # another of an account's; the overview and the audit trail read every account event.
    own = {"hash_chain", "lookups", "billing_agenda", "retention", "book"}
    assert set(failing) == set(read_side.names) - own
    assert {f.position for f in failing.values()} == {garbled}
    assert all(f.error.startswith("MapperDeserialisationError") for f in failing.values())


class StoredPositions:
    """A projection that reads the log as stored (as the hash chain does): the positions
    it is given, each in a row keyed by it (a second time would fail), until a release
    with a bug fails it on the event at ``fails_at``."""

    name, version, tables = "stored_positions", 1, ("stored_positions",)

    def __init__(self, fails_at: int | None = None) -> None:
        self.fails_at = fails_at

    def create(self, sql: Sql) -> None:
        sql.execute(
            "CREATE TABLE IF NOT EXISTS stored_positions (position BIGINT PRIMARY KEY, topic TEXT)"
        )

    def apply(self, sql: Sql, logged: LoggedEvent) -> None:
        raise AssertionError("given the log as stored, never a LoggedEvent")

    def apply_stored(self, sql: Sql, events: list[RawEvent]) -> None:
        for event in events:
            assert isinstance(event, RawEvent)
            if event.position == self.fails_at:
                raise KeyError("a bug on this event")
            sql.execute("INSERT INTO stored_positions VALUES (?, ?)", (event.position, event.topic))

    def forget(self) -> None:
        pass


def test_a_projection_reading_the_log_as_stored_stops_alone_and_resumes_applying_each_once(
    read_side, ledger, staff, admin
):
    for _ in range(3):
        ledger.set_payment_method(admin, open_account(ledger, staff), "pm_card_visa")
    head = ledger.head_position()
    stored = StoredPositions(fails_at=4)
    moment = Moment()
    runner = runner_of(read_side, [stored, *read_side.projections], moment)

    runner.catch_up()

    # Its batch rolled back, then applied again one event at a time up to the bad one.
    assert runner.positions() == dict.fromkeys(read_side.names, head) | {stored.name: 3}
    (failure,) = runner.failures().values()
    assert (failure.name, failure.position) == (stored.name, 4)
    assert failure.error == "KeyError: 'a bug on this event'"

    stored.fails_at = None  # fixed, and its pause over
    moment.now += pause_after(1)
    runner.catch_up()

    assert runner.positions() == dict.fromkeys([*read_side.names, stored.name], head)
    assert runner.failures() == {}
    with read_side.readers.transaction() as sql:
        rows = sql.execute("SELECT position FROM stored_positions ORDER BY position").fetchall()
    assert [row[0] for row in rows] == list(range(1, head + 1))  # each once


def test_the_hash_chain_seals_the_same_chain_from_the_log_as_stored_or_decoded(
    read_side, ledger, staff, admin
):
    for _ in range(2):
        ledger.set_payment_method(admin, open_account(ledger, staff), "pm_card_visa")
    chain = read_side.projection("hash_chain")
    assert isinstance(chain, HashChain)
    columns = "SELECT position, aggregate_id, aggregate_version, digest, hash FROM hash_chain"
    read_side.runner.catch_up()  # ReadSide's runner: the log as stored
    with read_side.store.transaction() as sql:
        as_stored = sql.execute(f"{columns} ORDER BY position").fetchall()
        sql.execute("DELETE FROM hash_chain")
        chain.forget()
        chain.apply_batch(sql, read_side.read_log(0, 1000))  # the log decoded
        decoded = sql.execute(f"{columns} ORDER BY position").fetchall()

    assert len(as_stored) == ledger.head_position()
    assert as_stored == decoded
