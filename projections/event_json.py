"""An event's own fields as plain JSON: decimals as strings, dates ISO 8601, enums by value.

Used wherever an event leaves the process in a form other programs read (the audit
trail's payload, exports, the public event contract), so that all of them agree.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from datetime import date, datetime
from decimal import Decimal
from enum import Enum
from typing import Any
from uuid import UUID

# Carried by every event; shown in their own columns, not in the payload.
ENVELOPE = frozenset(
    {"originator_id", "originator_version", "timestamp", "meta", "originator_topic"}
)


# Types that are their own JSON: most fields.
_OWN: frozenset[type] = frozenset({str, int, bool, float, type(None)})


def to_json(value: Any) -> Any:
    convert = _CONVERTERS[type(value)]
    return value if convert is None else convert(value)


def _converter(kind: type) -> Callable[[Any], Any] | None:
    """How a value of ``kind`` becomes JSON (None: it is its own). Which branch a value
    takes depends on its type alone: chosen once per type. A container's converter looks
    up each item's inline, as ``to_json`` does, rather than calling it per item (most
    items are text or numbers, their own JSON)."""
    if issubclass(kind, Decimal):
        return str
    if issubclass(kind, datetime | date):
        return _isoformat
    if issubclass(kind, UUID):
        return str
    if issubclass(kind, Enum):
        return _enum_value
    if dataclasses.is_dataclass(kind) and not issubclass(kind, type):
        return _fields_converter(tuple(f.name for f in dataclasses.fields(kind)))
    if issubclass(kind, dict):
        return _dict_to_json
    if issubclass(kind, list | tuple):
        return _list_to_json
    return None


def _fields_converter(names: tuple[str, ...]) -> Callable[[Any], Any]:
    """A dataclass's converter, written out field by field (as dataclasses writes a class's
    ``__init__``; field names are identifiers): a comprehension over the names, a call
    of its own with a ``getattr`` per field, took 1.7 times as long over an invoice's
    seller, buyer and lines (the audit trail converts every event's data)."""
    lines = ["def fields_to_json(value):"]
    lines += [f"    v{i} = value.{name}" for i, name in enumerate(names)]
    items = ", ".join(
        f"{name!r}: v{i} if (c := converters[type(v{i})]) is None else c(v{i})"
        for i, name in enumerate(names)
    )
    lines.append(f"    return {{{items}}}")
    namespace: dict[str, Any] = {"converters": _CONVERTERS}
    exec("\n".join(lines), namespace)
    return namespace["fields_to_json"]


def _dict_to_json(value: dict[Any, Any]) -> dict[str, Any]:
    converters = _CONVERTERS
    return {
        str(k): v if (convert := converters[type(v)]) is None else convert(v)
        for k, v in value.items()
    }


def _list_to_json(value: list[Any] | tuple[Any, ...]) -> list[Any]:
    converters = _CONVERTERS
    return [v if (convert := converters[type(v)]) is None else convert(v) for v in value]


def _isoformat(value: date) -> str:
    return value.isoformat()


def _enum_value(value: Enum) -> Any:
    return value.value


class _Converters(dict[type, Callable[[Any], Any] | None]):
    def __missing__(self, kind: type) -> Callable[[Any], Any] | None:
        convert = self[kind] = _converter(kind)
        return convert


_CONVERTERS = _Converters(dict.fromkeys(_OWN))


def event_data(event: Any) -> dict[str, Any]:
    """The event's own fields (not its envelope) as JSON-ready values."""
    return {
        name: value if type(value) in _OWN else to_json(value)
        for name, value in event.__dict__.items()
        if name not in ENVELOPE
    }


def event_type(event: Any) -> str:
    """``Aggregate.Event``: the class's qualified name, stable across modules."""
    return str(type(event).__qualname__)
