"""The global log as stored bytes, for readers that never decode an event.

``select_notifications`` makes a ``UUID`` object and a ``Notification`` of every row;
verifying the hash chain needs only the id's 16 bytes, the version, the topic and the
state, so it reads them as plain tuples: the id's bytes straight from the database
(``uuid_send`` on PostgreSQL; the hex text the library stores on SQLite).
"""

from __future__ import annotations

from typing import Any, NamedTuple

from eventsourcing.persistence import ApplicationRecorder
from eventsourcing.postgres import PostgresApplicationRecorder
from eventsourcing.sqlite import SQLiteApplicationRecorder
from psycopg import sql
from psycopg.rows import tuple_row


class RawEvent(NamedTuple):
    position: int
    aggregate_id: bytes  # the UUID's 16 bytes
    version: int
    topic: str
    state: bytes


def select_raw(recorder: ApplicationRecorder, after: int, limit: int) -> list[RawEvent]:
    """Up to ``limit`` stored events after position ``after``, in log order."""
    if isinstance(recorder, PostgresApplicationRecorder):
        statement: Any = sql.SQL(
            "SELECT notification_id, uuid_send(originator_id), originator_version, topic, state"
            " FROM {}.{} WHERE notification_id > %s ORDER BY notification_id LIMIT %s"
        ).format(
            sql.Identifier(recorder.datastore.schema), sql.Identifier(recorder.events_table_name)
        )
        # An autocommit read (no ROLLBACK: psycopg would answer it with DEALLOCATE ALL).
        with recorder.datastore.get_connection() as conn:
            rows = conn.cursor(row_factory=tuple_row).execute(statement, (after, limit)).fetchall()
        return [RawEvent(p, bytes(i), v, t, bytes(s)) for p, i, v, t, s in rows]
    if isinstance(recorder, SQLiteApplicationRecorder):
        query = (
            "SELECT rowid, originator_id, originator_version, topic, state"
            f" FROM {recorder.events_table_name} WHERE rowid > ? ORDER BY rowid LIMIT ?"
        )
        with recorder.datastore.transaction(commit=False) as cursor:
            cursor.execute(query, (after, limit))
            found = cursor.fetchall()
        # The library stores a UUID as its hex (``UUID.hex``); text ids as given.
        return [
            RawEvent(row[0], bytes.fromhex(row[1].replace("-", "")), row[2], row[3], row[4])
            for row in found
        ]
    raise TypeError(f"unsupported recorder {type(recorder).__name__}")
