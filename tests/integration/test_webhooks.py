"""Webhook delivery against a real HTTP receiver on 127.0.0.1, on SQLite and PostgreSQL.

The receiver misbehaves at random (500, a sleep past the timeout, a dropped connection)
and then recovers; the worker must still bring it every public event, in order, each at
least once, every one signed. Every wait is bounded by a count and by time.
"""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Callable, Iterator
from dataclasses import replace
from uuid import UUID

import pytest
from prometheus_client import REGISTRY

from adapters.store import StoreSettings
from adapters.webhook_destinations import Destinations
from domain.account import Account, User
from projections.cloudevents import event_id, is_public, type_name
from service.ledger.application import Ledger
from service.ledger.context import CommandContext
from service.webhooks.endpoint import WebhookEndpoint, WebhookEndpoints
from service.webhooks.policy import DeliveryPolicy
from service.webhooks.store import WebhookStore
from service.webhooks.worker import WebhookWorker, WorkerBusy
from tests.builders import open_account
from tests.destinations import LOOPBACK, offline_resolver
from tests.integration.webhook_receiver import MISBEHAVIOURS, Receiver, signed_by

STAFF = CommandContext("staff-1", "billing_staff")
OPERATOR = CommandContext("op-1", "operator")
FAST = DeliveryPolicy(timeout=0.3, backoff_base=0.01, backoff_cap=0.05, poll=0.05, batch_size=7)


@pytest.fixture
def endpoints(store: StoreSettings, ledger: Ledger) -> Iterator[WebhookEndpoints]:
    webhook_store = WebhookStore(store)
    yield WebhookEndpoints(ledger, webhook_store, LOOPBACK)
    webhook_store.close()


@pytest.fixture
def make_worker(
    store: StoreSettings, ledger: Ledger
) -> Iterator[Callable[[DeliveryPolicy], WebhookWorker]]:
    made: list[WebhookWorker] = []

    def make(policy: DeliveryPolicy = FAST) -> WebhookWorker:
        made.append(WebhookWorker(ledger, store, policy, destinations=LOOPBACK))
        return made[-1]

    yield make
    for worker in made:
        worker.stop()


def add_users(ledger: Ledger, account_id: UUID, first: int, count: int) -> None:
    for n in range(first, first + count):
        ledger.add_user(STAFF, account_id, User(f"u{n}", f"User {n}", f"u{n}@acme.example"))


def public_events(ledger: Ledger, after: int) -> list[tuple[int, str]]:
    """(position, event id) of every public event after ``after``, in log order."""
    found = []
    while batch := ledger.recorder.select_notifications(after + 1, 500):
        for notification in batch:
            event = ledger.mapper.to_domain_event(notification)
            if is_public(event):
                found.append((notification.id, event_id(event)))  # type: ignore[arg-type]
        after = batch[-1].id
    return found


def until(done: Callable[[], bool], seconds: float, step: float = 0.05) -> bool:
    deadline = time.monotonic() + seconds
    for _ in range(int(seconds / step) + 1):
        if done() or time.monotonic() > deadline:
            break
        time.sleep(step)
    return done()


def drive(worker: WebhookWorker, done: Callable[[], bool], rounds: int = 200) -> None:
    """Run the worker round after round (bounded by count and time) until ``done``."""
    deadline = time.monotonic() + 30
    for _ in range(rounds):
        if done() or time.monotonic() > deadline:
            break
        worker.run_once()
        time.sleep(0.02)
    assert done(), "the worker did not finish in time"


