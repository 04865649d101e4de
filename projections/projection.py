"""What a projection is: tables of its own, built from the global log one event at a time.

Most read models want the state of the aggregate an event belongs to, not the event
alone. ``AggregateProjection`` folds each event onto the aggregate's previous state with
the domain's own ``mutate`` (so a read model can never disagree with a replay), keeping
recently seen aggregates in memory and loading any other from the event store at the
version just before the event.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Any, Protocol, TypeVar
from uuid import UUID

from eventsourcing.domain import Aggregate
from eventsourcing.persistence import Notification
from eventsourcing.utils import TopicError, resolve_topic

from domain.base import LedgerAggregate
from projections.store import Sql


@dataclass(frozen=True)
class LoggedEvent:
    """A stored event at its position in the global log, decoded when first asked for.

    The hash chain seals the record as stored and never decodes it; every other
    projection reads ``event``. An event that cannot be decoded fails only the
    projections that read it, at its position (the runner isolates them)."""

    position: int
    notification: Notification
    decode: Callable[[Notification], LedgerAggregate.Event]

    @cached_property
    def event(self) -> LedgerAggregate.Event:
        return self.decode(self.notification)

    @property
    def kind(self) -> type:
        """The class of ``event``, known from the topic without decoding it: a projection
        that keeps only some kinds decodes no other (an invoice's issue, the costliest
        to decode, is 44 % of decoding the benchmark's log and no concern of many)."""
        kind = _CLASSES[self.notification.topic]
        return type(self.event) if kind is None else kind


# Each topic's class, resolved once (the mapper's decoding makes an event of that class).
class _Classes(dict[str, type | None]):
    def __missing__(self, topic: str) -> type | None:
        try:
            kind: type | None = resolve_topic(topic)
        except TopicError:
            kind = None  # decoding the event says what is wrong with it
        self[topic] = kind
        return kind


_CLASSES = _Classes()


# Loads an aggregate as it was at a version (None if it did not exist yet).
LoadAggregate = Callable[[UUID, int], Aggregate | None]


class Projection(Protocol):
    name: str
    # Bumped when the tables change shape: a projection at another version is rebuilt.
    version: int
    tables: tuple[str, ...]

    def create(self, sql: Sql) -> None:
        """Create the tables (IF NOT EXISTS)."""

    def apply(self, sql: Sql, logged: LoggedEvent) -> None:
        """Fold one event into the tables, inside the runner's transaction."""

    def forget(self) -> None:
        """Drop any in-memory state (after a failed transaction or a rebuild)."""


class BatchProjection(Projection, Protocol):
    """A projection that folds a whole batch in memory and writes it with a few set-based
    statements (multi-row INSERT, ``executemany``, COPY) instead of a few per event.

    ``apply_batch(sql, batch)`` must leave the tables as ``apply`` on each event in turn
    would; the runner falls back to ``apply`` one event at a time to find the event a
    failed batch stumbled on."""

    def apply_batch(self, sql: Sql, batch: Sequence[LoggedEvent]) -> None:
        """Fold ``batch`` (in log order) into the tables, inside the runner's transaction."""


class RememberingProjection(Projection, Protocol):
    """A projection that keeps what it wrote from one step to the next (the hash chain's
    tip, rows it reads back), rather than read it again in each transaction.

    Other processes apply projections too (``CaughtUp``, a deposed runner), so memory is
    only trusted when the runner vouches for it: at the start of each step that applies
    the projection it calls ``resume(sql)`` if the position it claimed (and the tables'
    version) is the one the projection's last committed step left, else ``forget()``.
    Memory is used in the transaction ``sql`` only; any other transaction (a caller
    outside the runner) reads the tables, as a projection without ``resume`` always does."""

    def resume(self, sql: Sql) -> None:
        """The tables are as this projection's memory has them: use it in ``sql``."""


def is_permanent(projection: Projection) -> bool:
    """A projection that sets ``permanent = True`` keeps its rows for good: the runner
    never drops, resets or rebuilds it (the hash chain, ADR 0012)."""
    return bool(getattr(projection, "permanent", False))


def holds_personal_data(projection: Projection) -> bool:
    """A projection that sets ``personal_data = True`` keeps copies of personal fields of
    past events: the runner rebuilds it after each erasure (ADR 0023)."""
    return bool(getattr(projection, "personal_data", False)) and not is_permanent(projection)


def reader_indexes(projection: Projection) -> tuple[str, ...]:
    """The ``CREATE INDEX IF NOT EXISTS`` statements of a projection's indexes that only
    its readers use (reports, filters), never its own folds, given as ``reader_indexes``:
    ``create`` leaves them out, and the runner creates them when a catch-up reaches the
    log's end, so that a rebuild from 0 does not keep them up row by row (ADR 0032)."""
    return tuple(getattr(projection, "reader_indexes", ()))


# Loads many aggregates, each at its version, at once (those absent did not exist yet).
LoadAggregates = Callable[[dict[UUID, int]], dict[UUID, Aggregate]]


def missing(
    events: Sequence[LedgerAggregate.Event], at: Callable[[UUID], int | None]
) -> dict[UUID, int]:
    """The aggregates ``events`` (a batch, in log order) need loaded, each at the version
    before its first event in the batch: those not created in it, whose version kept in
    memory (``at``; None: not kept) is not that one."""
    wanted: dict[UUID, int] = {}
    seen: set[UUID] = set()
    for event in events:
        aggregate_id = event.originator_id
        if aggregate_id in seen:
            continue
        seen.add(aggregate_id)
        before = event.originator_version - 1
        if before > 0 and at(aggregate_id) != before:
            wanted[aggregate_id] = before
    return wanted


Kept = TypeVar("Kept")


def missing_kept(
    events: Sequence[LedgerAggregate.Event],
    cache: OrderedDict[int, Kept],
    version_of: Callable[[Kept], int],
) -> tuple[dict[UUID, int], int]:
    """``missing`` for a cache keyed by the ids' numbers (a UUID's hash and equality are
    Python code), whose entries the batch names move ahead of the others, so that what
    makes room is never one the batch has yet to use; and how many aggregates it names."""
    wanted: dict[UUID, int] = {}
    seen: set[int] = set()
    for event in events:
        number = event.originator_id.int
        if number in seen:
            continue
        seen.add(number)
        kept = cache.get(number)
        if kept is not None:
            cache.move_to_end(number)
        before = event.originator_version - 1
        if before > 0 and (kept is None or version_of(kept) != before):
            wanted[event.originator_id] = before
    return wanted, len(seen)


def _version(aggregate: Aggregate) -> int:
    return aggregate.version


class AggregateFolder:
    """The state of each aggregate after each event, from a bounded cache or the store;
    ``prefetch`` loads a batch's missing aggregates in a few queries instead of a few
    each. ``capacity``: how many aggregates are kept (the least recently folded go)."""

    def __init__(
        self, load: LoadAggregate, capacity: int = 20_000, load_many: LoadAggregates | None = None
    ) -> None:
        self._load = load
        self._load_many = load_many
        self.capacity = capacity
        # Keyed by the id's number, as the book's timelines: a UUID's hash and equality
        # are Python code, a few times per event.
        self._cache: OrderedDict[int, Aggregate] = OrderedDict()
        self._batch = 0  # the aggregates of the batch being applied: all of them kept

    def prefetch(self, events: Sequence[LedgerAggregate.Event]) -> None:
        """Load the batch's aggregates not kept, in a few queries. Every aggregate of the
        batch is then kept until it is applied, even beyond the capacity: those kept move
        ahead of the others, so that what makes room is never one the batch has yet to
        use."""
        if self._load_many is None:
            return
        cache = self._cache
        wanted, self._batch = missing_kept(events, cache, _version)
        for aggregate_id, aggregate in self._load_many(wanted).items() if wanted else ():
            cache[aggregate_id.int] = aggregate
            cache.move_to_end(aggregate_id.int)
        self._trim()

    def _trim(self) -> None:
        while len(self._cache) > max(self.capacity, self._batch):
            self._cache.popitem(last=False)

    def after(self, event: LedgerAggregate.Event) -> Any:
        aggregate_id = event.originator_id
        number = aggregate_id.int
        previous: Aggregate | None = self._cache.pop(number, None)
        if previous is None or previous.version != event.originator_version - 1:
            previous = (
                self._load(aggregate_id, event.originator_version - 1)
                if event.originator_version > 1
                else None
            )
        aggregate = event.mutate(previous)
        assert aggregate is not None
        self._cache[number] = aggregate
        self._trim()
        return aggregate

    def __len__(self) -> int:
        """How many aggregates are kept."""
        return len(self._cache)

    def forget(self) -> None:
        self._cache.clear()
