"""Business time: the day each event takes effect, and the state in force on a day.

The rules (ADR 0004):

- An event is *in force* from its effective date (``effective()``: ``effective_at``,
  ``term_start``, ``due_on``), or from the day it was recorded (UTC) if it has none.
- Renewal-plan events (``RenewalScheduled``, ``RenewalChanged``, ``RenewalCancelled``)
  change the plan when they are recorded: their ``effective_at`` names the first day of
  the next term, which is what the plan is *about*, not when the plan itself changed.
- A creation event is in force on every day: it gives the aggregate its identity and
  its terms, and whether the thing itself was in force on a day is read from those
  terms (``in_force``): a contract from its term start, an invoice from its issue day.

- A change is in force no earlier than the latest earlier fact it builds on (seats on a
  line, seats of a contract's holding): ``in_force_days``.

The state in force on day E folds, in version order, the creation event and every
other event in force on or before E; the rest are *deferred*: known, but not yet in
force on E.
"""

from __future__ import annotations

import inspect
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, date
from typing import Any, TypeVar

from eventsourcing.utils import resolve_topic

from domain.account import Account
from domain.base import LedgerAggregate
from domain.invoice import Invoice
from domain.license import License
from domain.subscription import Subscription

A = TypeVar("A", bound=LedgerAggregate)

# Events that change the renewal plan when recorded (their effective_at is the next term's start).
RECORDED_DAY_EVENTS: tuple[type[LedgerAggregate.Event], ...] = (
    Subscription.RenewalScheduled,
    Subscription.RenewalChanged,
    Subscription.RenewalCancelled,
)
RECORDED_DAY_EVENT_TYPES: tuple[str, ...] = tuple(c.__qualname__ for c in RECORDED_DAY_EVENTS)


def recorded_day(event: LedgerAggregate.Event) -> date:
    return event.timestamp.astimezone(UTC).date()


def in_force_on(event: LedgerAggregate.Event) -> date | None:
    """The first day ``event`` is in force; None for a creation event (in force every day)."""
    if isinstance(event, LedgerAggregate.Created):
        return None
    if type(event) in RECORDED_DAY_EVENTS:
        return recorded_day(event)
    return event.effective() or recorded_day(event)


def days_of(event: LedgerAggregate.Event) -> tuple[date | None, date | None, date]:
    """``in_force_on(event)``, ``event.effective()`` and ``recorded_day(event)`` at once,
    each worked out once (the first is made of the others)."""
    effective = event.effective()
    recorded = recorded_day(event)
    if isinstance(event, LedgerAggregate.Created):
        return None, effective, recorded
    if type(event) in RECORDED_DAY_EVENTS:
        return recorded, effective, recorded
    return effective or recorded, effective, recorded


def _builds_on(event: LedgerAggregate.Event) -> tuple[str, str] | None:
    """The fact an event adds to (kind, key), or None."""
    kind = _kind_of(event)
    if kind in ("added", "removed"):
        return ("holding", str(event.subscription_id))  # type: ignore[attr-defined]
    if kind == "product":
        return ("line", event.line.line_id)  # type: ignore[attr-defined]
    if kind == "quantity":
        return ("line", event.line_id)  # type: ignore[attr-defined]
    return None


# Each class of event's part in ``in_force_days``, found once per class: the isinstance
# tests cost more than the rest of it on a large book. "" for none; "product" and
# "added" start a fact, "quantity" and "removed" build on one.
_KINDS: dict[type, str] = {}
_BUILDS_ON_ONE = ("quantity", "removed")


def _kind_of(event: LedgerAggregate.Event) -> str:
    kind = _KINDS.get(type(event))
    if kind is None:
        if isinstance(event, Subscription.ProductAdded):
            kind = "product"
        elif isinstance(event, Subscription.LineQuantityIncreased):
            kind = "quantity"
        elif isinstance(event, License.LicenseAdded):
            kind = "added"
        elif isinstance(event, License.LicenseRemoved):
            kind = "removed"
        else:
            kind = ""
        _KINDS[type(event)] = kind
    return kind


class InForceDays:
    """``in_force_days`` one event at a time: the latest day of each fact seen so far.

    A caller that appends to a history keeps one and asks it about each new event, in
    version order, instead of rescanning the history.
    """

    # One per timeline the book keeps (20,000): no __dict__.
    __slots__ = ("since",)

    def __init__(self) -> None:
        # Made at the first fact (most histories have none: invoices, accounts).
        self.since: dict[tuple[str, str], date] | None = None

    def day(self, event: LedgerAggregate.Event) -> date | None:
        """The first day ``event``, the next in version order, is in force in this history."""
        return self.moved(event, in_force_on(event))

    def moved(self, event: LedgerAggregate.Event, day: date | None) -> date | None:
        """``day``, the first day ``event`` is in force on its own (``in_force_on(event)``,
        the caller's), as this history moves it: what ``day(event)`` answers."""
        if day is None or not _kind_of(event):
            return day
        fact = _builds_on(event)
        assert fact is not None
        if _kind_of(event) in _BUILDS_ON_ONE:
            return day if self.since is None else max(day, self.since.get(fact, day))
        if self.since is None:
            self.since = {}
        self.since[fact] = day
        return day


