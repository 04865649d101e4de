"""Event-store selection and connection settings.

SQLite in a file is the embedded default (``SUBLEDGER_DB``, default
``var/subledger.db``); ``SUBLEDGER_DATABASE_URL=postgresql://user@host:port/db`` selects
PostgreSQL (an optional ``?schema=name`` query keeps several ledgers in one database).
The result is the environment the ``eventsourcing`` application reads.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

import psycopg
from psycopg import sql

from adapters.private_files import private_file

DEFAULT_SQLITE_PATH = "var/subledger.db"


class StoreUnreachable(Exception):
    """The configured event store cannot be opened; the message names what was tried."""


class StoreMisconfigured(Exception):
    pass


@dataclass(frozen=True)
class PostgresSettings:
    host: str
    port: int
    dbname: str
    user: str
    password: str
    schema: str

    def describe(self) -> str:
        return (
            f"PostgreSQL {self.user}@{self.host}:{self.port}/{self.dbname} (schema {self.schema})"
        )

    def conninfo(self) -> str:
        return psycopg.conninfo.make_conninfo(
            host=self.host,
            port=self.port,
            dbname=self.dbname,
            user=self.user,
            password=self.password or None,
            connect_timeout=5,
        )


@dataclass(frozen=True)
class StoreSettings:
    sqlite_path: str | None = None
    postgres: PostgresSettings | None = None

    def describe(self) -> str:
        if self.postgres is not None:
            return self.postgres.describe()
        return f"SQLite file {self.sqlite_path}"

    @property
    def read_sqlite_path(self) -> str:
        """The read models' SQLite file, beside the ledger's: ``var/subledger-read.db``.

        A file of its own, so that the projection runner's write transactions never
        wait on (or hold up) the ledger's writers, which SQLite would serialise."""
        assert self.sqlite_path is not None
        path = Path(self.sqlite_path)
        return str(path.with_name(f"{path.stem}-read{path.suffix}"))

    def eventsourcing_env(self) -> dict[str, str]:
        """The settings in the form ``eventsourcing.Application(env=...)`` expects."""
        if self.postgres is not None:
            pg = self.postgres
            return {
                # The library's, with the group commit (ADR 0013) and one-at-a-time creation.
                "PERSISTENCE_MODULE": "adapters.postgres_factory:Factory",
                "POSTGRES_HOST": pg.host,
                "POSTGRES_PORT": str(pg.port),
                "POSTGRES_DBNAME": pg.dbname,
                "POSTGRES_USER": pg.user,
                "POSTGRES_PASSWORD": pg.password,
                "POSTGRES_SCHEMA": pg.schema,
                "POSTGRES_CONNECT_TIMEOUT": "5",
                "POSTGRES_LOCK_TIMEOUT": "5",
                # No ping per checkout (a round trip each): reads and writes retry on a
                # dropped connection instead, and the pool discards broken ones.
                "POSTGRES_PRE_PING": "n",
                "POSTGRES_POOL_SIZE": "5",
                "POSTGRES_MAX_OVERFLOW": "10",
            }
        assert self.sqlite_path is not None
        return {
            # The library's, with PRAGMA secure_delete on each connection.
            "PERSISTENCE_MODULE": "adapters.sqlite_factory:Factory",
            "SQLITE_DBNAME": self.sqlite_path,
            "SQLITE_LOCK_TIMEOUT": "10",
        }

    def prepare(self) -> None:
        """Check the store can be reached (and make its schema or folder); else StoreUnreachable."""
        if self.postgres is not None:
            _prepare_postgres(self.postgres)
        else:
            assert self.sqlite_path is not None
            _prepare_sqlite(self.sqlite_path, self.read_sqlite_path)


def store_at(location: str) -> StoreSettings:
    """A store named on a command line: a ``postgresql://`` URL (with its optional
    ``?schema=``), else the path of a SQLite file."""
    if "://" in location:
        return StoreSettings(postgres=parse_postgres_url(location))
    return StoreSettings(sqlite_path=location)


def parse_postgres_url(url: str) -> PostgresSettings:
    parts = urlsplit(url)
    if parts.scheme not in ("postgresql", "postgres"):
        raise StoreMisconfigured(
            f"SUBLEDGER_DATABASE_URL must start with postgresql://, got {parts.scheme or url!r}"
        )
    dbname = unquote(parts.path.lstrip("/"))
    if not dbname:
        raise StoreMisconfigured("SUBLEDGER_DATABASE_URL names no database (postgresql://host/DB)")
    schema = parse_qs(parts.query).get("schema", ["public"])[0]
    return PostgresSettings(
        host=parts.hostname or "127.0.0.1",
        port=parts.port or 5432,
        dbname=dbname,
        user=unquote(parts.username or "postgres"),
        password=unquote(parts.password or ""),
        schema=schema,
    )


def _prepare_postgres(pg: PostgresSettings) -> None:
    try:
        with psycopg.connect(pg.conninfo(), autocommit=True) as conn:
            conn.execute(
                sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(sql.Identifier(pg.schema))
            )
    except psycopg.Error as error:
        reason = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise StoreUnreachable(f"cannot reach {pg.describe()}: {reason}") from None


def _prepare_sqlite(path: str, read_path: str) -> None:
    """The folder (0700) and both files (0600) made private before SQLite creates them."""
    try:
        private_file(read_path)
        sqlite3.connect(private_file(path)).close()
    except (OSError, sqlite3.Error) as error:
        raise StoreUnreachable(f"cannot open SQLite file {path}: {error}") from None
