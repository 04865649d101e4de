"""The read models the Ledger's features read at the log's head, caught up by themselves.

The billing run reads its agenda, the tokens, share links and webhook endpoints their
lookups, and the retention run and buyer erasures the retention agenda, through
``CaughtUp`` (projections/caught_up.py): whatever the projection runner has not applied
yet they apply themselves before reading, so they never miss what the log holds, with
or without a runner, and a scan of the log by event type is no longer needed. One set
per Ledger, made on first use, each on a connection of its own (the runner's and the
readers' belong to the read side).
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Sequence

from eventsourcing.persistence import Notification

from adapters.store import PostgresSettings, StoreSettings
from domain.base import LedgerAggregate
from projections.billing_agenda import BillingAgenda
from projections.caught_up import CaughtUp
from projections.lookups import Lookups
from projections.projection import LoggedEvent
from projections.retention import RetentionAgenda
from projections.store import ReadStore, postgres_connector, sqlite_connector
from service.ledger.application import Ledger, period_invoice_id


def read_store(settings: StoreSettings, sync_each_commit: bool = True) -> ReadStore:
    """A connection to the read store: the ledger's PostgreSQL schema, or the read SQLite
    file (``sync_each_commit=False``: see ``sqlite_connector``, for projection runners)."""
    if settings.postgres is not None:
        pg = settings.postgres
        return ReadStore(postgres_connector(pg.conninfo(), pg.schema), "postgres")
    return ReadStore(sqlite_connector(settings.read_sqlite_path, sync_each_commit), "sqlite")


def read_log(ledger: Ledger, after: int, limit: int) -> Sequence[LoggedEvent]:
    """Up to ``limit`` events of the global log after position ``after``, in order (each
    decoded when a consumer first reads it)."""

    def decode(notification: Notification) -> LedgerAggregate.Event:
        event = ledger.mapper.to_domain_event(notification)
        assert isinstance(event, LedgerAggregate.Event)
        return event

    return [
        LoggedEvent(notification.id, notification, decode)
        for notification in ledger.recorder.select_notifications(after + 1, limit)
    ]


def store_settings(ledger: Ledger) -> StoreSettings | None:
    """The store a Ledger was opened on, from the environment it was given (None: it
    keeps its events in memory, as some tests' do)."""
    env = ledger.env
    module = env.get("PERSISTENCE_MODULE") or ""
    if "popo" in module:
        return None
    if "postgres" in module:
        return StoreSettings(
            postgres=PostgresSettings(
                host=env.get("POSTGRES_HOST") or "",
                port=int(env.get("POSTGRES_PORT") or 5432),
                dbname=env.get("POSTGRES_DBNAME") or "",
                user=env.get("POSTGRES_USER") or "",
                password=env.get("POSTGRES_PASSWORD") or "",
                schema=env.get("POSTGRES_SCHEMA") or "public",
            )
        )
    return StoreSettings(sqlite_path=env.get("SQLITE_DBNAME"))


class OwnReadModels:
    """The Ledger's own read models, each caught up before it is read."""

    def __init__(self, ledger: Ledger) -> None:
        store = store_settings(ledger)
        ref = weakref.ref(ledger)  # the Ledger keeps this; this must not keep it

        def log(after: int, limit: int) -> Sequence[LoggedEvent]:
            return read_log(_alive(ref), after, limit)

        def head() -> int:
            return _alive(ref).head_position()

        if store is None:  # the events in memory: the read models too, each kept open

            def memory() -> ReadStore:
                return ReadStore(sqlite_connector(":memory:"), "sqlite")

            self.agenda = CaughtUp(
                memory(), log, head, [BillingAgenda(period_invoice_id)], keep=True
            )
            self.lookups = CaughtUp(memory(), log, head, [Lookups()], keep=True)
            self.retention = CaughtUp(memory(), log, head, [RetentionAgenda()], keep=True)
            return
        # They apply projections as the runner does: its connection settings.
        self.agenda = CaughtUp(
            read_store(store, False), log, head, [BillingAgenda(period_invoice_id)]
        )
        self.lookups = CaughtUp(read_store(store, False), log, head, [Lookups()])
        self.retention = CaughtUp(read_store(store, False), log, head, [RetentionAgenda()])


def _alive(ref: weakref.ref[Ledger]) -> Ledger:
    ledger = ref()
    assert ledger is not None, "the Ledger was closed"
    return ledger


_OWN: weakref.WeakKeyDictionary[Ledger, OwnReadModels] = weakref.WeakKeyDictionary()
_MAKING = threading.Lock()


def own_read_models(ledger: Ledger) -> OwnReadModels:
    """The Ledger's own read models, made once per Ledger (they hold no connection
    between reads)."""
    with _MAKING:
        found = _OWN.get(ledger)
        if found is None:
            found = _OWN[ledger] = OwnReadModels(ledger)
        return found
