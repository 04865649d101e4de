"""The read side, wired: projections, their runner, and queries that wait for them.

One runner per store applies the log to every projection (a lock elects it among
processes); any process can query the read models, and a query that names a log
position waits, bounded, until the projections have reached it (read your writes).
A projection that fails on an event (projections/failures.py) is not waited for: the
others keep serving, and readiness names the failing one.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Sequence
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError
from eventsourcing.domain import Aggregate
from eventsourcing.persistence import Notification

from adapters.raw_log import RawEvent, select_raw
from adapters.runner_lock import RunnerLock
from adapters.store import StoreSettings
from domain.base import LedgerAggregate
from projections import failures
from projections.account_overview import AccountOverview
from projections.audit_trail import AuditTrail
from projections.billing_agenda import BillingAgenda
from projections.book import Book
from projections.failures import Failure
from projections.hash_chain import HashChain
from projections.lookups import Lookups
from projections.projection import LoggedEvent, Projection
from projections.retention import RetentionAgenda
from projections.runner import ProjectionRunner, positions
from projections.store import create_tables, reader_pool
from service.ledger.application import Ledger, period_invoice_id
from service.ledger.read_models import read_log, read_store
from service.reads.many_aggregates import events_up_to, states_at
from service.workers.election import serve_when_elected

log = logging.getLogger("subledger.read_side")

MAX_POSITION = 2**63 - 1
RUNNER = "projection runner"  # the elected worker's name: its lock, its logs, its wake-ups


class ProjectionsBehind(Exception):
    """The read models have not reached the asked position within the bound."""

    def __init__(self, position: int, reached: int) -> None:
        super().__init__(f"the read models are at position {reached}, not yet {position}")
        self.position = position
        self.reached = reached


def build_projections(ledger: Ledger) -> list[Projection]:
    def load(aggregate_id: UUID, version: int) -> Aggregate | None:
        try:
            aggregate: Aggregate = ledger.repository.get(aggregate_id, version=version)
        except AggregateNotFoundError:
            return None
        return aggregate

    return [
        AuditTrail(load),
        AccountOverview(load, lambda wanted: states_at(ledger, wanted)),
        Book(ledger.events, histories=lambda wanted: events_up_to(ledger, wanted)),
        # permanent: sealed once, never rebuilt (ADR 0012); the ledger's clock of the moment
        HashChain(lambda: ledger.clock.now()),
        # kept here so that their readers, who catch them up first, seldom have to
        BillingAgenda(period_invoice_id),
        Lookups(),
        RetentionAgenda(),
    ]


class ReadSide:
    def __init__(self, settings: StoreSettings, ledger: Ledger) -> None:
        self.settings = settings
        self.ledger = ledger
        self.projections = build_projections(ledger)
        # The runner's connection: every row it writes can be written again from the log.
        self.store = read_store(settings, sync_each_commit=False)
        self.readers = reader_pool(settings)
        self.runner = ProjectionRunner(
            self.store,
            self.read_log,
            ledger.head_position,
            self.projections,
            read_stored=self.read_stored,
            decode_stored=self.decode_stored,
        )
        self.names = [p.name for p in self.projections]
        self._prepare()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.running_here = False
        # How long a read that names a position may wait for the projections (then 503).
        self.read_wait_seconds = 2.0
        # How long the store may be without a runner before readiness says so: longer
        # than a standby takes to be elected after the runner's process died.
        self.runner_grace_seconds = 5.0
        self._runner_seen = time.monotonic()
        self._lock = RunnerLock(settings)

    def _prepare(self) -> None:
        create_tables(self.runner.prepare)

    def read_log(self, after: int, limit: int) -> Sequence[LoggedEvent]:
        return read_log(self.ledger, after, limit)

    def read_stored(self, after: int, limit: int) -> Sequence[RawEvent]:
        """The log as stored, never decoded: what the hash chain seals (ProjectionRunner)."""
        return select_raw(self.ledger.recorder, after, limit)

    def decode_stored(self, events: Sequence[RawEvent]) -> Sequence[LoggedEvent]:
        """The events ``read_log`` reads, made from the same events as ``read_stored`` read
        them: the runner reads the log once per step (ProjectionRunner)."""
        decode = self._decode
        return [
            LoggedEvent(
                event.position,
                Notification(
                    id=event.position,
                    originator_id=UUID(bytes=event.aggregate_id),
                    originator_version=event.version,
                    topic=event.topic,
                    state=event.state,
                ),
                decode,
            )
            for event in events
        ]

    def _decode(self, notification: Notification) -> LedgerAggregate.Event:
        event = self.ledger.mapper.to_domain_event(notification)
        assert isinstance(event, LedgerAggregate.Event)
        return event

    def projection(self, name: str) -> Projection:
        for projection in self.projections:
            if projection.name == name:
                return projection
        raise KeyError(f"no projection {name!r}; there are: {', '.join(self.names)}")

    # -- running ----------------------------------------------------------------------

    def start(self) -> None:
        """Run the projections in a background thread of this process (if elected)."""
        self._thread = threading.Thread(target=self.run, name="projection-runner", daemon=True)
        self._thread.start()

    def run(self, poll: float = 1.0) -> None:
        """Wait to be the one runner for this store, then keep the projections current."""
        serve_when_elected(
            self.settings,
            self.ledger,
            RunnerLock(self.settings),
            self._stop,
            lambda elected: self.runner.run(self._stop, elected.wait, poll=poll),
            RUNNER,
            self._on_duty,
        )

    def _on_duty(self, elected: bool) -> None:
        self.running_here = elected

    def stop_soon(self) -> None:
        """Ask a running ``run()`` to return after its current batch."""
        self._stop.set()
        self.ledger.saved.pulse()

    def stop(self) -> None:
        self._stop.set()
        self.ledger.saved.pulse()
        if self._thread is not None:
            self._thread.join(timeout=10)
        self.store.close()
        self.readers.close()

    # -- reading ----------------------------------------------------------------------

    def positions(self) -> dict[str, int]:
        with self.readers.transaction() as sql:
            return positions(sql, self.names)

    def failures(self) -> dict[str, Failure]:
        """The projections failing on an event now, by name (any runner's)."""
        with self.readers.transaction() as sql:
            return failures.failures(sql)

    def lag(self) -> dict[str, int]:
        head = self.ledger.head_position()
        return {name: max(head - at, 0) for name, at in self.positions().items()}

    def runner_running(self) -> bool:
        """A process (this one or another) holds the runner lock now."""
        return self.running_here or self._lock.is_held()

    def runner_present(self) -> bool:
        """A process holds the runner lock, or held it less than the grace period ago (or
        this process started less than that ago: a runner is being elected)."""
        if self.runner_running():
            self._runner_seen = time.monotonic()
            return True
        return time.monotonic() - self._runner_seen <= self.runner_grace_seconds

    def _healthy_reached(self) -> int:
        """The position every projection that is not failing has reached."""
        with self.readers.transaction() as sql:
            failing = failures.failures(sql)
            reached = positions(sql, [name for name in self.names if name not in failing])
        return min(reached.values(), default=MAX_POSITION)

    def wait_for(self, position: int, timeout: float = 2.0) -> None:
        """Return once every projection that is not failing has reached ``position``; else
        ProjectionsBehind."""
        deadline = time.monotonic() + timeout
        while True:
            reached = self._healthy_reached()
            if reached >= position:
                return
            if time.monotonic() >= deadline:
                raise ProjectionsBehind(position, reached)
            time.sleep(0.02)
