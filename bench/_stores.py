"""The store a benchmark runs on: a SQLite file in a temporary directory, or a new
PostgreSQL schema, removed after the run; or, with ``--keep NAME``, one kept between
runs (a full-size book takes minutes to write: a second run measures it again)."""

from __future__ import annotations

import argparse
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from uuid import uuid4

import psycopg

from adapters.store import StoreSettings, parse_postgres_url


def add_store_arguments(parser: argparse.ArgumentParser) -> None:
    """``--dir`` and ``--database-url``, the two arguments ``fresh_store`` takes."""
    parser.add_argument("--dir", type=Path, help="where the SQLite files go (default: /tmp)")
    parser.add_argument(
        "--database-url", help="postgresql://... to measure PostgreSQL (a schema of its own)"
    )


def add_keep_argument(parser: argparse.ArgumentParser) -> None:
    """``--keep NAME``, the argument ``store_for`` takes besides ``add_store_arguments``'."""
    parser.add_argument(
        "--keep",
        metavar="NAME",
        help="keep the store between runs (SQLite: DIR/subledger-bench-NAME.db; PostgreSQL:"
        " schema bench_keep_NAME) and measure the one already there if it was filled;"
        " delete it by hand (rm / DROP SCHEMA ... CASCADE)",
    )


@contextmanager
def store_for(
    database_url: str | None, directory: Path | str | None, keep: str | None
) -> Iterator[StoreSettings]:
    """``fresh_store``, or with ``keep`` a store of that name, made if missing and never
    removed."""
    if keep is None:
        with fresh_store(database_url, directory) as settings:
            yield settings
        return
    if not keep.replace("_", "").isalnum():
        raise SystemExit(f"--keep: letters, digits and _ only, not {keep!r}")
    if database_url:
        pg = replace(parse_postgres_url(database_url), schema=f"bench_keep_{keep.lower()}")
        settings = StoreSettings(postgres=pg)
    else:
        folder = Path(directory or tempfile.gettempdir())
        settings = StoreSettings(sqlite_path=str(folder / f"subledger-bench-{keep}.db"))
    settings.prepare()
    yield settings


@contextmanager
def fresh_store(
    database_url: str | None, directory: Path | str | None = None
) -> Iterator[StoreSettings]:
    """SQLite under ``directory`` (default: the system's temporary directory) when no
    ``database_url`` is given, else a schema of its own on that PostgreSQL server."""
    if not database_url:
        with tempfile.TemporaryDirectory(prefix="subledger-bench-", dir=directory) as temp:
            yield StoreSettings(sqlite_path=str(Path(temp) / "ledger.db"))
        return
    pg = replace(parse_postgres_url(database_url), schema=f"bench_{uuid4().hex[:12]}")
    settings = StoreSettings(postgres=pg)
    settings.prepare()
    try:
        yield settings
    finally:
        # The server may be restarting (a fault test of someone else's): keep trying.
        for attempt in range(30):
            try:
                with psycopg.connect(pg.conninfo(), autocommit=True) as connection:
                    connection.execute(f'DROP SCHEMA "{pg.schema}" CASCADE')
                break
            except psycopg.OperationalError:
                if attempt == 29:
                    raise
                time.sleep(2)
