"""The data keys of personal data (domain/data_keys.py), in a table beside the log.

One row per key: its random id, the subject it belongs to, and 32 random bytes, set to
NULL when destroyed (the row stays, so a ciphertext whose key is gone is told apart
from one under a key never made). On SQLite the table is in the ledger's file, whose
connections run with ``secure_delete`` (adapters/sqlite_factory.py), and ``scrub``
afterwards empties the write-ahead log and rewrites the file, so the destroyed bytes are
nowhere in it. PostgreSQL keeps an updated row's old version as a dead tuple until
VACUUM reuses its space, and in its WAL and backups: docs/security.md says what that
means for an erasure.

Keys are cached in the process that uses them, for at most a minute; destroying one
evicts it there, and decoding the ``PersonalDataErased`` event evicts it in any process
(ADR 0023).
"""

from __future__ import annotations

import os
import sqlite3
import threading
import time
from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import uuid4

from eventsourcing.postgres import PostgresDatastore
from eventsourcing.sqlite import SQLiteDatastore
from psycopg.sql import SQL, Composable, Identifier

KEY_BYTES = 32  # AES-256
TABLE = "data_keys"
_CHUNK = 500  # subjects per IN list


@dataclass(frozen=True)
class KeyRow:
    """A row of the key table as it is (``key`` None once destroyed), for copying the
    table into another store (service/privacy/migration.py)."""

    key_id: str
    subject: str
    key: bytes | None
    created_at: str  # ISO 8601
    destroyed_at: str | None


def new_key(subject: str, destroyed_at: datetime | None = None) -> tuple[KeyRow, bytes]:
    """A key made for ``subject``, not stored yet: its row and its bytes. A row made
    destroyed holds no key: what is sealed under the bytes reads as erased from the start
    (a migration seals under it the plaintext of a subject erased since)."""
    key_id, key = uuid4().hex, os.urandom(KEY_BYTES)
    made = datetime.now().astimezone()
    if destroyed_at is not None:
        return KeyRow(key_id, subject, None, made.isoformat(), destroyed_at.isoformat()), key
    return KeyRow(key_id, subject, key, made.isoformat(), None), key


class _CachedKeys:
    """The cache every store shares; the subclasses say how to read and write rows.

    A cached key is used for at most ``max_age`` seconds, then read again: a key another
    process destroyed stops being used here within that time, even by a process that
    never decodes the ``PersonalDataErased`` event (which evicts at once)."""

    max_age = 60.0

    def __init__(self) -> None:
        self._lock = threading.Lock()
        # key id -> (subject, key, when read); subject -> (key id, key, when read)
        self._by_id: dict[str, tuple[str, bytes, float]] = {}
        self._live: dict[str, tuple[str, bytes, float]] = {}

    def _fresh(self, read_at: float) -> bool:
        return time.monotonic() - read_at < self.max_age

    def key_for(self, subject: str) -> tuple[str, bytes]:
        cached = self._live.get(subject)
        if cached is not None and self._fresh(cached[2]):
            return cached[0], cached[1]
        live = self._read_live(subject)
        if live is None:
            live = (uuid4().hex, os.urandom(KEY_BYTES))
            self._insert(live[0], subject, live[1])
        now = time.monotonic()
        with self._lock:
            self._live[subject] = (*live, now)
            self._by_id[live[0]] = (subject, live[1], now)
        return live

    def key(self, key_id: str) -> bytes | None:
        cached = self._by_id.get(key_id)
        if cached is not None and self._fresh(cached[2]):
            return cached[1]
        found = self._read(key_id)
        with self._lock:
            if found is None:
                self._by_id.pop(key_id, None)
                return None
            self._by_id[key_id] = (*found, time.monotonic())
        return found[1]

    def destroy(self, subject: str, at: datetime) -> int:
        destroyed = self._destroy(subject, at)
        self.forget(subject)
        return len(destroyed)

    def live(self, subjects: Collection[str]) -> set[str]:
        """Which of these subjects hold a live key, in one query per 500 (the store's
        word, not the cache's)."""
        wanted = sorted(set(subjects))
        found: set[str] = set()
        for start in range(0, len(wanted), _CHUNK):
            found |= self._live_among(wanted[start : start + _CHUNK])
        return found

    def forget(self, subject: str) -> None:
        with self._lock:
            self._live.pop(subject, None)
            for key_id in [i for i, (owner, *_) in self._by_id.items() if owner == subject]:
                del self._by_id[key_id]

    def scrub(self) -> None:
        """Make destroyed keys unrecoverable from the store's files, where it can."""

    def rows(self) -> list[KeyRow]:
        """Every row, destroyed keys included."""
        raise NotImplementedError

    def insert_rows(self, rows: list[KeyRow]) -> None:
        raise NotImplementedError

    def _read_live(self, subject: str) -> tuple[str, bytes] | None:
        raise NotImplementedError

    def _read(self, key_id: str) -> tuple[str, bytes] | None:
        """The subject and key of a live key."""
        raise NotImplementedError

    def _live_among(self, subjects: list[str]) -> set[str]:
        raise NotImplementedError

    def _insert(self, key_id: str, subject: str, key: bytes) -> None:
        raise NotImplementedError

    def _destroy(self, subject: str, at: datetime) -> list[str]:
        raise NotImplementedError


