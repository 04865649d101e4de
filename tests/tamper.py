"""Tampering with the event store as someone with database access would: SQL straight at
the events table, on SQLite (``stored_events``, rowid = position) or PostgreSQL
(``<schema>.subledger_events``, ``notification_id`` = position)."""

from __future__ import annotations

import sqlite3
from typing import Any
from uuid import uuid4

import psycopg

from adapters.store import StoreSettings


class RawEventStore:
    """SQL straight at the event store's table, as someone with database access would."""

    def __init__(self, settings: StoreSettings) -> None:
        self.postgres = settings.postgres is not None
        if settings.postgres is not None:
            schema = settings.postgres.schema
            self.table, self.position = f'"{schema}".subledger_events', "notification_id"
            self.connection: Any = psycopg.connect(settings.postgres.conninfo(), autocommit=True)
        else:
            self.table, self.position = "stored_events", "rowid"
            self.connection = sqlite3.connect(str(settings.sqlite_path), isolation_level=None)

    def execute(self, statement: str, params: tuple[Any, ...] = ()) -> list[Any]:
        statement = statement.format(table=self.table, pos=self.position)
        if self.postgres:
            statement = statement.replace("?", "%s")
        cursor = self.connection.execute(statement, params)
        return list(cursor.fetchall()) if cursor.description else []

    def row(self, position: int) -> tuple[Any, ...]:
        (found,) = self.execute(
            "SELECT originator_id, originator_version, topic, state FROM {table} WHERE {pos} = ?",
            (position,),
        )
        return tuple(found)

    def find(self, needle: bytes) -> int:
        """The first position whose stored state holds ``needle``."""
        rows = self.execute("SELECT {pos}, state FROM {table} ORDER BY {pos}")
        return next(int(position) for position, state in rows if needle in bytes(state))

    def change(self, position: int, old: bytes, new: bytes) -> None:
        state = bytes(self.row(position)[3])
        assert old in state
        self.execute(
            "UPDATE {table} SET state = ? WHERE {pos} = ?", (state.replace(old, new), position)
        )

    def delete(self, position: int) -> None:
        self.execute("DELETE FROM {table} WHERE {pos} = ?", (position,))

    def swap(self, first: int, second: int) -> None:
        for old, new in ((first, -1), (second, first), (-1, second)):
            self.execute("UPDATE {table} SET {pos} = ? WHERE {pos} = ?", (new, old))

    def shift(self, start: int, by: int) -> None:
        """Move the events at ``start`` and after by ``by`` positions (through a far-off
        range, as positions are unique at every step)."""
        far = 1_000_000
        self.execute("UPDATE {table} SET {pos} = {pos} + ? WHERE {pos} >= ?", (far, start))
        self.execute("UPDATE {table} SET {pos} = {pos} - ? WHERE {pos} >= ?", (far - by, far))

    def insert(self, position: int, like: int) -> None:
        """Make room at ``position`` and put there a new aggregate's first event, a copy
        of the event at ``like`` (before ``position``)."""
        _, _, topic, state = self.row(like)
        self.shift(position, 1)
        new_id = uuid4()
        self.execute(
            "INSERT INTO {table} ({pos}, originator_id, originator_version, topic, state)"
            " VALUES (?, ?, 1, ?, ?)",
            (position, new_id if self.postgres else new_id.hex, topic, bytes(state)),
        )

    def close(self) -> None:
        self.connection.close()
