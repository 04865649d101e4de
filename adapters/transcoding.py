"""JSON transcodings for the domain's value objects, enums and dates.

Values are stored as plain JSON objects of their fields (nested values are encoded
recursively by the transcoder), so the stored form stays readable by auditors and by
downstream consumers that never import this code.
"""

from __future__ import annotations

import dataclasses
import functools
from datetime import date
from enum import Enum
from typing import Any
from uuid import UUID

from eventsourcing.domain import DomainEventProtocol
from eventsourcing.persistence import JSONTranscoder, Mapper, StoredEvent, Transcoding


class DateAsISO(Transcoding):
    type = date
    name = "date_iso"

    def encode(self, obj: date) -> str:
        return obj.isoformat()

    def decode(self, data: str) -> date:
        return date.fromisoformat(data)


class DataclassAsDict(Transcoding):
    """A frozen dataclass as a dict of its fields; tuples come back as tuples.

    Decoding restores the fields as stored without running the class's checks: they
    guard what is recorded from now on, and history recorded before a check existed
    (or tightened) must still read back, as it was, for good."""

    def __init__(self, cls: type) -> None:
        self.type = cls
        self.name = cls.__name__
        self._fields = dataclasses.fields(cls)

    def encode(self, obj: Any) -> dict[str, Any]:
        return {f.name: getattr(obj, f.name) for f in self._fields}

    def decode(self, data: dict[str, Any]) -> Any:
        obj: Any = object.__new__(self.type)
        for field in self._fields:
            if field.name in data:
                value = data[field.name]
                value = tuple(value) if isinstance(value, list) else value
            elif field.default is not dataclasses.MISSING:
                value = field.default  # a field added since, with its default
            else:
                raise TypeError(f"stored {self.name} lacks its field {field.name!r}")
            object.__setattr__(obj, field.name, value)
        return obj


class EnumAsValue(Transcoding):
    def __init__(self, cls: type[Enum]) -> None:
        self.type = cls
        self.name = cls.__name__
        self._cls = cls

    def encode(self, obj: Enum) -> Any:
        return obj.value

    def decode(self, data: Any) -> Enum:
        return self._cls(data)


def register_domain_transcodings(
    transcoder: JSONTranscoder, value_types: tuple[type, ...], enum_types: tuple[type, ...]
) -> None:
    transcoder.register(DateAsISO())
    for value_type in value_types:
        transcoder.register(DataclassAsDict(value_type))
    for enum_type in enum_types:
        transcoder.register(EnumAsValue(enum_type))


class TupleRestoringMapper(Mapper[UUID]):
    """JSON has no tuples: fields declared as tuples come back from the store as lists.

    Events are immutable values, so after decoding, every field whose declared type is
    a tuple is made a tuple again; read-back events then equal the ones written.
    """

    def to_domain_event(self, stored_event: StoredEvent) -> DomainEventProtocol[UUID]:
        event = super().to_domain_event(stored_event)
        for name in _tuple_fields(type(event)):
            value = event.__dict__.get(name)
            if isinstance(value, list):
                event.__dict__[name] = tuple(value)
        return event


@functools.cache
def _tuple_fields(cls: type) -> tuple[str, ...]:
    if not dataclasses.is_dataclass(cls):
        return ()
    return tuple(
        f.name
        for f in dataclasses.fields(cls)
        if str(f.type).replace("typing.", "").startswith("tuple")
    )
