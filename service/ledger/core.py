"""The Ledger's core: the eventsourcing Application, its store plumbing, and ``execute``.

Each use case (accounts.py, contracts.py, invoices.py, seats.py: mixins of this class)
loads what it needs, asks the aggregates to change, and saves every aggregate it touched
in one transaction through ``execute``. A stale save (another request changed the same
aggregate first) is retried once on fresh state: every use case re-runs its checks on the
fresh state, so the retry can only succeed if the change is still valid.
"""

from __future__ import annotations

import contextlib
import logging
import random
import threading
import time as timer
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, contextmanager
from copy import deepcopy
from dataclasses import dataclass, field
from typing import Any, ClassVar, TypeVar
from uuid import UUID

from eventsourcing.application import (
    AggregateNotFoundError,
    Application,
    ProcessingEvent,
    Repository,
)
from eventsourcing.domain import BaseAggregate
from eventsourcing.persistence import (
    IntegrityError,
    JSONTranscoder,
    Mapper,
    Recording,
    StoredEvent,
)
from eventsourcing.postgres import PostgresAggregateRecorder as PgRecorder
from eventsourcing.sqlite import SQLiteAggregateRecorder

from adapters.data_keys import data_keys_for
from adapters.log_position import position_of
from adapters.many_aggregates import select_events_of
from adapters.sealing import SealedTextAsDict, SealingMapper
from adapters.transcoding import register_domain_transcodings
from adapters.wakeup import Pulse
from domain.account import Account
from domain.base import LedgerAggregate
from domain.cause import Cause
from domain.clock import Clock
from domain.invoice import Invoice
from domain.invoice_series import InvoiceSeries, NumberedOutOfOrder
from domain.license import License
from domain.money import Money
from domain.payment_provider import PaymentProvider
from domain.retention import Retention
from domain.seller import Seller
from domain.share_link import ShareLink
from domain.subscription import Subscription
from domain.values import ENUM_TYPES, VALUE_TYPES
from service.config.seller import DEMO_SELLER
from service.ledger import idempotency, quotes
from service.ledger.context import CommandContext
from service.ledger.errors import ConcurrencyConflict, PreconditionFailed, PriceChanged
from service.ledger.idempotency import IdempotencyRecord
from service.ledger.moved_topics import register_moved_modules
from service.ledger.numbering import Numbering
from service.ledger.subject_locks import SubjectLocks

log = logging.getLogger("subledger.ledger")
A = TypeVar("A", bound=LedgerAggregate)

# The aggregates a process keeps in memory between commands (the library's LRU cache,
# fast-forwarded from the store on every load, so never stale; ADR 0013).
AGGREGATE_CACHE_SIZE = "5000"
# A command whose document's number another process took first is run again on the
# fresh series: this many attempts in all (a command stale otherwise: 2), a few ms apart.
NUMBERED_ATTEMPTS = 30
# The aggregates a command loaded are read ahead, in one query, for the next command on
# the same subject (``LedgerRepository.reading``): the ids of this many subjects, at most
# this many ids each.
READ_SETS = 5000
READ_SET_SIZE = 16
MAX_VERSION = 2**62


def fold(aggregate: Any, events: Iterable[Any]) -> Any:
    """The library's ``project_aggregate`` without its per-event ``isinstance`` against a
    runtime-checkable Protocol, which cost a fifth of a command's time."""
    for event in events:
        aggregate = event.mutate(aggregate)
    return aggregate


