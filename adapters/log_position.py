"""Where one stored event sits in the global log.

The library hands out a notification id when it records an event but offers no lookup
from (aggregate, version) back to it; the ledger needs one to repeat the
``Ledger-Position`` of an idempotent retry. Both stores keep the id beside the event.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

from eventsourcing.persistence import ApplicationRecorder
from eventsourcing.postgres import PostgresApplicationRecorder
from eventsourcing.sqlite import SQLiteApplicationRecorder
from psycopg import sql


def position_of(recorder: ApplicationRecorder, originator_id: UUID, version: int) -> int | None:
    if isinstance(recorder, PostgresApplicationRecorder):
        statement: Any = sql.SQL(
            "SELECT notification_id FROM {}.{} WHERE originator_id = %s AND originator_version = %s"
        ).format(
            sql.Identifier(recorder.datastore.schema), sql.Identifier(recorder.events_table_name)
        )
        # One autocommit read, not a transaction rolled back: psycopg answers a ROLLBACK
        # with DEALLOCATE ALL, which would drop the group commit's prepared INSERT.
        with recorder.datastore.get_connection() as conn:
            row = conn.execute(statement, (originator_id, version)).fetchone()
            return None if row is None else int(row["notification_id"])
    if isinstance(recorder, SQLiteApplicationRecorder):
        query = (
            f"SELECT rowid FROM {recorder.events_table_name} "
            "WHERE originator_id = ? AND originator_version = ?"
        )
        with recorder.datastore.transaction(commit=False) as cursor:
            cursor.execute(query, (originator_id.hex, version))
            row = cursor.fetchone()
            return None if row is None else int(row[0])
    raise TypeError(f"unsupported recorder {type(recorder).__name__}")
