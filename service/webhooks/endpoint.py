"""Webhook endpoints: where downstream systems ask to be sent the public events.

An endpoint is an aggregate like any other, kept outside the domain as API tokens are
(it is the service's bookkeeping, not the vendor's business): registering, changing,
disabling (by an operator, or by the delivery worker after a run of failures, with the
reason), enabling, asking for a replay and deleting are events, so the audit trail
shows who did what and why. Its events are not public: they never reach the feeds.

The signing secret is generated here and shown once; it is kept in the
``webhook_secrets`` table (see ``webhook_store``), never in an event, which records
only its fingerprint. A URL whose host is, or resolves to, an address the service does
not send to (loopback, private...: ``adapters/webhook_destinations.py``) is refused
when it is registered or changed; the worker checks it again at every connection.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit
from uuid import UUID, uuid4

from eventsourcing.application import AggregateNotFoundError

from adapters.webhook_destinations import Destinations
from domain.base import LedgerAggregate
from domain.cause import Cause
from domain.errors import InvalidValue, NotFound
from domain.text import safe_text
from projections.cloudevents import type_matches, type_name
from projections.event_schemas import public_event_classes
from projections.lookups import WEBHOOK_ENDPOINTS, found
from service.ledger.application import Ledger, Receipt
from service.ledger.context import CommandContext
from service.ledger.read_models import own_read_models
from service.webhooks.signing import fingerprint, new_secret
from service.webhooks.store import WebhookStore

MAX_URL_LENGTH = 2000
DEFAULT_PORTS = {"http": 80, "https": 443}
# Who the worker acts as when it disables an endpoint.
WEBHOOK_WORKER = CommandContext("subledger:webhooks", "system")


# At most this many events since the last search are read for a registration (about 1.4 kB
# each); after more, the lookup is caught up and searched.
REGISTRATIONS_READ = 1000


class WebhookEndpoint(LedgerAggregate):
    class Registered(LedgerAggregate.Created):
        url: str
        event_types: tuple[str, ...]
        description: str
        start_after: int  # delivery starts after this log position (the head when registered)
        secret_fingerprint: str

    class Changed(LedgerAggregate.Event):
        url: str
        event_types: tuple[str, ...]
        description: str

        def apply(self, endpoint: WebhookEndpoint) -> None:
            endpoint.url = self.url
            endpoint.event_types = self.event_types
            endpoint.description = self.description

    class Disabled(LedgerAggregate.Event):
        reason: str
        failures: int  # the run of failed deliveries that disabled it; 0 for an operator

        def apply(self, endpoint: WebhookEndpoint) -> None:
            endpoint.enabled = False
            endpoint.disabled_reason = self.reason

    class Enabled(LedgerAggregate.Event):
        def apply(self, endpoint: WebhookEndpoint) -> None:
            endpoint.enabled = True
            endpoint.disabled_reason = None

    class ReplayRequested(LedgerAggregate.Event):
        from_position: int

        def apply(self, endpoint: WebhookEndpoint) -> None:
            endpoint.replay = (self.originator_version, self.from_position)

    class Deleted(LedgerAggregate.Event):
        def apply(self, endpoint: WebhookEndpoint) -> None:
            endpoint.enabled = False
            endpoint.deleted = True

    def __init__(
        self,
        url: str,
        event_types: tuple[str, ...],
        description: str,
        start_after: int,
        secret_fingerprint: str,
    ) -> None:
        self.url = url
        self.event_types = tuple(event_types)
        self.description = description
        self.start_after = start_after
        self.secret_fingerprint = secret_fingerprint
        self.enabled = True
        self.disabled_reason: str | None = None
        self.deleted = False
        # The latest replay asked for: (the endpoint's version then, the first position).
        self.replay: tuple[int, int] | None = None

    def wants(self, cloudevent_type: str) -> bool:
        return not self.event_types or any(
            type_matches(cloudevent_type, t) for t in self.event_types
        )

    def change(
        self, url: str, event_types: tuple[str, ...], description: str, cause: Cause
    ) -> None:
        if (url, event_types, description) != (self.url, self.event_types, self.description):
            self._record(
                self.Changed, cause, url=url, event_types=event_types, description=description
            )

    def disable(self, reason: str, failures: int, cause: Cause) -> None:
        if self.enabled:
            self._record(self.Disabled, cause, reason=reason, failures=failures)

    def enable(self, cause: Cause) -> None:
        if not self.enabled:
            self._record(self.Enabled, cause)

    def request_replay(self, from_position: int, cause: Cause) -> None:
        self._record(self.ReplayRequested, cause, from_position=from_position)

    def delete(self, cause: Cause) -> None:
        self._record(self.Deleted, cause)


def checked_url(url: str, destinations: Destinations) -> str:
    url = safe_text(url.strip(), "a webhook URL", MAX_URL_LENGTH)
    malformed = InvalidValue(f"a webhook URL is http(s)://host[:port]/..., got {url[:100]!r}")
    try:
        parts = urlsplit(url)
        _ = parts.port  # raises for a port that is not a number in range
    except ValueError:
        raise malformed from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise malformed
    if parts.username is not None or parts.password is not None:
        raise InvalidValue("a webhook URL may not carry credentials: they would be recorded")
    if len(url) > MAX_URL_LENGTH:
        raise InvalidValue(f"a webhook URL has at most {MAX_URL_LENGTH} characters")
    destinations.addresses(parts.hostname, parts.port or DEFAULT_PORTS[parts.scheme])
    return url


def checked_description(description: str) -> str:
    return safe_text(description.strip(), "description", 200)


def checked_types(event_types: list[str] | tuple[str, ...]) -> tuple[str, ...]:
    """Public event types, or prefixes of whole segments (``subledger.invoice``), each
    naming at least one type that exists; none: every type."""
    known = [type_name(cls) for cls in public_event_classes()]
    unknown = sorted(t for t in set(event_types) if not any(type_matches(k, t) for k in known))
    if unknown:
        raise InvalidValue(
            f"no public event type {', '.join(unknown)}; see /v1/events/schemas for the types"
        )
    return tuple(sorted(set(event_types)))


@dataclass(frozen=True)
class RegisteredEndpoint:
    secret: str  # shown once ("" for an idempotent replay: it is not repeated)
    endpoint_id: UUID
    receipt: Receipt


class WebhookEndpoints:
    def __init__(self, ledger: Ledger, store: WebhookStore, destinations: Destinations) -> None:
        self.ledger = ledger
        self.store = store
        self.destinations = destinations

    def register(
        self, ctx: CommandContext, url: str, event_types: list[str], description: str = ""
    ) -> RegisteredEndpoint:
        endpoint_id = uuid4()
        secret = new_secret()
        url, types = checked_url(url, self.destinations), checked_types(event_types)

        def work(cause: Cause) -> list[LedgerAggregate]:
            # Written first: if the event is not saved, the row names no endpoint.
            self.store.put_secret(endpoint_id, secret)
            return [
                WebhookEndpoint._begin(
                    WebhookEndpoint.Registered,
                    endpoint_id,
                    cause,
                    url=url,
                    event_types=types,
                    description=checked_description(description),
                    start_after=self.ledger.head_position(),
                    secret_fingerprint=fingerprint(secret),
                )
            ]

        receipt = self.ledger.execute(ctx, work, endpoint_id)
        return RegisteredEndpoint("" if receipt.replayed else secret, receipt.aggregate_id, receipt)

    def change(
        self,
        ctx: CommandContext,
        endpoint_id: UUID,
        url: str | None = None,
        event_types: list[str] | None = None,
        description: str | None = None,
    ) -> Receipt:
        def work(cause: Cause) -> list[LedgerAggregate]:
            endpoint = self.get(endpoint_id)
            endpoint.change(
                endpoint.url if url is None else checked_url(url, self.destinations),
                endpoint.event_types if event_types is None else checked_types(event_types),
                endpoint.description if description is None else checked_description(description),
                cause,
            )
            return [endpoint]

        return self.ledger.execute(ctx, work, endpoint_id)

    def disable(
        self, ctx: CommandContext, endpoint_id: UUID, reason: str, failures: int = 0
    ) -> Receipt:
        def work(cause: Cause) -> list[LedgerAggregate]:
            endpoint = self.get(endpoint_id)
            endpoint.disable(reason, failures, cause)
            return [endpoint]

        return self.ledger.execute(ctx, work, endpoint_id)

    def enable(self, ctx: CommandContext, endpoint_id: UUID) -> Receipt:
        def work(cause: Cause) -> list[LedgerAggregate]:
            endpoint = self.get(endpoint_id)
            endpoint.enable(cause)
            return [endpoint]

        return self.ledger.execute(ctx, work, endpoint_id)

    def replay(self, ctx: CommandContext, endpoint_id: UUID, from_position: int) -> Receipt:
        """Deliver again from ``from_position`` (inclusive), whatever was delivered."""

        def work(cause: Cause) -> list[LedgerAggregate]:
            endpoint = self.get(endpoint_id)
            head = self.ledger.head_position()
            if not 1 <= from_position <= head + 1:
                raise InvalidValue(f"replay from a position between 1 and {head + 1}")
            endpoint.request_replay(from_position, cause)
            return [endpoint]

        return self.ledger.execute(ctx, work, endpoint_id)

    def delete(self, ctx: CommandContext, endpoint_id: UUID) -> Receipt:
        def work(cause: Cause) -> list[LedgerAggregate]:
            endpoint = self.get(endpoint_id)
            endpoint.delete(cause)
            return [endpoint]

        receipt = self.ledger.execute(ctx, work, endpoint_id)
        self.store.forget(endpoint_id)
        return receipt

    def get(self, endpoint_id: UUID, version: int | None = None) -> WebhookEndpoint:
        """A live endpoint (at ``version``, if given); deleted ones are not found."""
        try:
            endpoint: object = self.ledger.repository.get(endpoint_id, version=version)
        except AggregateNotFoundError:
            raise NotFound(f"no webhook endpoint {endpoint_id}") from None
        if not isinstance(endpoint, WebhookEndpoint) or (endpoint.deleted and version is None):
            raise NotFound(f"no webhook endpoint {endpoint_id}")
        return endpoint

    def registered_after(self, position: int) -> tuple[list[UUID], int]:
        """Endpoints registered after ``position``, and the log position searched up to
        (the lookup is caught up to the log's head first, unless the events after
        ``position`` are few and none is a registration)."""
        if position:
            # The webhook worker asks after every save: the few events since it last did
            # are read instead of catching the lookup up (a connection to the read store
            # opened and closed, the events applied ahead of the runner): about 1 ms of
            # the server's CPU per save with no runner, 0.03 to 0.04 ms with one. A
            # registration among them (as the lookup tells one: by its topic's class
            # name), or too many to read, and the lookup is searched.
            since = self.ledger.recorder.select_notifications(position + 1, REGISTRATIONS_READ)
            created = WEBHOOK_ENDPOINTS.created
            if len(since) < REGISTRATIONS_READ and not any(
                n.topic.partition(":")[2] == created for n in since
            ):
                return [], since[-1].id if since else position
        head = self.ledger.head_position()
        with own_read_models(self.ledger).lookups.reading() as sql:
            rows = found(sql, WEBHOOK_ENDPOINTS, after=position)
        # Those registered after ``head`` are found by the next call, which searches from it.
        return [i for i, at in rows if at <= head], max(position, head)

    def all(self) -> list[WebhookEndpoint]:
        endpoints = []
        for endpoint_id in self.registered_after(0)[0]:
            try:
                endpoints.append(self.get(endpoint_id))
            except NotFound:
                continue
        return endpoints
