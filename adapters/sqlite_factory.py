"""The SQLite infrastructure of the ledger: the library's, with ``secure_delete`` on.

SQLite leaves a deleted row's bytes in the file's free pages until they are reused;
with ``PRAGMA secure_delete`` it overwrites them with zeros. The ledger's database
holds the webhook signing secrets, which deleting an endpoint erases (ADR 0009), so the
pragma is set on every connection the library makes (it is not stored in the file).
"""

from __future__ import annotations

from eventsourcing.sqlite import SQLiteConnection, SQLiteConnectionPool, SQLiteFactory
from eventsourcing.utils import Environment, EnvType

SECURE_DELETE = "PRAGMA secure_delete = ON"


class _SecureDeletePool(SQLiteConnectionPool):
    def _create_connection(self) -> SQLiteConnection:
        connection = super()._create_connection()
        connection.cursor().execute(SECURE_DELETE)
        return connection


class Factory(SQLiteFactory):
    def __init__(self, env: Environment | EnvType | None) -> None:
        super().__init__(env)
        made = self.datastore.pool  # lazy: it has made no connection yet
        self.datastore.pool = _SecureDeletePool(
            db_name=made.db_name, lock_timeout=made.lock_timeout
        )
        made.close()
