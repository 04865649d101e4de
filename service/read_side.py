"""The read side, wired: projections, their runner, and queries that wait for them.

One runner per store applies the log to every projection (a lock elects it among
processes); any process can query the read models, and a query that names a log
position waits, bounded, until the projections have reached it (read your writes).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Sequence
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError
from eventsourcing.domain import Aggregate

from adapters.runner_lock import RunnerLock
from adapters.store import StoreSettings
from domain.base import LedgerAggregate
from projections.account_overview import AccountOverview
from projections.audit_trail import AuditTrail
from projections.book import Book
from projections.hash_chain import HashChain
from projections.projection import LoggedEvent, Projection
from projections.runner import ProjectionRunner, positions
from projections.store import (
    ReaderPool,
    ReadStore,
    postgres_connector,
    postgres_reader_pool,
    sqlite_connector,
)
from service.election import serve_when_elected
from service.ledger import Ledger

log = logging.getLogger("subledger.read_side")


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
        AccountOverview(load),
        Book(ledger.events),
        # permanent: sealed once, never rebuilt (ADR 0012); the ledger's clock of the moment
        HashChain(lambda: ledger.clock.now()),
    ]


def read_store(settings: StoreSettings) -> ReadStore:
    """A connection to the read store: the ledger's PostgreSQL schema, or the read SQLite file."""
    if settings.postgres is not None:
        pg = settings.postgres
        return ReadStore(postgres_connector(pg.conninfo(), pg.schema), "postgres")
    return ReadStore(sqlite_connector(settings.read_sqlite_path), "sqlite")


def read_log(ledger: Ledger, after: int, limit: int) -> Sequence[LoggedEvent]:
    """Up to ``limit`` events of the global log after position ``after``, in order."""
    logged = []
    for notification in ledger.recorder.select_notifications(after + 1, limit):
        event = ledger.mapper.to_domain_event(notification)
        assert isinstance(event, LedgerAggregate.Event)
        logged.append(LoggedEvent(notification.id, event, notification))
    return logged


class ReadSide:
    def __init__(self, settings: StoreSettings, ledger: Ledger) -> None:
        self.settings = settings
        self.ledger = ledger
        self.projections = build_projections(ledger)
        self.store = read_store(settings)
        if settings.postgres is not None:
            pg = settings.postgres
            self.readers = postgres_reader_pool(pg.conninfo(), pg.schema)
        else:
            self.readers = ReaderPool(sqlite_connector(settings.read_sqlite_path), "sqlite")
        self.runner = ProjectionRunner(
            self.store, self.read_log, ledger.head_position, self.projections
        )
        self.names = [p.name for p in self.projections]
        self._prepare()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.running_here = False
        # How long a read that names a position may wait for the projections (then 503).
        self.read_wait_seconds = 2.0

    def _prepare(self) -> None:
        """Create the read models' tables; two processes starting at once may collide once."""
        try:
            self.runner.prepare()
        except Exception:
            time.sleep(0.5)
            self.runner.prepare()

    def read_log(self, after: int, limit: int) -> Sequence[LoggedEvent]:
        return read_log(self.ledger, after, limit)

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
            "projection runner",
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

    def lag(self) -> dict[str, int]:
        head = self.ledger.head_position()
        return {name: max(head - at, 0) for name, at in self.positions().items()}

    def wait_for(self, position: int, timeout: float = 2.0) -> None:
        """Return once every projection has reached ``position``; else ProjectionsBehind."""
        deadline = time.monotonic() + timeout
        while True:
            reached = min(self.positions().values(), default=0)
            if reached >= position:
                return
            if time.monotonic() >= deadline:
                raise ProjectionsBehind(position, reached)
            time.sleep(0.02)