def in_force_days(
    events: Iterable[LedgerAggregate.Event],
) -> Iterator[tuple[LedgerAggregate.Event, date | None]]:
    """Each event (in version order) with the first day it is in force in this history.

    A change is in force no earlier than the latest earlier fact it builds on: seats added
    to a line, no earlier than the line's latest ``ProductAdded``; seats removed from a
    contract's holding, no earlier than the latest ``LicenseAdded`` to it. (Staff can
    backdate seats to before their product was added, and cancel a contract from before
    seats it added for a later day: without this the line, or the holding, would not
    exist yet on the days in between.)
    """
    days = InForceDays()
    for event in events:
        yield event, days.day(event)


def apply_in_force(aggregate: Any, event: LedgerAggregate.Event) -> None:
    """Apply ``event`` although events before it may have been skipped.

    ``mutate`` refuses a version that does not follow the aggregate's; a fold that skips
    deferred events applies the rest with ``apply`` and moves the version itself.
    """
    event.apply(aggregate)
    aggregate.version = event.originator_version
    aggregate.modified_on = event.timestamp


# Per (creation event class, aggregate topic): the aggregate class, the names its
# ``__base_init__`` and ``__init__`` take, and whether ``__init__`` takes the id.
# None: a class with a ``mutate`` of its own, which is called.
_MAKERS: dict[tuple[type, str], tuple[Any, tuple[str, ...], tuple[str, ...], bool] | None] = {}


def created(event: Any) -> Any:
    """``event.mutate(None)`` for a creation event: the same aggregate, made the same way.

    eventsourcing's ``mutate`` works out, on every call, which of the event's fields each
    of the aggregate's two ``__init__`` methods takes (a dict comprehension over all its
    fields each, behind two signature look-ups): a tenth of the book's time in a profile
    of its rebuild. Those names are found once per class here; the calls are the same,
    with the same arguments.
    """
    topic = event.originator_topic
    try:
        maker = _MAKERS[(type(event), topic)]
    except KeyError:
        maker = None
        if type(event).mutate is LedgerAggregate.Created.mutate:
            cls = resolve_topic(topic)
            base = tuple(inspect.signature(cls.__base_init__).parameters)
            init = tuple(inspect.signature(cls.__init__).parameters)
            maker = (cls, base, init, "id" in init)
        _MAKERS[(type(event), topic)] = maker
    if maker is None:
        return event.mutate(None)
    cls, base, init, takes_id = maker
    fields = vars(event)
    aggregate = cls.__new__(cls)
    aggregate.__base_init__(**{name: fields[name] for name in base if name in fields})
    kwargs = {name: fields[name] for name in init if name in fields}
    if takes_id:
        kwargs["id"] = event.originator_id
    aggregate.__init__(**kwargs)
    event.apply(aggregate)
    return aggregate


@dataclass
class InForce:
    """The state in force on a day, and the events known but not yet in force then."""

    aggregate: Any
    deferred: list[LedgerAggregate.Event]


def fold_in_force(
    events: Iterable[LedgerAggregate.Event], on: date, aggregate: Any = None
) -> InForce:
    """Fold ``events`` (in version order) onto ``aggregate``, skipping those not in force on ``on``.

    Starting from None, the first event must be the creation event.
    """
    deferred: list[LedgerAggregate.Event] = []
    for event, day in in_force_days(events):
        if aggregate is None:
            aggregate = created(event)
        elif day is None or day <= on:
            apply_in_force(aggregate, event)
        else:
            deferred.append(event)
    return InForce(aggregate, deferred)


def in_force(aggregate: LedgerAggregate, on: date) -> bool:
    """Whether the thing itself was in force on ``on``, given its state in force then.

    A contract: its term has started and it is active (an ended term whose renewal or
    expiry is not yet recorded still counts: the ledger records endings, it does not
    infer them). An invoice: issued on or before the day. Seats: some held. An account:
    opened on or before the day.
    """
    if isinstance(aggregate, Subscription):
        return aggregate.is_active and aggregate.term.start <= on
    if isinstance(aggregate, Invoice):
        return aggregate.issued_on <= on
    if isinstance(aggregate, License):
        return aggregate.held > 0
    if isinstance(aggregate, Account):
        return recorded_day_of(aggregate) <= on
    return True


def recorded_day_of(aggregate: LedgerAggregate) -> date:
    return aggregate.created_on.astimezone(UTC).date()
