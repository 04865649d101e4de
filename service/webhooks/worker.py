"""The webhook delivery worker: every public event, in order, at least once, to each endpoint.

For each enabled endpoint the worker reads the global log after the endpoint's cursor
and sends the events it wants one at a time, as CloudEvents JSON signed with the
endpoint's secret in the Standard Webhooks format (``webhook_signing``). The cursor
moves only when the endpoint answers 2xx, in the same transaction that logs the
attempt; so an endpoint never sees an event before every earlier one it wants was
acknowledged, and a crash at any point means, at worst, one event sent again. A
failure stops that endpoint until its backoff ends (``webhook_policy``); a long enough
run of failures disables it, as an event.

Endpoints are served side by side (each by at most one thread at a time). One worker per
store delivers: a lock, as for the projection runner, elects it among processes
(``subledger webhooks run``, or a thread of ``subledger serve``).
"""

from __future__ import annotations

import json
import logging
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Protocol
from uuid import UUID

from prometheus_client import Counter

from adapters.runner_lock import RunnerLock
from adapters.store import StoreSettings
from adapters.webhook_destinations import Destinations
from adapters.webhook_transport import HttpWebhookTransport, Sent
from domain.base import LedgerAggregate
from domain.errors import DomainError, NotFound
from projections.cloudevents import event_id, is_public, to_cloudevent, type_name
from service.config.public_url import DEFAULT_PUBLIC_URL
from service.ledger.application import Ledger
from service.webhooks.endpoint import WEBHOOK_WORKER, WebhookEndpoint, WebhookEndpoints
from service.webhooks.policy import DeliveryPolicy
from service.webhooks.signing import signature_headers
from service.webhooks.store import Cursor, Delivery, WebhookStore
from service.workers.election import Elected, LockLost, serve_when_elected

log = logging.getLogger("subledger.webhooks")

ATTEMPTS = Counter(
    "subledger_webhook_attempts",
    "Deliveries attempted, by outcome: acknowledged (2xx) or failed.",
    ["outcome"],
)
DISABLED = Counter(
    "subledger_webhook_endpoints_disabled", "Endpoints the worker disabled after failing."
)

LOCK_NAME = "webhooks"
CONTENT_TYPE = "application/cloudevents+json; charset=utf-8"


class Transport(Protocol):
    def post(self, url: str, body: bytes, headers: dict[str, str]) -> Sent: ...
    def close(self) -> None: ...


class WorkerBusy(Exception):
    """Another webhook worker holds this store's lock."""


def cloudevent_body(position: int, event: LedgerAggregate.Event, public_url: str) -> bytes:
    return json.dumps(to_cloudevent(position, event, public_url), separators=(",", ":")).encode()