def test_a_flaky_receiver_gets_every_event_in_order_at_least_once_signed(
    ledger: Ledger, endpoints: WebhookEndpoints, make_worker: Callable[..., WebhookWorker]
) -> None:
    account_id = open_account(ledger, STAFF)
    before = {outcome: attempts(outcome) for outcome in ("acknowledged", "failed")}
    with Receiver(chaos=0.5, chaos_requests=50, sleep=FAST.timeout * 2, seed=11) as receiver:
        registered = endpoints.register(OPERATOR, receiver.url, [], "flaky")
        start = endpoints.get(registered.endpoint_id).start_after
        add_users(ledger, account_id, 0, 20)  # a backlog before the worker starts
        worker = make_worker()
        worker.start()
        add_users(ledger, account_id, 20, 20)  # and live events while it runs
        expected = public_events(ledger, start)
        done = until(lambda: len(receiver.acknowledged()) >= len(expected), seconds=60)
        worker.stop()
        received = receiver.snapshot()

    assert done and len(expected) == 40
    first_arrivals: dict[int, str] = {}
    for r in received:
        first_arrivals.setdefault(r.position, r.event_id)
    assert list(first_arrivals.items()) == expected  # in order, each position, nothing else
    positions = list(first_arrivals)
    assert positions == sorted(positions) and len(set(positions)) == len(positions)
    assert [(r.position, r.event_id) for r in receiver.acknowledged()] == expected
    assert {r.answer for r in received} == {"ok", *MISBEHAVIOURS}  # the chaos did happen
    assert all(signed_by(registered.secret, r) for r in received)
    counted = {outcome: attempts(outcome) - before[outcome] for outcome in before}
    assert counted == {"acknowledged": len(expected), "failed": len(received) - len(expected)}
    envelope = json.loads(received[-1].body)
    assert envelope["specversion"] == "1.0" and envelope["type"].startswith("subledger.")

    cursor = endpoints.store.cursor(registered.endpoint_id)
    assert cursor is not None and cursor.position == expected[-1][0] and cursor.failures == 0
    log = endpoints.store.deliveries(registered.endpoint_id, None, 1000)
    assert len(log) == len(received)
    assert {d.status_code for d in log} == {200, 500, None}  # None: timed out, or dropped
    errors = " ".join(d.error for d in log if d.error)
    assert "Timeout" in errors and "RemoteProtocolError" in errors
    assert endpoints.get(registered.endpoint_id).enabled


def attempts(outcome: str) -> float:
    """The worker's counter (prometheus-client's default registry, this process)."""
    return REGISTRY.get_sample_value("subledger_webhook_attempts_total", {"outcome": outcome}) or 0


def disabled_count() -> float:
    return REGISTRY.get_sample_value("subledger_webhook_endpoints_disabled_total") or 0


def test_a_run_of_failures_disables_the_endpoint_as_an_event_and_enabling_resumes(
    ledger: Ledger, endpoints: WebhookEndpoints, make_worker: Callable[..., WebhookWorker]
) -> None:
    failed_before, disabled_before = attempts("failed"), disabled_count()
    account_id = open_account(ledger, STAFF)
    with Receiver(chaos=1.0, chaos_requests=10**6, misbehaviours=("500",)) as receiver:
        registered = endpoints.register(OPERATOR, receiver.url, [])
        add_users(ledger, account_id, 0, 2)
        worker = make_worker(replace(FAST, disable_after_failures=3))
        endpoint_id = registered.endpoint_id
        drive(worker, lambda: not endpoints.get(endpoint_id).enabled)

        endpoint = endpoints.get(endpoint_id)
        assert endpoint.disabled_reason is not None
        assert endpoint.disabled_reason.startswith("3 failed deliveries in a row")
        disabled = [
            e for e in ledger.events.get(endpoint_id) if isinstance(e, WebhookEndpoint.Disabled)
        ]
        assert len(disabled) == 1 and disabled[0].failures == 3
        assert disabled[0].meta.actor_id == "subledger:webhooks"
        log = endpoints.store.deliveries(endpoint_id, None, 100)
        assert [(d.attempt, d.status_code) for d in reversed(log)] == [(1, 500), (2, 500), (3, 500)]
        assert {d.position for d in log} == {public_events(ledger, endpoint.start_after)[0][0]}
        worker.run_once()
        assert len(receiver.snapshot()) == 3  # disabled: nothing more is sent
        assert (attempts("failed") - failed_before, disabled_count() - disabled_before) == (3, 1)

        receiver.recover()
        endpoints.enable(OPERATOR, endpoint_id)
        expected = public_events(ledger, endpoint.start_after)
        drive(worker, lambda: len(receiver.acknowledged()) == len(expected))
    assert [(r.position, r.event_id) for r in receiver.acknowledged()] == expected
    cursor = endpoints.store.cursor(endpoint_id)
    assert cursor is not None and cursor.failures == 0 and cursor.failing_since is None


