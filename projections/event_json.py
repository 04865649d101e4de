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


# Types that are their own JSON: returned first, without the checks below (most fields).
_PLAIN = frozenset({str, int, bool, float, type(None)})


def to_json(value: Any) -> Any:
    kind = type(value)
    if kind in _PLAIN:
        return value
    convert = _CONVERTERS.get(kind)
    if convert is None:
        # Which branch a value takes depends on its type alone: chosen once per type.
        convert = _CONVERTERS.setdefault(kind, _converter(kind))
    return convert(value)


def _converter(kind: type) -> Callable[[Any], Any]:
    if issubclass(kind, Decimal):
        return str
    if issubclass(kind, datetime | date):
        return _isoformat
    if issubclass(kind, UUID):
        return str
    if issubclass(kind, Enum):
        return _enum_value
    if dataclasses.is_dataclass(kind) and not issubclass(kind, type):
        names = tuple(f.name for f in dataclasses.fields(kind))
        return lambda value: {name: to_json(getattr(value, name)) for name in names}
    if issubclass(kind, dict):
        return lambda value: {str(k): to_json(v) for k, v in value.items()}
    if issubclass(kind, list | tuple):
        return lambda value: [to_json(v) for v in value]
    return _itself


def _isoformat(value: date) -> str:
    return value.isoformat()


def _enum_value(value: Enum) -> Any:
    return value.value


def _itself(value: Any) -> Any:
    return value


_CONVERTERS: dict[type, Callable[[Any], Any]] = {}


def event_data(event: Any) -> dict[str, Any]:
    """The event's own fields (not its envelope) as JSON-ready values."""
    return {name: to_json(value) for name, value in event.__dict__.items() if name not in ENVELOPE}


def event_type(event: Any) -> str:
    """``Aggregate.Event``: the class's qualified name, stable across modules."""
    return str(type(event).__qualname__)
