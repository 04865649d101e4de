"""The PostgreSQL infrastructure of the ledger: the library's, with two changes.

- The application recorder is the group commit (adapters/group_commit.py, ADR 0013).
- Recorders make their tables one process at a time. The library's CREATE statements
  (types, tables, indexes, functions) are not safe to run concurrently: processes
  starting together on a fresh schema (``serve --workers``, a projection worker beside
  it) failed with "tuple concurrently updated" or a duplicate ``pg_type`` key.
"""

from __future__ import annotations

from typing import Any

from eventsourcing.postgres import PostgresAggregateRecorder, PostgresFactory

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


class LedgerAggregateRecorder(_CreatesTablesOneAtATime, PostgresAggregateRecorder):
    """Snapshots."""


class LedgerApplicationRecorder(_CreatesTablesOneAtATime, GroupCommitRecorder):
    """The events, written by group commit."""


class Factory(PostgresFactory):
    aggregate_recorder_class = LedgerAggregateRecorder
    application_recorder_class = LedgerApplicationRecorder