def test_an_operator_replay_sends_again_from_the_position_named(
    ledger: Ledger, endpoints: WebhookEndpoints, make_worker: Callable[..., WebhookWorker]
) -> None:
    account_id = open_account(ledger, STAFF)
    with Receiver() as receiver:
        registered = endpoints.register(OPERATOR, receiver.url, [])
        add_users(ledger, account_id, 0, 6)
        expected = public_events(ledger, endpoints.get(registered.endpoint_id).start_after)
        worker = make_worker()
        drive(worker, lambda: len(receiver.snapshot()) == len(expected))

        from_position = expected[2][0]
        endpoints.replay(OPERATOR, registered.endpoint_id, from_position)
        drive(worker, lambda: len(receiver.snapshot()) == len(expected) + len(expected[2:]))
        again = receiver.snapshot()[len(expected) :]
    assert [(r.position, r.event_id) for r in again] == expected[2:]


def test_an_endpoint_gets_only_the_types_it_asked_for(
    ledger: Ledger, endpoints: WebhookEndpoints, make_worker: Callable[..., WebhookWorker]
) -> None:
    user_added = type_name(Account.UserAdded)
    with Receiver() as receiver:
        registered = endpoints.register(OPERATOR, receiver.url, [user_added])
        account_id = open_account(ledger, STAFF)
        add_users(ledger, account_id, 0, 3)
        ledger.set_payment_method(STAFF, account_id, "pm_card")
        worker = make_worker()
        drive(worker, lambda: len(receiver.snapshot()) == 3)
        cursor = endpoints.store.cursor(registered.endpoint_id)
    assert [json.loads(r.body)["type"] for r in receiver.snapshot()] == [user_added] * 3
    assert cursor is not None and cursor.position == ledger.head_position()


def test_one_worker_per_store_and_a_deleted_endpoint_is_forgotten(
    ledger: Ledger, endpoints: WebhookEndpoints, make_worker: Callable[..., WebhookWorker]
) -> None:
    with Receiver() as receiver:
        registered = endpoints.register(OPERATOR, receiver.url, [])
        add_users(ledger, open_account(ledger, STAFF), 0, 1)
        first = make_worker()
        first.start()
        assert until(lambda: first.running_here, seconds=10)
        with pytest.raises(WorkerBusy):
            make_worker().run_once()
        assert until(lambda: len(receiver.acknowledged()) == 2, seconds=10)
        first.stop()

        endpoints.delete(OPERATOR, registered.endpoint_id)
        assert endpoints.store.secret(registered.endpoint_id) is None
        assert endpoints.all() == []
        make_worker().run_once()
        assert endpoints.store.cursor(registered.endpoint_id) is None


def test_the_worker_checks_the_destination_again_when_it_connects(
    ledger: Ledger, endpoints: WebhookEndpoints, store: StoreSettings
) -> None:
    """Registered while the operator allowed loopback; the worker now allows it no more
    (or a name now resolves elsewhere): nothing is sent, and the attempt says why."""
    strict = Destinations((), offline_resolver)
    with Receiver() as receiver:
        for url in (receiver.url, receiver.url.replace("127.0.0.1", "localhost")):
            endpoints.register(OPERATOR, url, [])
        open_account(ledger, STAFF)
        worker = WebhookWorker(ledger, store, FAST, destinations=strict)
        try:
            worker.run_once()
        finally:
            worker.stop()
        assert receiver.snapshot() == []
    for endpoint in endpoints.all():
        (attempt,) = endpoints.store.deliveries(endpoint.id, None, 10)
        assert (attempt.status_code, attempt.error) == (None, "DestinationRefused")


def test_a_failed_delivery_is_logged_by_its_error_class_alone(
    ledger: Ledger, endpoints: WebhookEndpoints, make_worker: Callable[..., WebhookWorker]
) -> None:
    with socket.socket() as probe:  # a port on 127.0.0.1 where nothing listens
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    registered = endpoints.register(OPERATOR, f"http://127.0.0.1:{port}/hooks", [])
    open_account(ledger, STAFF)
    make_worker().run_once()
    (attempt,) = endpoints.store.deliveries(registered.endpoint_id, None, 10)
    assert (attempt.status_code, attempt.error) == (None, "ConnectError")
