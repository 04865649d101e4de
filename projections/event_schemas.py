"""JSON Schemas (draft 2020-12) for each public event type, generated from the event classes.

The schema of an event's ``data`` follows its dataclass fields and their annotations,
so it cannot drift from the code; a test validates every event the demo writes.
"""

from __future__ import annotations

import dataclasses
import functools
import importlib
import inspect
import types
import typing
from datetime import date, datetime
from decimal import Decimal
from enum import Enum
from typing import Any
from uuid import UUID

from domain.base import LedgerAggregate
from domain.money import Money
from projections.cloudevents import schema_url, type_name
from projections.event_json import ENVELOPE

# Where the aggregates with public events live (each declares it: domain/base.py's ``public``).
DOMAIN_MODULES = ("account", "subscription", "license", "invoice", "support_case")
DECIMAL = {"type": "string", "pattern": r"^-?\d+(\.\d+)?$"}


def public_event_classes() -> list[type[LedgerAggregate.Event]]:
    """Every event class of the domain's aggregates, in a stable order."""
    found: list[type[LedgerAggregate.Event]] = []
    for module_name in DOMAIN_MODULES:
        module = importlib.import_module(f"domain.{module_name}")
        for _, aggregate in inspect.getmembers(module, inspect.isclass):
            if (
                not issubclass(aggregate, LedgerAggregate)
                or aggregate.__module__ != module.__name__
            ):
                continue
            for name, member in vars(aggregate).items():
                if (
                    inspect.isclass(member)
                    and issubclass(member, LedgerAggregate.Event)
                    and name not in ("Event", "Created")
                    and member.public
                ):
                    found.append(member)
    return found


def _schema_of(annotation: Any) -> dict[str, Any]:
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin in (typing.Union, types.UnionType):
        return {"anyOf": [_schema_of(a) for a in args]}
    if origin in (tuple, list):
        return {"type": "array", "items": _schema_of(args[0])}
    if origin is dict:
        return {"type": "object", "additionalProperties": _schema_of(args[1])}
    if annotation is type(None):
        return {"type": "null"}
    if annotation is bool:
        return {"type": "boolean"}
    if annotation is int:
        return {"type": "integer"}
    if annotation is str:
        return {"type": "string"}
    if annotation is Decimal:
        return dict(DECIMAL)
    if annotation is UUID:
        return {"type": "string", "format": "uuid"}
    if annotation is datetime:
        return {"type": "string", "format": "date-time"}
    if annotation is date:
        return {"type": "string", "format": "date"}
    if inspect.isclass(annotation) and issubclass(annotation, Enum):
        return {"type": "string", "enum": [m.value for m in annotation]}
    if annotation is Money:
        return {
            "type": "object",
            "properties": {
                "amount": dict(DECIMAL),
                "currency": {"type": "string", "pattern": "^[A-Z]{3}$"},
            },
            "required": ["amount", "currency"],
            "additionalProperties": False,
        }
    if dataclasses.is_dataclass(annotation):
        return _object_schema(annotation, ())
    raise TypeError(f"no JSON Schema for {annotation!r}")


def _object_schema(cls: Any, excluded: tuple[str, ...] | frozenset[str]) -> dict[str, Any]:
    hints = typing.get_type_hints(cls)
    fields = [f for f in dataclasses.fields(cls) if f.name not in excluded]
    return {
        "type": "object",
        "properties": {f.name: _schema_of(hints[f.name]) for f in fields},
        "required": [f.name for f in fields],
        "additionalProperties": False,
    }


def data_schema(event_class: type[LedgerAggregate.Event], public_url: str) -> dict[str, Any]:
    kind = type_name(event_class)
    schema = _object_schema(event_class, ENVELOPE)
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": schema_url(public_url, kind),
        "title": kind,
        "description": _description(event_class),
        **schema,
    }


def _description(event_class: type) -> str:
    doc = (event_class.__doc__ or "").strip()
    generated = doc.startswith(f"{event_class.__name__}(")  # dataclass's own signature text
    return event_class.__qualname__ if generated or not doc else doc.splitlines()[0]


@functools.cache
def all_schemas(public_url: str) -> dict[str, dict[str, Any]]:
    """Every public type's schema, ``$id`` under ``public_url`` (computed once per URL;
    callers must not change what it returns)."""
    return {type_name(cls): data_schema(cls, public_url) for cls in public_event_classes()}
