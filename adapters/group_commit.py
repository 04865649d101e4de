"""Group commit: the saves that wait for the event store are written together.

The event store keeps its log gap-free in commit order by taking
``LOCK TABLE ... IN EXCLUSIVE MODE`` in every write transaction (ADR 0001), so writes
run one at a time and, written one by one, each would pay for a lock, its round trips
and a commit of its own. Here the saves of one process queue up while a transaction is
being written; the next writer takes them all and writes them in one transaction, sent
as one query: the lock, one INSERT, NOTIFY, one commit (ADR 0013).

Each save stays all-or-nothing and is judged on its own. The INSERT itself leaves out
every save that has an event whose (aggregate, version) is already in the store, under
the table lock, so exactly the saves the primary key would have refused alone; they
fail alone with ``IntegrityError`` and the others commit. Two saves of one batch never
claim the same version: the second waits for the next batch. A failure of the
transaction fails every save of it. When the connection is lost with the outcome
unknown, the store is asked whether the batch is in it, so a batch is never written
twice and never reported failed when it committed.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import itertools
import logging
import threading
import time
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

import psycopg.errors
from eventsourcing.persistence import (
    IntegrityError,
    InterfaceError,
    OperationalError,
    PersistenceError,
    StoredEvent,
)
from eventsourcing.postgres import PostgresApplicationRecorder, PostgresDatastore
from prometheus_client import Histogram
from psycopg.rows import tuple_row
from psycopg.sql import SQL, Identifier, Literal

log = logging.getLogger("subledger.group_commit")

# A bound on one transaction: enough to absorb any queue of a process's request threads
# (a batch is sent as text, about 1.4 kB an event).
MAX_BATCH_EVENTS = 2_000
# The INSERT of a batch, prepared on each session of the pool; a suffix per table.
STATEMENT = "subledger_append_events"
# The batch as rows: each event with the index of its save in the batch, and its place.
EVENTS = (
    "SELECT * FROM unnest({}) WITH ORDINALITY"
    " AS e(originator_id, originator_version, topic, state, save, n)"
)
# A lost connection is retried (the pool replaces it), as the library's recorders do.
CONNECTION_ATTEMPTS = 10
RETRY_WAIT_SECONDS = 0.2


BATCH_SAVES = Histogram(
    "subledger_group_commit_batch_saves",
    "Saves written together in one group-commit transaction.",
    buckets=(1, 2, 4, 8, 16, 32, 64, 128, 256, 512),
)


class CommitOutcomeUnknown(OperationalError):
    """The connection was lost while committing and the store could not be asked after."""


def _closed_gate() -> threading.Lock:
    gate = threading.Lock()
    gate.acquire()
    return gate


@dataclass(eq=False)
class _Save:
    events: Sequence[StoredEvent]
    # The events as SQL literals, one string per column: rendered by the saving thread as
    # the save is made, so a bad value fails that save alone, before it joins a batch,
    # and the batch's writer only joins strings.
    literals: tuple[str, str, str, str] = field(init=False)
    # Held until the save's thread is to wake (its save done, or its turn to write). A
    # lock released by the waker, cheaper than an Event; acquiring it re-arms it.
    gate: threading.Lock = field(default_factory=_closed_gate)
    done: bool = False
    positions: list[int] = field(default_factory=list)
    error: PersistenceError | None = None

    def __post_init__(self) -> None:
        self.literals = _literals(self.events)


class GroupCommitRecorder(PostgresApplicationRecorder):
    """``PostgresApplicationRecorder`` whose ``insert_events`` joins a group commit."""

    def __init__(
        self, datastore: PostgresDatastore, *, events_table_name: str = "stored_events"
    ) -> None:
        super().__init__(datastore, events_table_name=events_table_name)
        self._lock = threading.Lock()
        self._queue: deque[_Save] = deque()
        self._writing = False  # a thread is writing a batch; it hands over to the next
        if datastore.originator_id_type != "uuid":
            raise ValueError("the group commit writes uuid originator ids only")
        table = SQL("{}.{}").format(
            Identifier(datastore.schema), Identifier(self.events_table_name)
        )
        # Rendered once: composing SQL on every execute costs more than the INSERT's send.
        # The library's own statements: its lock_timeout, then the table lock itself.
        lock = [s.as_string(None) for s in self.lock_table_statements]  # type: ignore[union-attr]
        if not any(statement.startswith("LOCK TABLE") for statement in lock):
            raise ValueError("no LOCK TABLE among the library's lock statements")
        channel = Identifier(self.channel_name).as_string(None)
        # A batch is one simple query, so one round trip: the lock, the prepared INSERT
        # with the batch as its arguments, NOTIFY and COMMIT (ADR 0013).
        where = f"{datastore.schema}.{self.events_table_name}".encode()
        self.statement = f"{STATEMENT}_{hashlib.sha256(where).hexdigest()[:12]}"
        # A tiny table just analyzed makes a sequential scan look cheaper than the probe,
        # and a plan made then would scan the whole table for every event once it grew:
        # no scan of the table is ever the right plan here.
        self.setup = "BEGIN; " + "; ".join(lock) + "; SET LOCAL enable_seqscan = off"
        self._begin = f"{self.setup}; EXECUTE {self.statement}"
        self._commit = f"; NOTIFY {channel}; COMMIT"
        self._prepare = (
            SQL(
                "PREPARE {statement} (uuid[], bigint[], text[], bytea[], int[]) AS"
                " WITH e AS ({events}), taken AS ("
                # A probe of the primary key per event, and not a join that the planner
                # may make a scan of the whole table: LIMIT keeps the subquery apart.
                "  SELECT e.save FROM e, LATERAL (SELECT FROM {table} t"
                "  WHERE t.originator_id = e.originator_id"
                "  AND t.originator_version = e.originator_version LIMIT 1) probe)"
                " INSERT INTO {table} (originator_id, originator_version, topic, state)"
                " SELECT originator_id, originator_version, topic, state FROM e"
                " WHERE save NOT IN (SELECT save FROM taken)"
                " ORDER BY n RETURNING originator_id, originator_version, notification_id"
            )
            .format(
                statement=Identifier(self.statement),
                events=SQL(EVENTS.format("$1, $2, $3, $4, $5")),
                table=table,
            )
            .as_string(None)
        )
        self._find = (
            SQL(
                "SELECT t.originator_id, t.originator_version, t.notification_id"
                " FROM ({events}) e JOIN {table} t USING (originator_id, originator_version)"
                " WHERE t.state = e.state"
            )
            .format(
                events=SQL(
                    EVENTS.format("%s::uuid[], %s::bigint[], %s::text[], %s::bytea[], %s::int[]")
                ),
                table=table,
            )
            .as_string(None)
        )

    def insert_events(
        self, stored_events: Sequence[StoredEvent], **kwargs: Any
    ) -> Sequence[int] | None:
        if not stored_events or kwargs.get("tracking") is not None:
            return super().insert_events(stored_events, **kwargs)
        save = _Save(stored_events)
        with self._lock:
            self._queue.append(save)
            leading = not self._writing
            self._writing = True
        while not save.done:
            if not leading:
                save.gate.acquire()  # done, or handed the writing of the next batch
                if save.done:
                    break
            try:
                with self._lock:
                    batch = self._take()
                self._write(batch)
            finally:
                with self._lock:
                    if self._queue:
                        self._queue[0].gate.release()  # the oldest waiter writes next
                    else:
                        self._writing = False
            leading = False
        if save.error is not None:
            raise save.error
        return save.positions

    def _take(self) -> list[_Save]:
        """The queued saves, oldest first, up to MAX_BATCH_EVENTS (at least one), stopping
        before a save that claims a version an earlier save of the batch claims."""
        batch: list[_Save] = []
        claimed: set[tuple[UUID | str, int]] = set()
        size = 0
        while self._queue:
            save = self._queue[0]
            keys = {(e.originator_id, e.originator_version) for e in save.events}
            if batch and (size + len(save.events) > MAX_BATCH_EVENTS or keys & claimed):
                break
            batch.append(self._queue.popleft())
            claimed |= keys
            size += len(save.events)
        return batch

    def _write(self, batch: list[_Save]) -> None:
        """Write the batch, then mark each save done with its positions or its error."""
        BATCH_SAVES.observe(len(batch))
        try:
            written = self._write_once_or_find_out(batch)
            for save in batch:
                if save in written:
                    save.positions = written[save]
                else:
                    save.error = IntegrityError(
                        "an aggregate's version was taken by another save first"
                    )
        except PersistenceError as error:
            for save in batch:
                save.error = type(error)(str(error))
        except Exception as error:  # a bug: fail the batch rather than hang its waiters
            log.exception("group commit failed")
            for save in batch:
                save.error = PersistenceError(f"group commit failed: {error!r}")
        finally:
            for save in batch:
                save.done = True
                if save.gate.locked():
                    save.gate.release()

    def _write_once_or_find_out(self, batch: list[_Save]) -> dict[_Save, list[int]]:
        """The positions of each save written. After a lost connection the store is asked
        whether the lost attempt committed before it is tried again."""
        uncertain: OperationalError | InterfaceError | None = None
        for attempt in range(1, CONNECTION_ATTEMPTS + 1):
            try:
                if uncertain is not None:
                    if found := self._find_written(batch):
                        return found  # it had committed
                    uncertain = None
                return self._transaction(batch)
            except (InterfaceError, OperationalError) as lost:
                uncertain = lost
                log.warning("event store connection lost while writing (%s); checking", lost)
                # At once first: the pool may just have handed out a dropped connection.
                time.sleep(0 if attempt == 1 else RETRY_WAIT_SECONDS)
        raise CommitOutcomeUnknown(str(uncertain))

    def _transaction(self, batch: list[_Save]) -> dict[_Save, list[int]]:
        """One round trip for the whole batch (a save alone paid three before, ADR 0013).
        The first batch on a connection prepares the INSERT there, then runs."""
        statement = self._begin + _arguments(batch) + self._commit
        with self.datastore.get_connection() as conn, conn.cursor(row_factory=tuple_row) as curs:
            try:
                try:
                    curs.execute(statement)
                except psycopg.errors.InvalidSqlStatementName:  # not prepared here yet
                    conn.rollback()
                    # In the same message, so that one server session runs both (a
                    # pooler must still keep sessions: see ADR 0013).
                    log.debug("preparing the batch INSERT on this session")
                    curs.execute(f"{self._prepare}; {statement}")
                while curs.description is None and curs.nextset():
                    pass  # to the INSERT's rows, past BEGIN, SET and LOCK
                return _positions(batch, curs.fetchall())
            except BaseException:
                with contextlib.suppress(Exception):  # a lost connection is dropped by the pool
                    conn.rollback()
                raise

    def _find_written(self, batch: list[_Save]) -> dict[_Save, list[int]]:
        """Which saves of the batch are in the store (the same events, state and all)."""
        with self.datastore.get_connection() as conn, conn.cursor(row_factory=tuple_row) as curs:
            curs.execute(self._find, _columns(batch))
            return _positions(batch, curs.fetchall())


def _columns(batch: list[_Save]) -> tuple[list[Any], ...]:
    events = [(i, e) for i, save in enumerate(batch) for e in save.events]
    return (
        [e.originator_id for _, e in events],
        [e.originator_version for _, e in events],
        [e.topic for _, e in events],
        [e.state for _, e in events],
        [i for i, _ in events],
    )


def _literals(events: Sequence[StoredEvent]) -> tuple[str, str, str, str]:
    """Ids, versions, topics and states as SQL literals, comma-separated: ids and versions
    made from a UUID and an int (anything else is refused), states as hex digits, topics
    quoted by psycopg. Sent as text in the simple query, they spare psycopg's array
    dumping, the larger part of a save's CPU."""
    return (
        ",".join(str(_uuid(e.originator_id)) for e in events),
        ",".join(f"{e.originator_version:d}" for e in events),  # refuses a non-int
        ",".join(_quoted(e.topic) for e in events),
        ",".join(f"decode('{e.state.hex()}','hex')" for e in events),
    )


