"""JSON transcodings for the domain's value objects, enums and dates.

Values are stored as plain JSON objects of their fields (nested values are encoded
recursively by the transcoder), so the stored form stays readable by auditors and by
downstream consumers that never import this code.
"""

from __future__ import annotations

import dataclasses
from datetime import date
from enum import Enum
from typing import Any

from eventsourcing.persistence import JSONTranscoder, Transcoding


class DateAsISO(Transcoding):
    type = date
    name = "date_iso"

    def encode(self, obj: date) -> str:
        return obj.isoformat()

    def decode(self, data: str) -> date:
        return date.fromisoformat(data)


class DataclassAsDict(Transcoding):
    """A frozen dataclass as a dict of its fields; tuples come back as tuples."""

    def __init__(self, cls: type) -> None:
        self.type = cls
        self.name = cls.__name__
        self._fields = dataclasses.fields(cls)

    def encode(self, obj: Any) -> dict[str, Any]:
        return {f.name: getattr(obj, f.name) for f in self._fields}

    def decode(self, data: dict[str, Any]) -> Any:
        values = {k: tuple(v) if isinstance(v, list) else v for k, v in data.items()}
        return self.type(**values)


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
