"""The embedded store is private to the service's user, and forgets what it deletes: its
folder is made 0700 and its files 0600 whatever the umask, and SQLite zeroes deleted rows
(``secure_delete``), so an erased webhook secret leaves no bytes behind in the file."""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from uuid import uuid4

import pytest

from adapters.clock import ControllableClock
from adapters.payments import FakePaymentProvider
from adapters.store import StoreSettings
from service.ledger.application import Ledger
from service.ledger.context import CommandContext
from service.reads.read_side import ReadSide
from service.webhooks.signing import new_secret
from service.webhooks.store import WebhookStore
from tests.builders import open_account
from tests.conftest import T0


@pytest.fixture
def permissive_umask() -> Iterator[None]:
    previous = os.umask(0o022)  # the usual one: new files readable by every local user
    try:
        yield
    finally:
        os.umask(previous)


def test_a_new_sqlite_store_is_made_private(tmp_path: Path, permissive_umask: None) -> None:
    var = tmp_path / "var"
    settings = StoreSettings(sqlite_path=str(var / "subledger.db"))
    settings.prepare()
    ledger = Ledger(
        env=settings.eventsourcing_env(),
        clock=ControllableClock(T0),
        payment_provider=FakePaymentProvider(),
    )
    read_side = ReadSide(settings, ledger)
    try:
        open_account(ledger, CommandContext("staff-1", "billing_staff"))
        read_side.runner.catch_up()
        modes = {p.name: p.stat().st_mode & 0o777 for p in var.iterdir()}
    finally:
        read_side.stop()
        ledger.close()
    assert var.stat().st_mode & 0o777 == 0o700
    assert {"subledger.db", "subledger-read.db", "subledger.db-wal"} <= set(modes)
    assert modes == {name: 0o600 for name in modes}


@pytest.fixture
def secure_delete_off_by_default(monkeypatch: pytest.MonkeyPatch) -> None:
    """SQLite as most builds ship it: this machine's turns secure_delete on by default."""
    connect = sqlite3.connect

    def connect_as_built_elsewhere(*args: Any, **kwargs: Any) -> sqlite3.Connection:
        connection = connect(*args, **kwargs)
        connection.execute("PRAGMA secure_delete = OFF")
        return connection

    monkeypatch.setattr(sqlite3, "connect", connect_as_built_elsewhere)


def test_an_erased_webhook_secret_leaves_no_bytes_in_the_sqlite_file(
    tmp_path: Path, secure_delete_off_by_default: None
) -> None:
    path = tmp_path / "subledger.db"
    settings = StoreSettings(sqlite_path=str(path))
    settings.prepare()
    ledger = Ledger(
        env=settings.eventsourcing_env(),
        clock=ControllableClock(T0),
        payment_provider=FakePaymentProvider(),
    )
    store = WebhookStore(settings)
    endpoint_id, secret, kept = uuid4(), new_secret(), uuid4()
    try:
        store.put_secret(endpoint_id, secret)
        store.put_secret(kept, new_secret())  # its page stays in use (an empty one is reset)
        assert store.secret(endpoint_id) == secret
        store.forget(endpoint_id)
        with ledger.recorder.datastore.transaction(commit=False) as cursor:  # type: ignore[attr-defined]
            cursor.execute("PRAGMA secure_delete")  # the event store's connections too
            assert cursor.fetchone()[0] == 1
    finally:
        store.close()
        ledger.close()
    with sqlite3.connect(path) as connection:  # every page into the file, the WAL emptied
        connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    stored = b"".join(p.read_bytes() for p in tmp_path.iterdir() if p.is_file())
    assert secret.encode() not in stored
    assert secret.encode()[-20:] not in stored