class InMemoryDataKeys(_CachedKeys):
    """For a ledger held in memory (benchmarks, the demo's dry runs)."""

    def __init__(self) -> None:
        super().__init__()
        self._rows: dict[str, tuple[str, bytes | None]] = {}

    def _read_live(self, subject: str) -> tuple[str, bytes] | None:
        for key_id, (owner, key) in self._rows.items():
            if owner == subject and key is not None:
                return key_id, key
        return None

    def _read(self, key_id: str) -> tuple[str, bytes] | None:
        subject, key = self._rows.get(key_id, ("", None))
        return None if key is None else (subject, key)

    def _insert(self, key_id: str, subject: str, key: bytes) -> None:
        self._rows[key_id] = (subject, key)

    def _live_among(self, subjects: list[str]) -> set[str]:
        wanted = set(subjects)
        return {owner for owner, key in self._rows.values() if key and owner in wanted}

    def rows(self) -> list[KeyRow]:
        return [KeyRow(i, subject, key, "", None) for i, (subject, key) in self._rows.items()]

    def insert_rows(self, rows: list[KeyRow]) -> None:
        for row in rows:
            self._rows[row.key_id] = (row.subject, row.key)

    def _destroy(self, subject: str, at: datetime) -> list[str]:
        ids = [i for i, (owner, key) in self._rows.items() if owner == subject and key]
        for key_id in ids:
            self._rows[key_id] = (subject, None)
        return ids


