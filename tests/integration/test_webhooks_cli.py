"""``subledger webhooks run``: a worker process that delivers, stops on SIGTERM, and
``--once``, which refuses to run beside another worker."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from adapters.clock import SystemClock
from adapters.payments import FakePaymentProvider
from adapters.runner_lock import RunnerLock
from adapters.store import StoreSettings
from domain.account import User
from service.ledger.application import Ledger
from service.ledger.context import CommandContext
from service.webhooks.endpoint import WebhookEndpoints
from service.webhooks.store import WebhookStore
from service.webhooks.worker import LOCK_NAME
from tests.builders import open_account
from tests.destinations import LOOPBACK
from tests.integration.webhook_receiver import Receiver

SUBLEDGER = str(Path(sys.executable).with_name("subledger"))
STAFF = CommandContext("staff-1", "billing_staff")
OPERATOR = CommandContext("op-1", "operator")


@pytest.fixture
def settings(tmp_path: Path) -> StoreSettings:
    return StoreSettings(sqlite_path=str(tmp_path / "ledger.db"))


@pytest.fixture
def environ(settings: StoreSettings) -> dict[str, str]:
    kept = {k: v for k, v in os.environ.items() if not k.startswith("SUBLEDGER_")}
    return kept | {
        "SUBLEDGER_DB": str(settings.sqlite_path),
        "SUBLEDGER_WEBHOOK_BACKOFF_BASE": "0.01",
        "SUBLEDGER_WEBHOOK_POLL": "0.1",
        "SUBLEDGER_WEBHOOK_ALLOWED_NETWORKS": "127.0.0.1/32",  # the receiver's
    }


@pytest.fixture
def receiver(settings: StoreSettings) -> Iterator[Receiver]:
    """A receiver registered as an endpoint, and two events for it."""
    ledger = Ledger(
        env=settings.eventsourcing_env(),
        clock=SystemClock(),
        payment_provider=FakePaymentProvider(),
    )
    store = WebhookStore(settings)
    with Receiver() as receiver:
        WebhookEndpoints(ledger, store, LOOPBACK).register(OPERATOR, receiver.url, [])
        account_id = open_account(ledger, STAFF)
        ledger.add_user(STAFF, account_id, User("ben", "Ben", "ben@acme.example"))
        ledger.close()
        yield receiver


def test_the_worker_process_delivers_and_stops_on_sigterm(
    receiver: Receiver, environ: dict[str, str]
) -> None:
    worker = subprocess.Popen(
        [SUBLEDGER, "webhooks", "run"], env=environ, stdout=subprocess.PIPE, text=True
    )
    try:
        deadline = time.monotonic() + 20
        while len(receiver.acknowledged()) < 2 and time.monotonic() < deadline:
            time.sleep(0.1)
        worker.send_signal(signal.SIGTERM)
        assert worker.wait(timeout=20) == 0
    finally:
        if worker.poll() is None:
            worker.kill()
    assert len(receiver.acknowledged()) == 2
    assert "waiting to be the delivery worker" in (worker.stdout.read() if worker.stdout else "")


def test_once_delivers_what_is_due_unless_another_worker_runs(
    receiver: Receiver, environ: dict[str, str], settings: StoreSettings
) -> None:
    lock = RunnerLock(settings, LOCK_NAME)
    assert lock.try_acquire()
    try:
        busy = subprocess.run(
            [SUBLEDGER, "webhooks", "run", "--once"], env=environ, capture_output=True, text=True
        )
    finally:
        lock.release()
    assert busy.returncode == 1 and "another webhook worker" in busy.stderr
    assert receiver.snapshot() == []

    once = subprocess.run(
        [SUBLEDGER, "webhooks", "run", "--once"], env=environ, capture_output=True, text=True
    )
    assert once.returncode == 0, once.stderr
    assert "2 events acknowledged" in once.stdout
    assert len(receiver.acknowledged()) == 2