class LedgerRepository(Repository[UUID]):
    """The library's repository, with its cache of aggregates copy-on-write, and reads of
    several aggregates in one query (``reading``).

    As the library's, every use of a cached aggregate first reads the events saved after
    it (another process may have saved some), so nothing stale is ever served. Unlike the
    library's, a cached aggregate is never changed in place: a newer one replaces it.
    Then no lock is needed to copy one while another thread fast-forwards it, and a
    command's saved aggregates can replace theirs (``remember``): the next command on
    them reads no event back from the store to fold."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._local = threading.local()  # this thread's ``Reads``, in a command's attempt

    def get(
        self,
        aggregate_id: UUID,
        *,
        version: int | None = None,
        projector_func: Any = fold,
        deepcopy_from_cache: bool = True,
        **kwargs: Any,
    ) -> Any:
        cache = self.cache
        if cache is None or version is not None or kwargs:
            return super().get(
                aggregate_id,
                version=version,
                projector_func=projector_func,
                deepcopy_from_cache=deepcopy_from_cache,
                **kwargs,
            )
        reads: Reads | None = getattr(self._local, "reads", None)
        if reads is not None:
            reads.loaded.setdefault(aggregate_id)
            fresh = reads.fresh.pop(aggregate_id, None)
            if fresh is not None:
                return fresh
        try:
            cached: Any = cache.get(aggregate_id)
        except KeyError:
            aggregate = self._reconstruct_aggregate(aggregate_id, None, projector_func)
            cache.put(aggregate_id, aggregate)
            return deepcopy(aggregate) if deepcopy_from_cache else aggregate
        stored = self.event_store.recorder.select_events(aggregate_id, gt=cached.version)
        aggregate = self._forwarded(cached, stored, projector_func)
        return deepcopy(aggregate) if deepcopy_from_cache else aggregate

    def _forwarded(self, cached: Any, stored: Sequence[StoredEvent], projector: Any) -> Any:
        """``cached`` with the events saved after it, replacing it in the cache."""
        if not stored:
            return cached
        to_domain_event = self.event_store.mapper.to_domain_event
        aggregate = projector(deepcopy(cached), map(to_domain_event, stored))
        if aggregate is None:
            raise AggregateNotFoundError(cached.id)
        assert self.cache is not None
        self.cache.put(aggregate.id, aggregate)
        return aggregate

    @contextmanager
    def reading(self, ids: Iterable[UUID]) -> Iterator[dict[UUID, None]]:
        """The scope of one attempt of a command: the cached ones of ``ids`` are brought up
        to date in one query as it begins (one read of the store, not one each), and this
        thread's first ``get`` of each in the scope is served from that read. Yields the
        ids the scope loaded (in order), for the next command on the same subject."""
        outer: Reads | None = getattr(self._local, "reads", None)
        reads = Reads(self._fetch(ids))
        self._local.reads = reads
        try:
            yield reads.loaded
        finally:
            self._local.reads = outer

    def _fetch(self, ids: Iterable[UUID]) -> dict[UUID, Any]:
        cache, recorder = self.cache, self.event_store.recorder
        if cache is None or not isinstance(recorder, SQLiteAggregateRecorder | PgRecorder):
            return {}
        cached: list[Any] = []
        for aggregate_id in ids:
            with contextlib.suppress(KeyError):
                aggregate = cache.get(aggregate_id)
                # A series is read when a number is taken, under the numbering lock
                # (numbering.py): read ahead of it, it would be stale behind another
                # thread's save, and refused.
                if not isinstance(aggregate, InvoiceSeries):
                    cached.append(aggregate)
        if len(cached) < 2:  # one is read as cheaply by ``get``
            return {}
        stored = select_events_of(recorder, [(a.id, a.version, MAX_VERSION) for a in cached])
        return {a.id: deepcopy(self._forwarded(a, stored.get(a.id, ()), fold)) for a in cached}

    def remember(self, aggregates: Iterable[Any]) -> None:
        """Aggregates just saved, as saved, in place of their cached versions (a copy: the
        command's answer is rendered from the saved ones). Only those already cached: a
        new invoice need not push out an account."""
        cache = self.cache
        if cache is None:
            return
        for aggregate in aggregates:
            if aggregate.id in cache.cache:
                cache.put(aggregate.id, deepcopy(aggregate))


@dataclass
class Reads:
    """One attempt's reads: aggregates read ahead (each served once), and the ids loaded."""

    fresh: dict[UUID, Any]
    loaded: dict[UUID, None] = field(default_factory=dict)


@dataclass(frozen=True)
class Receipt:
    """What a command wrote: the aggregate it concerns (and its version after the command),
    the aggregates it created, and the log position of its last event.

    A preview's receipt wrote nothing: ``pending`` holds the aggregates the command would
    have saved, with their unsaved events, and ``version`` is the subject's version the
    preview was computed on (the If-Match that makes the command do what it showed).
    A command's receipt holds in ``saved`` the aggregates it saved, as saved (none for an
    idempotent replay): its answer is rendered from them, with no read of the store."""

    aggregate_id: UUID
    version: int
    position: int | None
    created: tuple[UUID, ...] = ()
    refund: Money | None = None
    replayed: bool = False
    pending: tuple[LedgerAggregate, ...] = ()
    saved: tuple[LedgerAggregate, ...] = field(default=(), compare=False, repr=False)

    def saved_as(self, cls: type[A], aggregate_id: UUID) -> A | None:
        """The aggregate this command saved under ``aggregate_id``, if it is a ``cls``."""
        return next((a for a in self.saved if a.id == aggregate_id and isinstance(a, cls)), None)


class LedgerCore(Application[UUID]):
    """Construction, saving and snapshots, ``execute`` with its locks, idempotency and
    numbering; ``Ledger`` (application.py) adds the use cases."""

    name = "subledger"
    # Snapshots keep point-in-time reads of long histories fast (a cache, never the truth).
    snapshotting_intervals: ClassVar[dict[type[Any], int]] = {
        Account: 50,
        Subscription: 50,
        License: 50,
        Invoice: 50,
        ShareLink: 50,  # one event per access
        InvoiceSeries: 50,  # one event per document
    }

    def __init__(
        self,
        env: Mapping[str, str] | None,
        clock: Clock,
        payment_provider: PaymentProvider,
        seller: Seller | None = None,
        retention: Retention | None = None,
    ) -> None:
        """Its ports are given (service/bootstrap.py chooses them from the settings)."""
        self.clock = clock
        self.payment_provider = payment_provider
        # Who issues the invoices (configuration: service/config/seller.py).
        self.seller: Seller = seller or DEMO_SELLER
        # How long issued invoices keep their buyer (configuration; ADR 0027).
        self.retention: Retention = retention or Retention()
        self.saved = Pulse()
        self._subjects = SubjectLocks()
        # What the last command on each subject loaded (``_read_set``).
        self._read_sets: dict[UUID, tuple[UUID, ...]] = {}
        self._read_sets_lock = threading.Lock()
        self.numbering = Numbering(self._series)
        register_moved_modules()  # a store written before ADR 0020's move keeps loading
        super().__init__(env={"AGGREGATE_CACHE_MAXSIZE": AGGREGATE_CACHE_SIZE, **(env or {})})

    def save(self, *objs: Any, **kwargs: Any) -> list[Recording[UUID]]:
        """``Application.save``, collecting aggregates' events without the library's
        ``isinstance`` checks against runtime-checkable Protocols (slow on every save)."""
        processing_event: ProcessingEvent[UUID] = ProcessingEvent()
        for obj in objs:
            if isinstance(obj, BaseAggregate):
                processing_event.events.extend(obj.collect_events())
                processing_event.aggregates[obj.id] = obj
            else:
                processing_event.collect_events(obj)
        processing_event.saved_kwargs.update(kwargs)
        recordings = self._record(processing_event)
        self.repository.remember(processing_event.aggregates.values())
        self._take_snapshots(processing_event)
        self._notify(recordings)
        self.saved.pulse()  # wakes an in-process projection runner
        return recordings

    repository: LedgerRepository

    def construct_repository(self) -> LedgerRepository:
        size = self.env.get(self.AGGREGATE_CACHE_MAXSIZE)
        # Always fast-forwarded: another process may have saved since (never serve stale).
        return LedgerRepository(
            event_store=self.events,
            snapshot_store=self.snapshots,
            cache_maxsize=int(size) if size else None,
            fastforward=True,
        )

    def _take_snapshots(self, processing_event: ProcessingEvent[UUID]) -> None:
        """Snapshot each saved aggregate at every multiple of its interval its events reached.

        One is taken from the aggregate in memory, as saved, at its version after the
        save (the library would load it again). A multiple passed within the save gets
        its own, loaded as the library does, so that a load never folds an interval's
        worth of events or more; for the usual command, one event per aggregate, there
        is no such multiple.
        Snapshots are a cache written after the events commit: failing to write one must
        not make a committed command look failed (``execute`` would even retry it)."""
        if self.snapshots is None:
            return
        due: dict[UUID, list[int]] = {}
        for event in processing_event.events:
            interval = self._interval(processing_event, event.originator_id)
            if interval and event.originator_version % interval == 0:
                due.setdefault(event.originator_id, []).append(event.originator_version)
        try:
            for aggregate_id, versions in due.items():
                aggregate = processing_event.aggregates[aggregate_id]
                for version in versions:
                    if version != aggregate.version:
                        self.take_snapshot(aggregate_id, version=version, projector_func=fold)
                snapshot_class = getattr(type(aggregate), "Snapshot", self.snapshot_class)
                assert snapshot_class is not None  # every LedgerAggregate has one
                self.snapshots.put([snapshot_class.take(aggregate)])
        except Exception:
            log.exception("could not take a snapshot; reads fold from the events instead")

    def _interval(self, processing_event: ProcessingEvent[UUID], aggregate_id: UUID) -> int:
        aggregate = processing_event.aggregates.get(aggregate_id)
        return self.snapshotting_intervals.get(type(aggregate), 0) if aggregate else 0

    def construct_mapper(self) -> Mapper[UUID]:
        # The keys of personal data, in a table beside the log (ADR 0023).
        self.data_keys = data_keys_for(getattr(self.factory, "datastore", None))
        mapper = self.factory.mapper(self.construct_transcoder(), SealingMapper)
        assert isinstance(mapper, SealingMapper)
        mapper.keys = self.data_keys
        return mapper

    def register_transcodings(self, transcoder: JSONTranscoder) -> None:
        super().register_transcodings(transcoder)
        register_domain_transcodings(transcoder, VALUE_TYPES, ENUM_TYPES)
        transcoder.register(SealedTextAsDict(self.data_keys))

    # -- plumbing ---------------------------------------------------------------------

    def execute(
        self,
        ctx: CommandContext,
        work: Callable[[Cause], list[LedgerAggregate]],
        subject: UUID,
        refund: Callable[[], Money | None] = lambda: None,
    ) -> Receipt:
        """Run ``work`` and save what it returns atomically, retrying once if stale.

        Commands on one subject wait for each other in this process (subject_locks.py).
        With an Idempotency-Key, the record of the answer is saved in the same
        transaction, and a retry of the same request returns that answer instead.
        """
        with self._subjects.holding(subject):
            return self._execute(ctx, work, subject, refund)

    def holding(self, subject: UUID) -> AbstractContextManager[None]:
        """The subject's lock, for a use case that checks, then acts outside the ledger (a
        charge), then records: no other command of this process on the subject between."""
        return self._subjects.holding(subject)

    def _execute(
        self,
        ctx: CommandContext,
        work: Callable[[Cause], list[LedgerAggregate]],
        subject: UUID,
        refund: Callable[[], Money | None],
    ) -> Receipt:
        if ctx.preview:
            return self._preview(ctx, work, subject, refund)
        key_id = (
            idempotency.record_id(ctx.key_owner, ctx.idempotency_key)
            if ctx.idempotency_key
            else None
        )
        attempts, attempt, out_of_order = 2, 0, False
        while True:
            attempt += 1
            if key_id is not None and (replay := self._replay(key_id, ctx.fingerprint)):
                return replay
            # Numbers are taken and saved in the same attempt (service/ledger/numbering.py).
            with self.numbering.attempt(ordered=not out_of_order) as numbered:
                cause = ctx.cause(self.clock.now())
                try:
                    with self.repository.reading(self._read_sets.get(subject, ())) as loaded:
                        aggregates = work(cause)
                except NumberedOutOfOrder:
                    aggregates, out_of_order = None, True
                else:
                    self._read_set(subject, loaded)
                if aggregates is not None:
                    receipt = self._save_attempt(
                        ctx, subject, aggregates, numbered, key_id, cause, refund
                    )
                    if receipt is not None:
                        return receipt
                if aggregates is None or self.numbering.outrun(numbered):
                    attempts = NUMBERED_ATTEMPTS
            if attempt >= attempts:
                raise ConcurrencyConflict(
                    f"the ledger changed under this request {attempt} times; retry it"
                )
            if numbered.loaded:
                timer.sleep(random.uniform(0, 0.005))  # let another process's save pass

    def _read_set(self, subject: UUID, loaded: Iterable[UUID]) -> None:
        """Remember what a command on ``subject`` loaded: the next one reads it ahead."""
        ids = tuple(loaded)[:READ_SET_SIZE]
        if self._read_sets.get(subject) == ids:
            return
        with self._read_sets_lock:
            self._read_sets.pop(subject, None)
            self._read_sets[subject] = ids
            if len(self._read_sets) > READ_SETS:
                del self._read_sets[next(iter(self._read_sets))]

    def _save_attempt(
        self,
        ctx: CommandContext,
        subject: UUID,
        aggregates: list[LedgerAggregate],
        numbered: Any,
        key_id: UUID | None,
        cause: Cause,
        refund: Callable[[], Money | None],
    ) -> Receipt | None:
        """Save one attempt's aggregates, with the series it numbered from; None if stale."""
        version = self._subject_version(ctx, subject, aggregates)
        created = tuple(a.id for a in aggregates if a.version == len(a.pending_events))
        # The series first: the receipt's position stays that of the command's own events.
        aggregates = [*numbered.series.values(), *aggregates]
        if key_id is not None:
            aggregates.append(
                IdempotencyRecord.complete(
                    key_id, ctx.fingerprint, subject, version, created, refund(), cause
                )
            )
        try:
            recordings = self.save(*aggregates)
        except IntegrityError:
            return None
        position = recordings[-1].notification.id if recordings else None
        return Receipt(subject, version, position, created, refund(), saved=tuple(aggregates))

    def _preview(
        self,
        ctx: CommandContext,
        work: Callable[[Cause], list[LedgerAggregate]],
        subject: UUID,
        refund: Callable[[], Money | None],
    ) -> Receipt:
        """``work`` run as the command runs it, with the same checks (If-Match too), and
        nothing saved: no event, no idempotency record (its key is not even read)."""
        aggregates = work(ctx.cause(self.clock.now()))
        version = self._subject_version(ctx, subject, aggregates)
        created = tuple(a.id for a in aggregates if a.version == len(a.pending_events))
        return Receipt(subject, version, None, created, refund(), pending=tuple(aggregates))

    def replay(self, ctx: CommandContext) -> Receipt | None:
        """The first answer to a request retried with its Idempotency-Key, if there was one:
        for a use case that must not repeat an effect outside the ledger (a charge)."""
        if not ctx.idempotency_key or ctx.preview:
            return None
        key_id = idempotency.record_id(ctx.key_owner, ctx.idempotency_key)
        return self._replay(key_id, ctx.fingerprint)

    def _subject_version(
        self, ctx: CommandContext, subject: UUID, aggregates: list[LedgerAggregate]
    ) -> int:
        """The subject's version after the command (before it, for a preview); refuses a
        stale If-Match."""
        if ctx.expected_quote is not None and quotes.quote(aggregates) != ctx.expected_quote:
            raise PriceChanged()
        changed = next((a for a in aggregates if a.id == subject), None)
        if changed is not None:
            before, after = changed.version - len(changed.pending_events), changed.version
        else:
            before = after = self._current_version(subject)
        if ctx.expected_version is not None and ctx.expected_version != before:
            raise PreconditionFailed(ctx.expected_version, before)
        return before if ctx.preview else after

    def _series(self, series_id: UUID) -> InvoiceSeries | None:
        try:
            series: object = self.repository.get(series_id)
        except AggregateNotFoundError:
            return None
        assert isinstance(series, InvoiceSeries)
        return series

    def _current_version(self, aggregate_id: UUID) -> int:
        try:
            return int(self.repository.get(aggregate_id).version)
        except AggregateNotFoundError:
            return 0

    def _replay(self, key_id: UUID, fingerprint: str) -> Receipt | None:
        try:
            record: object = self.repository.get(key_id)
        except AggregateNotFoundError:
            return None
        assert isinstance(record, IdempotencyRecord)
        if record.fingerprint != fingerprint:
            raise idempotency.IdempotencyKeyReused()
        return Receipt(
            record.subject_id,
            record.subject_version,
            position_of(self.recorder, key_id, 1),
            record.created,
            record.refund,
            replayed=True,
        )