class SQLiteDataKeys(_CachedKeys):
    def __init__(self, datastore: SQLiteDatastore) -> None:
        super().__init__()
        self._datastore = datastore
        with datastore.transaction(commit=True) as cursor:
            cursor.execute(
                f"CREATE TABLE IF NOT EXISTS {TABLE} (key_id TEXT PRIMARY KEY,"
                " subject TEXT NOT NULL, key BLOB, created_at TEXT NOT NULL, destroyed_at TEXT)"
            )
            cursor.execute(f"CREATE INDEX IF NOT EXISTS {TABLE}_subject ON {TABLE} (subject)")

    def _one(self, statement: str, params: tuple[Any, ...]) -> Any:
        with self._datastore.transaction(commit=False) as cursor:
            cursor.execute(statement, params)
            return cursor.fetchone()

    def _read_live(self, subject: str) -> tuple[str, bytes] | None:
        row = self._one(
            f"SELECT key_id, key FROM {TABLE} WHERE subject = ? AND key IS NOT NULL LIMIT 1",
            (subject,),
        )
        return None if row is None else (str(row[0]), bytes(row[1]))

    def _read(self, key_id: str) -> tuple[str, bytes] | None:
        row = self._one(f"SELECT subject, key FROM {TABLE} WHERE key_id = ?", (key_id,))
        return None if row is None or row[1] is None else (str(row[0]), bytes(row[1]))

    def _live_among(self, subjects: list[str]) -> set[str]:
        marks = ", ".join("?" for _ in subjects)
        with self._datastore.transaction(commit=False) as cursor:
            cursor.execute(
                f"SELECT DISTINCT subject FROM {TABLE}"
                f" WHERE subject IN ({marks}) AND key IS NOT NULL",
                subjects,
            )
            return {str(row[0]) for row in cursor.fetchall()}

    def _insert(self, key_id: str, subject: str, key: bytes) -> None:
        with self._datastore.transaction(commit=True) as cursor:
            cursor.execute(
                f"INSERT INTO {TABLE} (key_id, subject, key, created_at) VALUES (?, ?, ?, ?)",
                (key_id, subject, key, datetime.now().astimezone().isoformat()),
            )

    def _destroy(self, subject: str, at: datetime) -> list[str]:
        with self._datastore.transaction(commit=True) as cursor:
            cursor.execute(
                f"SELECT key_id FROM {TABLE} WHERE subject = ? AND key IS NOT NULL", (subject,)
            )
            ids = [str(row[0]) for row in cursor.fetchall()]
            cursor.execute(
                f"UPDATE {TABLE} SET key = NULL, destroyed_at = ?"
                " WHERE subject = ? AND key IS NOT NULL",
                (at.isoformat(), subject),
            )
        return ids

    def rows(self) -> list[KeyRow]:
        with self._datastore.transaction(commit=False) as cursor:
            cursor.execute(
                f"SELECT key_id, subject, key, created_at, destroyed_at FROM {TABLE}"
                " ORDER BY created_at, key_id"
            )
            found = cursor.fetchall()
        return [
            KeyRow(str(i), str(s), None if k is None else bytes(k), str(c), d)
            for i, s, k, c, d in found
        ]

    def insert_rows(self, rows: list[KeyRow]) -> None:
        with self._datastore.transaction(commit=True) as cursor:
            cursor.executemany(
                f"INSERT INTO {TABLE} (key_id, subject, key, created_at, destroyed_at)"
                " VALUES (?, ?, ?, ?, ?)",
                [(r.key_id, r.subject, r.key, r.created_at, r.destroyed_at) for r in rows],
            )

    def scrub(self) -> None:
        """Overwritten pages are zeroed by ``secure_delete``; the write-ahead log still
        holds earlier images of them until it is checkpointed and truncated, and VACUUM
        rewrites the file without free pages."""
        connection = sqlite3.connect(self._datastore.pool.db_name, isolation_level=None)
        try:
            connection.execute("PRAGMA busy_timeout = 10000")
            connection.execute("PRAGMA secure_delete = ON")
            connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            connection.execute("VACUUM")
            connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        finally:
            connection.close()


