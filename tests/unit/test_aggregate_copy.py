"""The copy a command works on shares nothing mutable with the cached aggregate.

``LedgerAggregate.__deepcopy__`` copies containers and shares values, on the claim that
every value an aggregate keeps is immutable. This walks every aggregate of the demo's
fourteen months (every kind, in every state the demo reaches) to hold the claim."""

from __future__ import annotations

import copy
import dataclasses
from collections.abc import Iterator
from datetime import date, datetime
from decimal import Decimal
from enum import Enum
from fractions import Fraction
from typing import Any
from uuid import UUID

import pytest

from adapters.payments import FakePaymentProvider
from domain.base import LedgerAggregate
from service.demo.history import load_demo
from service.ledger.application import Ledger

IMMUTABLE_LEAVES = (str, bytes, int, float, bool, Decimal, Fraction, date, datetime, UUID, Enum)


@pytest.fixture(scope="module")
def aggregates() -> list[LedgerAggregate]:
    ledger, _ = load_demo(
        lambda clock: Ledger(
            env={"PERSISTENCE_MODULE": "eventsourcing.popo"},
            clock=clock,
            payment_provider=FakePaymentProvider(),
        )
    )
    ids = {n.originator_id for n in ledger.recorder.select_notifications(1, 1_000_000)}
    found = [ledger.repository.get(i, deepcopy_from_cache=False) for i in ids]
    return [a for a in found if isinstance(a, LedgerAggregate)]


def _shared_mutables(original: Any, clone: Any, path: str) -> Iterator[str]:
    """Paths where the clone shares a mutable object with the original, or holds a value
    that is not known to be immutable."""
    if isinstance(original, dict):
        if clone is original:
            yield path
        for key in original:
            yield from _shared_mutables(original[key], clone[key], f"{path}[{key!r}]")
    elif isinstance(original, list | set):
        if clone is original:
            yield path
        pairs = zip(sorted(original, key=repr), sorted(clone, key=repr), strict=True)
        for i, (a, b) in enumerate(pairs):
            yield from _shared_mutables(a, b, f"{path}[{i}]")
    elif isinstance(original, tuple | frozenset):
        for i, item in enumerate(original):
            yield from _shared_mutables(item, item, f"{path}({i})")
    elif dataclasses.is_dataclass(original) and not isinstance(original, type):
        if not type(original).__dataclass_params__.frozen:  # type: ignore[attr-defined]
            yield f"{path} (a mutable dataclass)"
        for field in dataclasses.fields(original):
            value = getattr(original, field.name)
            yield from _shared_mutables(value, value, f"{path}.{field.name}")
    elif original is not None and not isinstance(original, IMMUTABLE_LEAVES):
        yield f"{path} ({type(original).__name__}, not known to be immutable)"


def test_every_kind_of_aggregate_is_covered(aggregates: list[LedgerAggregate]) -> None:
    kinds = {type(a).__name__ for a in aggregates}
    assert {"Account", "Subscription", "License", "Invoice", "SupportCase"} <= kinds


def test_a_copy_shares_nothing_mutable_and_equals_a_full_deep_copy(
    aggregates: list[LedgerAggregate],
) -> None:
    for aggregate in aggregates:
        clone = copy.deepcopy(aggregate)
        assert type(clone) is type(aggregate)
        assert (
            list(_shared_mutables(aggregate.__dict__, clone.__dict__, type(clone).__name__)) == []
        )
        # The same state as the standard library's deep copy, value for value.
        generic = copy.copy(aggregate)
        generic.__dict__ = copy.deepcopy(aggregate.__dict__)
        assert clone.__dict__ == generic.__dict__


def test_changing_a_copy_leaves_the_original_as_it_was(
    aggregates: list[LedgerAggregate],
) -> None:
    for aggregate in aggregates:
        before = copy.deepcopy(aggregate.__dict__)  # the generic copy, as a witness
        clone = copy.deepcopy(aggregate)
        for value in clone.__dict__.values():
            if isinstance(value, dict | list | set):
                value.clear()
        assert aggregate.__dict__ == before


def test_a_container_of_values_is_copied_whole_and_one_of_containers_item_by_item() -> None:
    """``_copied`` copies a list or dict of shared values in one step (``list.copy``);
    one holding a container still gets each container copied."""
    from domain.base import _copied

    values = [date(2026, 1, 1), Decimal("1.00"), "x"]
    nested = [[1, 2], {"a": [3]}]
    keyed = {"a": date(2026, 1, 1), "b": [date(2026, 1, 2)]}
    for original in (values, nested, keyed, {"a": 1, "b": "c"}):
        clone = _copied(original)
        assert clone == original and clone is not original
        assert type(clone) is type(original)
        assert list(_shared_mutables(original, clone, "value")) == []
