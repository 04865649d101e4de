"""The PostgreSQL infrastructure of the ledger: the library's, with three changes.

- The application recorder is the group commit (adapters/group_commit.py, ADR 0013).
- Recorders read an aggregate's events with statements rendered once (below).
- Recorders make their tables one process at a time. The library's CREATE statements
  (types, tables, indexes, functions) are not safe to run concurrently: processes
  starting together on a fresh schema (``serve --workers``, a projection worker beside
  it) failed with "tuple concurrently updated" or a duplicate ``pg_type`` key.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from uuid import UUID

from eventsourcing.persistence import InterfaceError, OperationalError, StoredEvent
from eventsourcing.postgres import PostgresAggregateRecorder, PostgresFactory
from eventsourcing.utils import retry
from psycopg.rows import tuple_row
from psycopg.sql import SQL, Identifier

from adapters.group_commit import GroupCommitRecorder

# Namespaces this lock apart from the other advisory locks of the ledger (adapters/runner_lock.py).
_CREATE_LOCK = "subledger:create-tables:{schema}"


class _CreatesTablesOneAtATime:
    datastore: Any

    def create_table(self) -> None:
        key = _CREATE_LOCK.format(schema=self.datastore.schema)
        # A session lock on a connection of its own; creation uses others of the pool.
        with self.datastore.get_connection() as conn:
            conn.execute("SELECT pg_advisory_lock(hashtext(%s))", (key,))
            try:
                super().create_table()  # type: ignore[misc]
            finally:
                conn.execute("SELECT pg_advisory_unlock(hashtext(%s))", (key,))


class _ReadsWithStatementsRenderedOnce:
    """``select_events`` with its SQL rendered once per shape, and rows as tuples.

    Every command loads three aggregates, and the library composed each statement anew
    (``psycopg.sql`` objects added and rendered) and built a dict per row: about a sixth
    of the CPU of a load. Same statements, same parameters, same retries.
    """

    datastore: Any
    events_table_name: str
    _selects: dict[tuple[bool, bool, bool, bool], str] | None = None

    @retry((InterfaceError, OperationalError), max_attempts=10, wait=0.2)
    def select_events(
        self,
        originator_id: UUID | str,
        *,
        gt: int | None = None,
        lte: int | None = None,
        desc: bool = False,
        limit: int | None = None,
    ) -> Sequence[StoredEvent]:
        desc = desc is not False  # as the library reads it
        shape = (gt is not None, lte is not None, desc, limit is not None)
        if self._selects is None:
            self._selects = {}
        statement = self._selects.get(shape)
        if statement is None:
            statement = self._selects[shape] = self._render(*shape)
        params = [originator_id, *(p for p in (gt, lte, limit) if p is not None)]
        with self.datastore.get_connection() as conn, conn.cursor(row_factory=tuple_row) as curs:
            curs.execute(statement, params, prepare=True)
            return [StoredEvent(i, v, topic, bytes(state)) for i, v, topic, state in curs]

    def _render(self, gt: bool, lte: bool, desc: bool, limit: bool) -> str:
        statement = SQL(
            "SELECT originator_id, originator_version, topic, state FROM {schema}.{table}"
            " WHERE originator_id = %s"
        ).format(schema=Identifier(self.datastore.schema), table=Identifier(self.events_table_name))
        text = statement.as_string(None)
        text += " AND originator_version > %s" if gt else ""
        text += " AND originator_version <= %s" if lte else ""
        text += " ORDER BY originator_version" + (" DESC" if desc else " ASC")
        return text + (" LIMIT %s" if limit else "")


class LedgerAggregateRecorder(
    _ReadsWithStatementsRenderedOnce, _CreatesTablesOneAtATime, PostgresAggregateRecorder
):
    """Snapshots."""


class LedgerApplicationRecorder(
    _ReadsWithStatementsRenderedOnce, _CreatesTablesOneAtATime, GroupCommitRecorder
):
    """The events, written by group commit."""


class Factory(PostgresFactory):
    aggregate_recorder_class = LedgerAggregateRecorder
    application_recorder_class = LedgerApplicationRecorder
