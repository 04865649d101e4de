"""The personal-data declarations name real string fields, and cover the subjects of issue 19."""

from __future__ import annotations

import dataclasses
import types
import typing
from uuid import UUID

from domain.personal_data import SubjectKind, declared
from tests.unit.test_events_doc import event_classes


def _leaf_type(cls: type, path: str) -> object:
    current: object = cls
    for name in path.split("."):
        optional = [a for a in typing.get_args(current) if a is not type(None)]
        if typing.get_origin(current) in (typing.Union, types.UnionType) and len(optional) == 1:
            current = optional[0]  # an optional value (an invoice's buyer, v1 events: none)
        assert isinstance(current, type) and dataclasses.is_dataclass(current), (cls, path)
        hints = typing.get_type_hints(current)
        assert name in hints, f"{cls.__qualname__}: '{path}' names no field '{name}'"
        current = hints[name]
    return current


def test_every_declared_path_is_a_string_field_and_every_subject_id_exists():
    for name, cls in event_classes().items():
        for declaration in declared(cls):
            for path in declaration.paths:
                assert _leaf_type(cls, path) is str, f"{name}: {path} is not a str field"
            if declaration.subject_id is not None:
                assert _leaf_type(cls, declaration.subject_id) in (str, int | None), name
            if declaration.holder is not None:
                assert _leaf_type(cls, declaration.holder) is UUID, name


def test_each_kind_of_subject_is_declared_somewhere_and_only_the_buyer_is_retained():
    kinds = {d.kind for cls in event_classes().values() for d in declared(cls)}
    assert kinds == set(SubjectKind)
    assert [kind for kind in SubjectKind if kind.retained] == [SubjectKind.BUYER]


def test_contact_and_user_fields_are_declared_where_they_are_recorded():
    events = event_classes()
    paths = {name: {p for d in declared(cls) for p in d.paths} for name, cls in events.items()}
    assert {"contact.name", "contact.email"} <= paths["Account.ContactAdded"]
    assert {"contact.name", "contact.email"} <= paths["Account.ContactChanged"]
    assert {"user.name", "user.email"} <= paths["Account.UserAdded"]
    assert {"administrator.name", "billing.legal_name"} <= paths["Account.AccountOpened"]
    assert paths["Account.ContactRemoved"] == set()
