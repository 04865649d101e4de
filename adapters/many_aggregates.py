"""Stored events and snapshots of many aggregates in one query each.

The library reads one aggregate per query (``select_events``); a point-in-time view of
a whole account needs hundreds or thousands of them at once. These read the same
tables, the wanted aggregates and version ranges sent as one ``VALUES`` list per chunk.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from uuid import UUID

from eventsourcing.persistence import AggregateRecorder, StoredEvent
from eventsourcing.postgres import PostgresAggregateRecorder
from eventsourcing.sqlite import SQLiteAggregateRecorder
from psycopg import sql
from psycopg.rows import tuple_row

from adapters.sqlite_factory import read

CHUNK = 500  # aggregates per query: well within both databases' parameter limits


def select_events_of(
    recorder: AggregateRecorder, ranges: Sequence[tuple[UUID, int, int]]
) -> dict[UUID, list[StoredEvent]]:
    """Each aggregate's stored events with ``gt < version <= lte``, in version order, for
    every (id, gt, lte) of ``ranges``."""
    found: dict[UUID, list[StoredEvent]] = {}
    condition = "e.originator_version > w.gt AND e.originator_version <= w.lte"
    for start in range(0, len(ranges), CHUNK):
        chunk = ranges[start : start + CHUNK]
        for event in _select(recorder, chunk, ("gt", "lte"), condition):
            found.setdefault(UUID(str(event.originator_id)), []).append(event)
    return found


def select_snapshots_of(
    recorder: AggregateRecorder, wanted: Sequence[tuple[UUID, int]]
) -> dict[UUID, StoredEvent]:
    """Each aggregate's newest snapshot at or below its version, for every (id, version)
    of ``wanted`` that has one."""
    found: dict[UUID, StoredEvent] = {}
    condition = (
        "e.originator_version = (SELECT MAX(x.originator_version) FROM {table} x"
        " WHERE x.originator_id = w.id AND x.originator_version <= w.lte)"
    )
    for start in range(0, len(wanted), CHUNK):
        chunk = wanted[start : start + CHUNK]
        for snapshot in _select(recorder, chunk, ("lte",), condition):
            found[UUID(str(snapshot.originator_id))] = snapshot
    return found


def _select(
    recorder: AggregateRecorder,
    rows: Sequence[tuple[Any, ...]],
    bounds: tuple[str, ...],
    condition: str,
) -> list[StoredEvent]:
    if not rows:
        return []
    columns = ", ".join(("id", *bounds))
    if isinstance(recorder, PostgresAggregateRecorder):
        marks = ", ".join(
            "(" + ", ".join(["%s::uuid", *["%s::bigint"] * len(bounds)]) + ")" for _ in rows
        )
        table = sql.SQL("{}.{}").format(
            sql.Identifier(recorder.datastore.schema), sql.Identifier(recorder.events_table_name)
        )
        statement: Any = sql.SQL(
            f"WITH w({columns}) AS (VALUES {marks})"
            " SELECT e.originator_id, e.originator_version, e.topic, e.state"
            " FROM {table} e JOIN w ON e.originator_id = w.id"
            f" WHERE {condition}"
            " ORDER BY e.originator_id, e.originator_version"
        ).format(table=table)
        params = [value for row in rows for value in row]
        # An autocommit read (no ROLLBACK: psycopg would answer it with DEALLOCATE ALL).
        with recorder.datastore.get_connection() as conn:
            found = conn.cursor(row_factory=tuple_row).execute(statement, params).fetchall()
        return [StoredEvent(i, v, t, bytes(s)) for i, v, t, s in found]
    if isinstance(recorder, SQLiteAggregateRecorder):
        table_name = recorder.events_table_name
        marks = ", ".join("(" + ", ".join("?" * (1 + len(bounds))) + ")" for _ in rows)
        query = (
            f"WITH w({columns}) AS (VALUES {marks})"
            " SELECT e.originator_id, e.originator_version, e.topic, e.state"
            f" FROM {table_name} e JOIN w ON e.originator_id = w.id"
            f" WHERE {condition.replace('{table}', table_name)}"
            " ORDER BY e.originator_id, e.originator_version"
        )
        # The library stores a UUID as its hex (``UUID.hex``).
        params = [value.hex if isinstance(value, UUID) else value for row in rows for value in row]
        found = read(recorder.datastore, query, params)  # one statement, no BEGIN
        return [StoredEvent(UUID(row[0]), row[1], row[2], row[3]) for row in found]
    raise TypeError(f"unsupported recorder {type(recorder).__name__}")