class WebhookWorker:
    def __init__(
        self,
        ledger: Ledger,
        settings: StoreSettings,
        policy: DeliveryPolicy | None = None,
        transport: Transport | None = None,
        public_url: str = DEFAULT_PUBLIC_URL,
        destinations: Destinations | None = None,
    ) -> None:
        """``destinations``: where it may connect (default: public addresses only)."""
        self.ledger = ledger
        self.settings = settings
        self.policy = policy or DeliveryPolicy()
        self.public_url = public_url  # the base of each event's dataschema
        self.store = WebhookStore(settings)
        destinations = destinations or Destinations()
        self.endpoints = WebhookEndpoints(ledger, self.store, destinations)
        self.transport: Transport = transport or HttpWebhookTransport(
            self.policy.timeout, destinations
        )
        self.running_here = False
        self._known: list[UUID] = []
        self._searched_to = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # -- one endpoint -------------------------------------------------------------------

    def deliver(self, endpoint_id: UUID, halt: threading.Event | None = None) -> int:
        """Send an endpoint what it is due, in order, until it is caught up, fails, changes
        or ``halt`` is set; returns how many events it acknowledged."""
        try:
            endpoint = self.endpoints.get(endpoint_id)
        except NotFound:  # deleted: erase what the worker may still have written for it
            self.store.forget(endpoint_id)
            return 0
        cursor = self.store.sync(
            endpoint.id, endpoint.version, endpoint.start_after, endpoint.replay
        )
        if not endpoint.enabled or not cursor.due(time.time()):
            return 0
        secret = self.store.secret(endpoint.id)
        if secret is None:
            self._disable(endpoint, "its signing secret is missing; delete it and register again")
            return 0
        acknowledged = 0
        while halt is None or not halt.is_set():
            batch = self.ledger.recorder.select_notifications(
                cursor.position + 1, self.policy.batch_size
            )
            if not batch:
                break
            passed = cursor.position
            for notification in batch:
                event = self.ledger.mapper.to_domain_event(notification)
                assert isinstance(event, LedgerAggregate.Event)
                if not is_public(event) or not endpoint.wants(type_name(type(event))):
                    passed = notification.id
                    continue
                cursor = self._attempt(endpoint, secret, cursor, notification.id, event)
                if cursor.failures:
                    return acknowledged
                acknowledged += 1
                if halt is not None and halt.is_set():
                    return acknowledged
            if passed > cursor.position:
                cursor = self.store.advance(cursor, passed)
            if self._changed(endpoint):
                break  # an operator changed it: the next round starts from its new state
        return acknowledged

    def _attempt(
        self,
        endpoint: WebhookEndpoint,
        secret: str,
        cursor: Cursor,
        position: int,
        event: LedgerAggregate.Event,
    ) -> Cursor:
        body = cloudevent_body(position, event, self.public_url)
        started = time.time()
        signed = signature_headers(secret, event_id(event), int(started), body)
        headers = {"Content-Type": CONTENT_TYPE, **signed}
        sent = self.transport.post(endpoint.url, body, headers)
        delivery = Delivery(
            0,
            endpoint.id,
            position,
            event_id(event),
            cursor.failures + 1,
            sent.status_code,
            sent.error,
            round(sent.duration * 1000),
            datetime.fromtimestamp(started, UTC),
        )
        ATTEMPTS.labels("acknowledged" if sent.acknowledged else "failed").inc()
        if sent.acknowledged:
            moved = replace(
                cursor, position=position, failures=0, failing_since=None, next_attempt_at=0.0
            )
            return self.store.record(moved, delivery)
        failures = cursor.failures + 1
        since = started if cursor.failing_since is None else cursor.failing_since
        now = time.time()
        retry_at = now + self.policy.backoff(failures)
        failed = replace(cursor, failures=failures, failing_since=since, next_attempt_at=retry_at)
        cursor = self.store.record(failed, delivery)
        if self.policy.exhausted(failures, since, now):
            last = f"HTTP {sent.status_code}" if sent.status_code is not None else sent.error
            over = timedelta(seconds=round(now - since))
            self._disable(
                endpoint,
                f"{failures} failed deliveries in a row over {over} (the last: {last})",
                failures,
            )
        return cursor

    def _disable(self, endpoint: WebhookEndpoint, reason: str, failures: int = 0) -> None:
        log.warning("disabling webhook endpoint %s: %s", endpoint.id, reason)
        try:
            self.endpoints.disable(WEBHOOK_WORKER, endpoint.id, reason, failures)
            DISABLED.inc()
        except DomainError as error:  # e.g. deleted meanwhile; the next round looks again
            log.warning("could not disable webhook endpoint %s: %s", endpoint.id, error)

    def _changed(self, endpoint: WebhookEndpoint) -> bool:
        try:
            return self.endpoints.get(endpoint.id).version != endpoint.version
        except NotFound:
            return True

    # -- every endpoint -----------------------------------------------------------------

    def due(self) -> tuple[list[UUID], float]:
        """The enabled endpoints to serve now, and the seconds until another is due."""
        found, self._searched_to = self.endpoints.registered_after(self._searched_to)
        self._known += found
        if not self._known:  # woken by every save: with no endpoint, ask nothing more
            return [], self.policy.poll
        cursors = self.store.cursors()
        now = time.time()
        due: list[UUID] = []
        wait = self.policy.poll
        for endpoint_id in list(self._known):
            try:
                endpoint = self.endpoints.get(endpoint_id)
            except NotFound:
                self._known.remove(endpoint_id)
                self.store.forget(endpoint_id)
                continue
            cursor = cursors.get(endpoint_id)
            if cursor is None or cursor.endpoint_version != endpoint.version:
                due.append(endpoint_id)  # new, or changed: its backoff no longer holds
            elif endpoint.enabled:
                if cursor.due(now):
                    due.append(endpoint_id)
                else:
                    wait = min(wait, cursor.next_attempt_at - now)
        return due, max(wait, 0.01)

    def run_once(self) -> int:
        """Serve every endpoint that is due, one after another, then return (as the
        elected worker: WorkerBusy if another one runs)."""
        lock = RunnerLock(self.settings, LOCK_NAME)
        if not lock.try_acquire():
            raise WorkerBusy("another webhook worker is running on this store")
        try:
            return sum(self.deliver(endpoint_id) for endpoint_id in self.due()[0])
        finally:
            lock.release()

    # -- running ------------------------------------------------------------------------

    def start(self) -> None:
        """Deliver in a background thread of this process (once elected)."""
        self._thread = threading.Thread(target=self.run, name="webhook-worker", daemon=True)
        self._thread.start()

    def run(self) -> None:
        """Wait to be the one worker for this store, then deliver until stopped."""
        serve_when_elected(
            self.settings,
            self.ledger,
            RunnerLock(self.settings, LOCK_NAME),
            self._stop,
            self._serve,
            "webhook worker",
            self._on_duty,
        )

    def _on_duty(self, elected: bool) -> None:
        self.running_here = elected

    def _serve(self, elected: Elected) -> None:
        try:
            self._deliver_rounds(elected)
        except LockLost:
            raise
        except Exception:
            log.exception("the webhook worker failed; starting again shortly")
            self._stop.wait(1.0)

    def _deliver_rounds(self, elected: Elected) -> None:
        halt = threading.Event()  # ends the endpoints' rounds when this one ends
        running: dict[UUID, Future[int]] = {}
        pool = ThreadPoolExecutor(self.policy.concurrency, thread_name_prefix="webhook")
        try:
            while not self._stop.is_set():
                due, wait = self.due()
                for endpoint_id in due:
                    if endpoint_id not in running:
                        running[endpoint_id] = pool.submit(self._round, endpoint_id, halt)
                elected.wait(wait)
                for endpoint_id, future in list(running.items()):
                    if future.done():
                        del running[endpoint_id]
        finally:
            halt.set()
            pool.shutdown(wait=True)

    def _round(self, endpoint_id: UUID, halt: threading.Event) -> int:
        try:
            return self.deliver(endpoint_id, halt)
        except Exception:
            log.exception("delivering to webhook endpoint %s failed", endpoint_id)
            return 0

    def stop_soon(self) -> None:
        """Ask a running ``run()`` to return after the requests in flight."""
        self._stop.set()
        self.ledger.saved.pulse()

    def stop(self) -> None:
        self.stop_soon()
        if self._thread is not None:
            self._thread.join(timeout=self.policy.timeout + 10)
        self.transport.close()
        self.store.close()
