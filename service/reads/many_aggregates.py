"""Many aggregates loaded at once: a query for their snapshots and one for their events
(per 500 aggregates), instead of two per aggregate through the repository.

Used where hundreds are wanted together: an account as of an instant
(``point_in_time.account_at``), and the aggregates a projection batch finds missing
from its caches.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

from adapters.many_aggregates import select_events_of, select_snapshots_of
from service.ledger.application import Ledger, fold


def histories(
    ledger: Ledger, wanted: dict[UUID, tuple[int, int]]
) -> dict[UUID, tuple[Any, list[Any]]]:
    """For each aggregate, given (``fold_to``, ``read_to``): its newest snapshot at or
    below ``fold_to`` (None if none), and its events after that snapshot up to ``read_to``,
    decoded, in version order."""
    store = ledger.snapshots
    snapshots = (
        {}
        if store is None
        else select_snapshots_of(store.recorder, [(i, to) for i, (to, _) in wanted.items()])
    )
    ranges = [
        (i, snapshots[i].originator_version if i in snapshots else 0, read_to)
        for i, (_, read_to) in wanted.items()
    ]
    stored = select_events_of(ledger.recorder, ranges)
    found: dict[UUID, tuple[Any, list[Any]]] = {}
    for aggregate_id in wanted:
        snapshot = snapshots.get(aggregate_id)
        start = (
            None if snapshot is None or store is None else store.mapper.to_domain_event(snapshot)
        )
        events = [ledger.mapper.to_domain_event(e) for e in stored.get(aggregate_id, [])]
        found[aggregate_id] = (start, events)
    return found


def states_at(ledger: Ledger, wanted: dict[UUID, int]) -> dict[UUID, Any]:
    """Each aggregate at its version, as ``ledger.repository.get(id, version=v)`` folds it
    (absent if it has no such version)."""
    found = histories(ledger, {i: (v, v) for i, v in wanted.items()})
    states = {}
    for aggregate_id, (snapshot, events) in found.items():
        aggregate = fold(None, [*([] if snapshot is None else [snapshot]), *events])
        if aggregate is not None and aggregate.version == wanted[aggregate_id]:
            states[aggregate_id] = aggregate
    return states


def events_up_to(ledger: Ledger, wanted: dict[UUID, int]) -> dict[UUID, list[Any]]:
    """Each aggregate's events up to its version, decoded, in version order."""
    stored = select_events_of(ledger.recorder, [(i, 0, v) for i, v in wanted.items()])
    return {i: [ledger.mapper.to_domain_event(e) for e in events] for i, events in stored.items()}