class PostgresDataKeys(_CachedKeys):
    _CREATE_LOCK = "subledger:data-keys:{schema}"

    def __init__(self, datastore: PostgresDatastore) -> None:
        super().__init__()
        self._datastore = datastore
        self._table: Composable = (
            SQL("{}.{}").format(Identifier(datastore.schema), Identifier(TABLE))
            if datastore.schema
            else Identifier(TABLE)
        )
        lock = self._CREATE_LOCK.format(schema=datastore.schema)
        with datastore.transaction(commit=True) as cursor:
            # Processes starting together on a fresh schema must not create it twice.
            cursor.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", (lock,))
            cursor.execute(
                SQL(
                    "CREATE TABLE IF NOT EXISTS {} (key_id TEXT PRIMARY KEY,"
                    " subject TEXT NOT NULL, key BYTEA, created_at TIMESTAMPTZ NOT NULL"
                    " DEFAULT now(), destroyed_at TIMESTAMPTZ)"
                ).format(self._table)
            )
            cursor.execute(
                SQL("CREATE INDEX IF NOT EXISTS {} ON {} (subject)").format(
                    Identifier(f"{TABLE}_subject"), self._table
                )
            )

    def _one(self, statement: SQL, params: tuple[Any, ...]) -> Any:
        with self._datastore.transaction(commit=False) as cursor:
            cursor.execute(statement.format(self._table), params)
            return cursor.fetchone()

    def _read_live(self, subject: str) -> tuple[str, bytes] | None:
        row = self._one(
            SQL("SELECT key_id, key FROM {} WHERE subject = %s AND key IS NOT NULL LIMIT 1"),
            (subject,),
        )
        return None if row is None else (str(row["key_id"]), bytes(row["key"]))

    def _read(self, key_id: str) -> tuple[str, bytes] | None:
        row = self._one(SQL("SELECT subject, key FROM {} WHERE key_id = %s"), (key_id,))
        return None if row is None or row["key"] is None else (row["subject"], bytes(row["key"]))

    def _live_among(self, subjects: list[str]) -> set[str]:
        with self._datastore.transaction(commit=False) as cursor:
            cursor.execute(
                SQL(
                    "SELECT DISTINCT subject FROM {} WHERE subject = ANY(%s) AND key IS NOT NULL"
                ).format(self._table),
                (subjects,),
            )
            return {str(row["subject"]) for row in cursor.fetchall()}

    def _insert(self, key_id: str, subject: str, key: bytes) -> None:
        with self._datastore.transaction(commit=True) as cursor:
            cursor.execute(
                SQL("INSERT INTO {} (key_id, subject, key) VALUES (%s, %s, %s)").format(
                    self._table
                ),
                (key_id, subject, key),
            )

    def _destroy(self, subject: str, at: datetime) -> list[str]:
        with self._datastore.transaction(commit=True) as cursor:
            cursor.execute(
                SQL(
                    "UPDATE {} SET key = NULL, destroyed_at = %s"
                    " WHERE subject = %s AND key IS NOT NULL RETURNING key_id"
                ).format(self._table),
                (at, subject),
            )
            return [str(row["key_id"]) for row in cursor.fetchall()]

    def rows(self) -> list[KeyRow]:
        with self._datastore.transaction(commit=False) as cursor:
            cursor.execute(
                SQL(
                    "SELECT key_id, subject, key, created_at, destroyed_at FROM {}"
                    " ORDER BY created_at, key_id"
                ).format(self._table)
            )
            found = cursor.fetchall()
        return [
            KeyRow(
                r["key_id"],
                r["subject"],
                None if r["key"] is None else bytes(r["key"]),
                r["created_at"].isoformat(),
                None if r["destroyed_at"] is None else r["destroyed_at"].isoformat(),
            )
            for r in found
        ]

    def insert_rows(self, rows: list[KeyRow]) -> None:
        with self._datastore.transaction(commit=True) as cursor:
            cursor.executemany(
                SQL(
                    "INSERT INTO {} (key_id, subject, key, created_at, destroyed_at)"
                    " VALUES (%s, %s, %s, %s::timestamptz, %s::timestamptz)"
                ).format(self._table),
                [(r.key_id, r.subject, r.key, r.created_at, r.destroyed_at) for r in rows],
            )


def data_keys_for(datastore: object) -> InMemoryDataKeys | SQLiteDataKeys | PostgresDataKeys:
    """The key store beside the log that ``datastore`` (the library's) holds."""
    if isinstance(datastore, SQLiteDatastore):
        return SQLiteDataKeys(datastore)
    if isinstance(datastore, PostgresDatastore):
        return PostgresDataKeys(datastore)
    return InMemoryDataKeys()
