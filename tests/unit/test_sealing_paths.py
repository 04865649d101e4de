"""Sealing all of a declaration's paths at once gives what sealing them one by one gives."""

from __future__ import annotations

import dataclasses
from typing import Any

from adapters.sealing import _path_tree, _replaced, _replaced_all
from domain.personal_data import declared
from tests.unit.test_events_doc import event_classes


@dataclasses.dataclass(frozen=True)
class Address:
    line1: str
    line2: str = ""


@dataclasses.dataclass(frozen=True)
class Buyer:
    name: str
    city: str
    address: Address
    vat: str | None = None


def _one_by_one(state: dict[str, Any], paths: tuple[str, ...]) -> dict[str, Any]:
    for path in paths:
        state = _replaced(state, path.split("."), str.upper)
    return state


def test_all_paths_at_once_equal_one_by_one_and_leave_the_original_as_it_was() -> None:
    state = {
        "buyer": Buyer("Jeanne", "Lyon", Address("1 rue", "")),
        "note": "hello",
        "amount": 3,
    }
    before = dict(state)
    paths = ("buyer.name", "buyer.city", "buyer.address.line1", "buyer.vat", "note")
    tree = _path_tree(paths)
    assert tree is not None
    at_once = _replaced_all(state, tree, str.upper)
    assert at_once == _one_by_one(state, paths)
    assert at_once["buyer"] == Buyer("JEANNE", "LYON", Address("1 RUE", ""))
    assert list(at_once) == list(state)  # the same fields, in the same order
    assert state == before and state["buyer"].name == "Jeanne"


def test_paths_named_twice_or_one_inside_another_are_sealed_one_by_one() -> None:
    assert _path_tree(("buyer", "buyer.name")) is None
    assert _path_tree(("buyer.name", "buyer")) is None
    assert _path_tree(("note", "note")) is None


def test_every_declaration_of_the_domain_is_sealed_at_once() -> None:
    for cls in event_classes():
        for declaration in declared(cls):
            assert _path_tree(declaration.paths) is not None, (cls, declaration.paths)
