"""The base aggregate and event of the ledger.

Events carry the ``Provenance`` of the command that caused them and are stamped with
the command's recorded time (``Cause.at``) rather than the wall clock, so that a
controllable clock can write a year of history that is then queryable as of any day.
"""

from __future__ import annotations

from datetime import date
from typing import Any, ClassVar, TypeVar
from uuid import UUID

from eventsourcing.domain import Aggregate

from domain.cause import Cause, Provenance
from domain.personal_data import PersonalFields

A = TypeVar("A", bound="LedgerAggregate")

# The fields that carry an event's effective time, by the name each event gives it:
# the day a change applies, a term's first day, an invoice's due date.
EFFECTIVE_FIELDS = ("effective_at", "term_start", "due_on")


class LedgerAggregate(Aggregate):
    class Event(Aggregate.Event):
        class_version: ClassVar[int] = 1
        # The event's fields that hold personal data (domain/personal_data.py): encrypted
        # in the store under their subject's key.
        personal_data: ClassVar[tuple[PersonalFields, ...]] = ()
        # Published to consumers (the event feed, webhooks, NATS; projections/cloudevents.py):
        # an aggregate declares it once on its own ``Event``, which its events inherit.
        public: ClassVar[bool] = False
        meta: Provenance

        def effective(self) -> date | None:
            """The business date the event takes effect, where it carries one."""
            for name in EFFECTIVE_FIELDS:
                value = getattr(self, name, None)
                if isinstance(value, date):
                    return value
            return None

    class Created(Event, Aggregate.Created):
        class_version: ClassVar[int] = 1

    def __deepcopy__(self, memo: dict[int, Any]) -> LedgerAggregate:
        """The copy a command works on (the application's aggregate cache hands out copies).

        Containers are copied and values shared: every value the domain keeps in an
        aggregate is immutable (frozen dataclasses of immutable fields, dates, ids,
        Decimals, enums), so copying them, as ``copy.deepcopy`` would, costs time for
        nothing; it was a tenth of a command's time."""
        clone = object.__new__(type(self))
        memo[id(self)] = clone
        clone.__dict__.update({name: _copied(value) for name, value in self.__dict__.items()})
        return clone

    def _record(
        self, event_class: type[LedgerAggregate.Event], cause: Cause, **fields: Any
    ) -> None:
        self.trigger_event(event_class, timestamp=cause.at, meta=cause.provenance, **fields)

    @classmethod
    def _begin(
        cls: type[A],
        event_class: type[LedgerAggregate.Created],
        aggregate_id: UUID,
        cause: Cause,
        **fields: Any,
    ) -> A:
        return cls._create(
            event_class, id=aggregate_id, timestamp=cause.at, meta=cause.provenance, **fields
        )


# Types met that are no dict, list or set: their values are shared, not copied. Looked up
# first, and inline for a container's items (the book copies aggregates by the thousand).
_SHARED: set[type] = set()


def _copied(value: Any) -> Any:
    if type(value) in _SHARED:
        return value
    # A plain list or dict of shared values only (a contract's additions, its lines) is
    # copied in C: the same shallow copy the comprehensions below would build item by item.
    if type(value) is list and _SHARED.issuperset(map(type, value)):
        return value.copy()
    if type(value) is dict and _SHARED.issuperset(map(type, value.values())):
        return value.copy()
    if isinstance(value, dict):
        return {
            key: item if type(item) in _SHARED else _copied(item) for key, item in value.items()
        }
    if isinstance(value, list):
        return [item if type(item) in _SHARED else _copied(item) for item in value]
    if isinstance(value, set):
        return {_copied(item) for item in value}
    _SHARED.add(type(value))
    return value
