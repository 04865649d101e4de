"""docs/consuming-events.md, "Webhooks": its receiver, run exactly as written, verifies the
worker's signatures, refuses forged and stale ones, and prints every event in order."""

from __future__ import annotations

import re
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from adapters.clock import ControllableClock
from adapters.payments import FakePaymentProvider
from adapters.store import StoreSettings
from domain.account import User
from domain.base import LedgerAggregate
from projections.cloudevents import is_public, to_cloudevent
from service.config.public_url import DEFAULT_PUBLIC_URL
from service.ledger.application import Ledger
from service.ledger.context import CommandContext
from service.webhooks.endpoint import WebhookEndpoints
from service.webhooks.policy import DeliveryPolicy
from service.webhooks.signing import new_secret, signature_headers
from service.webhooks.store import WebhookStore
from service.webhooks.worker import WebhookWorker
from tests.builders import open_account
from tests.conftest import T0
from tests.destinations import LOOPBACK

DOC = Path(__file__).resolve().parents[2] / "docs" / "consuming-events.md"
STAFF = CommandContext("staff-1", "billing_staff")
OPERATOR = CommandContext("op-1", "operator")


def snippet(name: str) -> str:
    found = re.search(
        rf"<!-- snippet: {name} -->\n```python\n(.*?)\n```", DOC.read_text(), re.DOTALL
    )
    assert found, f"no snippet {name!r} in {DOC.name}"
    return found.group(1) + "\n"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def listening(port: int, seconds: float = 10) -> bool:
    deadline = time.monotonic() + seconds
    for _ in range(int(seconds / 0.05)):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return True
        except OSError:
            if time.monotonic() > deadline:
                break
            time.sleep(0.05)
    return False


@pytest.fixture
def ledger(tmp_path: Path) -> Iterator[Ledger]:
    settings = StoreSettings(sqlite_path=str(tmp_path / "ledger.db"))
    ledger = Ledger(
        env=settings.eventsourcing_env(),
        clock=ControllableClock(T0),
        payment_provider=FakePaymentProvider(),
    )
    yield ledger
    ledger.close()


def test_the_documented_receiver_verifies_signatures_and_gets_every_event(
    ledger: Ledger, tmp_path: Path
) -> None:
    settings = StoreSettings(sqlite_path=str(tmp_path / "ledger.db"))
    port = free_port()
    url = f"http://127.0.0.1:{port}/hooks"
    store = WebhookStore(settings)
    registered = WebhookEndpoints(ledger, store, LOOPBACK).register(OPERATOR, url, [])
    start = ledger.head_position()
    account_id = open_account(ledger, STAFF)
    for n in range(3):
        ledger.add_user(STAFF, account_id, User(f"u{n}", f"User {n}", f"u{n}@acme.example"))
    expected = []
    for notification in ledger.recorder.select_notifications(start + 1, 100):
        event = ledger.mapper.to_domain_event(notification)
        if is_public(event):
            assert isinstance(event, LedgerAggregate.Event)
            envelope = to_cloudevent(notification.id, event, DEFAULT_PUBLIC_URL)
            expected.append(f"{envelope['sequence']} {envelope['type']} {envelope['subject']}")

    program, output = tmp_path / "receiver.py", tmp_path / "receiver.out"
    program.write_text(snippet("webhook"))
    env = {"SUBLEDGER_WEBHOOK_SECRET": registered.secret, "PORT": str(port), "PATH": ""}
    with output.open("w") as out:
        receiver = subprocess.Popen([sys.executable, str(program)], env=env, stdout=out)
    worker = WebhookWorker(
        ledger, settings, DeliveryPolicy(timeout=2, backoff_base=0.01), destinations=LOOPBACK
    )
    try:
        assert listening(port), "the documented receiver did not start"
        body, now = b'{"sequence": "1", "type": "forged", "subject": "x"}', int(time.time())
        signed = signature_headers(registered.secret, "e-1", now, body)
        for forged in (
            signature_headers(new_secret(), "e-1", now, body),
            signature_headers(registered.secret, "e-1", now - 3600, body),  # stale
            {**signed, "webhook-id": "e-2"},
            {**signed, "webhook-signature": "v1,\u00e9"},
            {name: value for name, value in signed.items() if name != "webhook-id"},
            {"Subledger-Signature": signed["Subledger-Signature"]},  # the legacy one alone
        ):
            headers = {name: value.encode("latin-1") for name, value in forged.items()}
            refused = httpx.post(url, content=body, headers=headers)
            assert refused.status_code == 401

        deadline = time.monotonic() + 20
        for _ in range(200):
            if len(output.read_text().splitlines()) >= len(expected):
                break
            assert time.monotonic() < deadline, output.read_text()
            worker.run_once()
            time.sleep(0.05)
    finally:
        receiver.kill()
        receiver.wait()
        worker.stop()
        store.close()
    assert output.read_text().splitlines() == expected
    assert len(expected) == 4
