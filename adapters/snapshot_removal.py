"""Removing an aggregate's snapshots: after an erasure, so no plaintext copy remains.

Snapshots are aggregate states written as a cache (never the truth): personal data in
them is not sealed (ADR 0023). Loads after the removal fold from the events, and the next
snapshot is taken from the erased state.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

from eventsourcing.postgres import PostgresAggregateRecorder
from eventsourcing.sqlite import SQLiteAggregateRecorder
from psycopg.sql import SQL, Identifier


def remove_snapshots(recorder: Any, aggregate_id: UUID) -> None:
    """Delete every snapshot of the aggregate (``recorder``: the snapshot store's)."""
    if isinstance(recorder, SQLiteAggregateRecorder):
        with recorder.datastore.transaction(commit=True) as cursor:
            cursor.execute(
                f"DELETE FROM {recorder.events_table_name} WHERE originator_id = ?",
                (aggregate_id.hex,),
            )
    elif isinstance(recorder, PostgresAggregateRecorder):
        schema = recorder.datastore.schema
        table = (
            SQL("{}.{}").format(Identifier(schema), Identifier(recorder.events_table_name))
            if schema
            else Identifier(recorder.events_table_name)
        )
        with recorder.datastore.transaction(commit=True) as cursor:
            cursor.execute(
                SQL("DELETE FROM {} WHERE originator_id = %s").format(table), (aggregate_id,)
            )
    # In memory (benchmarks): the snapshots go with the process.