def _arguments(batch: list[_Save]) -> str:
    """The batch as the prepared INSERT's arguments: each save's literals, and the index
    of its save for each event."""
    ids, versions, topics, states = (
        ",".join(save.literals[column] for save in batch) for column in range(4)
    )
    saves = ",".join(",".join([str(i)] * len(save.events)) for i, save in enumerate(batch))
    return f"('{{{ids}}}', '{{{versions}}}', ARRAY[{topics}], ARRAY[{states}], '{{{saves}}}')"


def _uuid(value: UUID | str) -> UUID:
    # Only UUIDs: the positions are matched back to the saves by the id as given.
    if type(value) is not UUID:
        raise ValueError(f"not a UUID: {value!r}")
    return value


@functools.lru_cache(maxsize=1024)  # a topic per event class: few, and each asked often
def _quoted(topic: str) -> str:
    return Literal(topic).as_string(None)


def _positions(batch: list[_Save], rows: Sequence[Any]) -> dict[_Save, list[int]]:
    """Each save found in ``rows`` with its events' positions, in the order of its events;
    the log's order must follow the batch's, and a save is in it whole or not at all."""
    position = {(r[0], r[1]): r[2] for r in rows}
    written: dict[_Save, list[int]] = {}
    last = 0
    for save in batch:
        found = [position.get((e.originator_id, e.originator_version)) for e in save.events]
        if all(p is None for p in found):
            continue
        in_order = [last, *(p or 0 for p in found)]
        if None in found or any(a >= b for a, b in itertools.pairwise(in_order)):
            raise PersistenceError("a batch was written out of order or in part")
        written[save] = in_order[1:]
        last = in_order[-1]
    return written
