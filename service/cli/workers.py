"""The worker commands: ``relay nats``, ``billing run`` and ``webhooks run``."""

from __future__ import annotations

import contextlib
import signal
from datetime import UTC, date, datetime, time

import click

from adapters.jetstream import BrokerMisconfigured
from adapters.runner_lock import RunnerLock
from service.billing.run import BILLING_LOCK, BillingReport, BillingRun
from service.bootstrap import Service
from service.cli.runner import CLI_OPERATOR, fail, with_service
from service.clock.test_clock import ClockControl, on_test_clock
from service.relay.nats import NatsRelay, StreamNotOurs
from service.webhooks.worker import WorkerBusy


@click.group(help="publish the event log to a message broker")
def relay() -> None:
    pass


@relay.command(help="publish every event to a NATS JetStream stream, once, in order (a worker)")
@click.option("--url", default=None, help="default: SUBLEDGER_NATS_URL")
@click.option("--stream", default="SUBLEDGER", show_default=True)
@click.option("--subject-prefix", default="subledger.events", show_default=True)
@click.option("--batch-size", type=int, default=500, help="events per publish and cursor")
@with_service(reading=True)
def nats(svc: Service, url: str | None, stream: str, subject_prefix: str, batch_size: int) -> int:
    publisher = NatsRelay(
        svc.store,
        svc.ledger,
        url or svc.settings.nats_url,
        stream,
        subject_prefix,
        svc.settings.public_url,
        batch_size,
    )
    print(f"relay: {publisher.publisher.describe()}; waiting to be the relay", flush=True)
    signal.signal(signal.SIGTERM, lambda *_: publisher.stop_soon())
    try:
        with contextlib.suppress(KeyboardInterrupt):
            publisher.run()
    except (BrokerMisconfigured, StreamNotOurs) as error:
        fail(str(error))
        return 2
    finally:
        publisher.close()
    return 0


@click.group(help="invoices, renewals, reminders by the calendar")
def billing() -> None:
    pass


@billing.command(
    name="run", help="do every billing step due up to a day, once (serve runs it on a schedule)"
)
@click.option(
    "--until",
    type=click.DateTime(["%Y-%m-%d"]),
    metavar="YYYY-MM-DD",
    default=None,
    help="YYYY-MM-DD (default: today); a later day only on a test clock, which then "
    "moves to that day's start (SUBLEDGER_CLOCK=test)",
)
@with_service()
def billing_run(svc: Service, until: datetime | None) -> int:
    day = until.date() if until is not None else None
    ledger = svc.ledger
    if day is not None and on_test_clock(ledger) and day > ledger.clock.now().date():
        report = _rehearse(svc, day)
    else:
        lock = RunnerLock(svc.store, BILLING_LOCK)
        if not lock.try_acquire():
            fail("another billing run is active on this store; retry")
            return 1
        try:
            report = BillingRun(ledger, svc.billing().reminder_days).run(day)
        finally:
            lock.release()
    for line in report.lines():
        print(line)
    return 1 if report.failures else 0


def _rehearse(svc: Service, until: date) -> BillingReport:
    """On a test clock, a later day moves the clock to that day's start, billing the way."""
    start = datetime.combine(until, time(), UTC)
    move = ClockControl(svc.ledger, svc.store, svc.billing()).move_to(CLI_OPERATOR, start)
    print(f"test clock moved from {move.previous.isoformat()} to {move.now.isoformat()}")
    return move.billing


@click.group(help="deliver events to webhook endpoints")
def webhooks() -> None:
    pass


@webhooks.command(name="run", help="send every endpoint its events, in order, signed (a worker)")
@click.option("--once", is_flag=True, help="send what is due now, then exit")
@with_service()
def webhooks_run(svc: Service, once: bool) -> int:
    """Settings from SUBLEDGER_WEBHOOK_* (timeout, backoff_base, backoff_cap, ...)."""
    worker = svc.webhook_worker()  # it records endpoints it disables
    try:
        if once:
            print(f"webhooks: {worker.run_once()} events acknowledged")
            return 0
        print("webhooks: waiting to be the delivery worker", flush=True)
        signal.signal(signal.SIGTERM, lambda *_: worker.stop_soon())
        with contextlib.suppress(KeyboardInterrupt):
            worker.run()
    except WorkerBusy as error:
        fail(str(error))
        return 1
    finally:
        worker.stop()
    return 0
