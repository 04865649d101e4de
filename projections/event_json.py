"""An event's own fields as plain JSON: decimals as strings, dates ISO 8601, enums by value.

Used wherever an event leaves the process in a form other programs read (the audit
trail's payload, exports, the public event contract), so that all of them agree.
"""

from __future__ import annotations

import dataclasses
from datetime import date, datetime
from decimal import Decimal
from enum import Enum
from typing import Any
from uuid import UUID

# Carried by every event; shown in their own columns, not in the payload.
ENVELOPE = frozenset(
    {"originator_id", "originator_version", "timestamp", "meta", "originator_topic"}
)


def to_json(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, UUID):
        return str(value)
    if isinstance(value, Enum):
        return value.value
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: to_json(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, dict):
        return {str(k): to_json(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [to_json(v) for v in value]
    return value


def event_data(event: Any) -> dict[str, Any]:
    """The event's own fields (not its envelope) as JSON-ready values."""
    return {name: to_json(value) for name, value in event.__dict__.items() if name not in ENVELOPE}


def event_type(event: Any) -> str:
    """``Aggregate.Event``: the class's qualified name, stable across modules."""
    return str(type(event).__qualname__)
