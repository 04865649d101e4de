"""Group commit: the saves that wait for the event store are written together.

The event store keeps its log gap-free in commit order by taking
``LOCK TABLE ... IN EXCLUSIVE MODE`` in every write transaction (ADR 0001), so writes
run one at a time and, written one by one, each would pay for a lock, its round trips
and a commit of its own. Here the saves of one process queue up while a transaction is
being written; the next writer takes them all and writes them in one transaction: the
lock, one INSERT, NOTIFY, one commit (ADR 0013).

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
import itertools
import logging
import threading
import time
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

from eventsourcing.persistence import (
    IntegrityError,
    InterfaceError,
    OperationalError,
    PersistenceError,
    StoredEvent,
)
from eventsourcing.postgres import PostgresApplicationRecorder, PostgresDatastore
from psycopg.sql import SQL, Identifier

log = logging.getLogger("subledger.group_commit")

# A bound on one transaction: enough to absorb any queue of a process's request threads.
MAX_BATCH_EVENTS = 10_000
# A lost connection is retried (the pool replaces it), as the library's recorders do.
CONNECTION_ATTEMPTS = 10
RETRY_WAIT_SECONDS = 0.2


class CommitOutcomeUnknown(OperationalError):
    """The connection was lost while committing and the store could not be asked after."""


def _closed_gate() -> threading.Lock:
    gate = threading.Lock()
    gate.acquire()
    return gate


@dataclass(eq=False)
class _Save:
    events: Sequence[StoredEvent]
    # Held until the save's thread is to wake (its save done, or its turn to write). A
    # lock released by the waker, cheaper than an Event; acquiring it re-arms it.
    gate: threading.Lock = field(default_factory=_closed_gate)
    done: bool = False
    positions: list[int] = field(default_factory=list)
    error: PersistenceError | None = None


class GroupCommitRecorder(PostgresApplicationRecorder):
    """``PostgresApplicationRecorder`` whose ``insert_events`` joins a group commit."""

    def __init__(
        self, datastore: PostgresDatastore, *, events_table_name: str = "stored_events"
    ) -> None:
        super().__init__(datastore, events_table_name=events_table_name)
        self._lock = threading.Lock()
        self._queue: deque[_Save] = deque()
        self._writing = False  # a thread is writing a batch; it hands over to the next
        table = SQL("{}.{}").format(
            Identifier(datastore.schema), Identifier(self.events_table_name)
        )
        events = (
            "SELECT * FROM unnest(%s::uuid[], %s::bigint[], %s::text[], %s::bytea[], %s::int[])"
            " WITH ORDINALITY AS e(originator_id, originator_version, topic, state, save, n)"
        )
        if datastore.originator_id_type != "uuid":
            raise ValueError("the group commit writes uuid originator ids only")
        # Rendered once: composing SQL on every execute costs more than the INSERT's send.
        # The library's own statements: its lock_timeout, then the table lock itself.
        lock = [s.as_string(None) for s in self.lock_table_statements]  # type: ignore[union-attr]
        if not any(statement.startswith("LOCK TABLE") for statement in lock):
            raise ValueError("no LOCK TABLE among the library's lock statements")
        self._begin = "BEGIN; " + "; ".join(lock)
        self._insert = (
            SQL(
                "WITH e AS ({events}) INSERT INTO {table}"
                " (originator_id, originator_version, topic, state)"
                " SELECT originator_id, originator_version, topic, state FROM e"
                " WHERE save NOT IN (SELECT taken.save FROM e taken WHERE EXISTS ("
                "  SELECT FROM {table} t WHERE t.originator_id = taken.originator_id"
                "  AND t.originator_version = taken.originator_version))"
                " ORDER BY n RETURNING originator_id, originator_version, notification_id"
            )
            .format(events=SQL(events), table=table)
            .as_string(None)
        )
        channel = Identifier(self.channel_name)
        self._commit = SQL("NOTIFY {}; COMMIT").format(channel).as_string(None)
        self._find = (
            SQL(
                "SELECT t.originator_id, t.originator_version, t.notification_id"
                " FROM ({events}) e JOIN {table} t USING (originator_id, originator_version)"
                " WHERE t.state = e.state"
            )
            .format(events=SQL(events), table=table)
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
        """Three round trips for the whole batch: BEGIN and the lock; the INSERT; NOTIFY and
        COMMIT. (Pipelining them into one round trip made no measurable difference on a
        local server, and made the error path longer; ADR 0013.)"""
        with self.datastore.get_connection() as conn, conn.cursor() as curs:
            try:
                curs.execute(self._begin)
                # Prepared (planning it each time cost 0.1 ms a batch). The version check
                # is a correlated probe of the primary key, and autovacuum's ANALYZE,
                # frequent on this table, replaces a plan made while it was small.
                curs.execute(self._insert, _columns(batch), prepare=True)
                rows = curs.fetchall()
            except BaseException:
                with contextlib.suppress(Exception):  # a lost connection is dropped by the pool
                    conn.rollback()
                raise
            curs.execute(self._commit)
            return _positions(batch, rows)

    def _find_written(self, batch: list[_Save]) -> dict[_Save, list[int]]:
        """Which saves of the batch are in the store (the same events, state and all)."""
        with self.datastore.get_connection() as conn, conn.cursor() as curs:
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


def _positions(batch: list[_Save], rows: Sequence[Any]) -> dict[_Save, list[int]]:
    """Each save found in ``rows`` with its events' positions, in the order of its events;
    the log's order must follow the batch's, and a save is in it whole or not at all."""
    position = {(r["originator_id"], r["originator_version"]): r["notification_id"] for r in rows}
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
