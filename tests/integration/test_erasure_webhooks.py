"""Webhooks after an erasure, on SQLite and PostgreSQL: the receiver gets the
``PersonalDataErased`` event, and a redelivery of the events before it carries
``"[erased]"`` where the contact's name and e-mail were."""

from __future__ import annotations

import json
from collections.abc import Callable

from domain.account import Contact, ContactRole
from domain.personal_data import ERASED, SubjectKind
from service.ledger.application import Ledger
from service.privacy.erasure import Erasures
from service.webhooks.endpoint import WebhookEndpoints
from service.webhooks.worker import WebhookWorker
from tests.builders import open_account
from tests.integration.test_erasure import ERASING
from tests.integration.test_webhooks import (  # noqa: F401 (fixtures)
    OPERATOR,
    STAFF,
    drive,
    endpoints,
    make_worker,
    public_events,
)
from tests.integration.webhook_receiver import Receiver

ADA = Contact(ContactRole.TECHNICAL, "Ada Lovelace", "ada@engine.example")


def test_deliveries_after_an_erasure_carry_no_trace_of_it(
    ledger: Ledger,
    endpoints: WebhookEndpoints,  # noqa: F811 (the fixture imported above)
    make_worker: Callable[..., WebhookWorker],  # noqa: F811
) -> None:
    account_id = open_account(ledger, STAFF)
    with Receiver() as receiver:
        registered = endpoints.register(OPERATOR, receiver.url, [])
        start = endpoints.get(registered.endpoint_id).start_after
        ledger.add_contact(STAFF, account_id, ADA, contact_id="ada-l")
        worker = make_worker()
        drive(worker, lambda: len(receiver.snapshot()) == len(public_events(ledger, start)))
        assert b"Ada Lovelace" in receiver.snapshot()[-1].body  # the consumer's own copy

        Erasures(ledger).erase(ERASING, account_id, SubjectKind.CONTACT, "ada-l")
        sent = len(receiver.snapshot())
        drive(worker, lambda: len(receiver.snapshot()) == sent + 1)
        endpoints.replay(OPERATOR, registered.endpoint_id, start + 1)
        expected = len(public_events(ledger, start))
        drive(worker, lambda: len(receiver.snapshot()) == sent + 1 + expected)
        received = receiver.snapshot()

    erasure = json.loads(received[sent].body)
    assert erasure["type"] == "subledger.account.PersonalDataErased.v1"
    assert erasure["data"] == {"kind": "contact", "subject_id": "ada-l"}
    redelivered = received[sent + 1 :]
    bodies = b"".join(r.body for r in redelivered)
    assert b"Ada Lovelace" not in bodies and b"ada@engine.example" not in bodies
    added = next(json.loads(r.body) for r in redelivered if b"ContactAdded" in r.body)
    assert added["data"]["contact"]["name"] == ERASED
