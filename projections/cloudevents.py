"""The public event contract: each domain event as a CloudEvents 1.0 structured JSON object.

Only the domain's own events are public; the service's bookkeeping (API tokens,
idempotency records) stays inside. ``type`` names the aggregate, the event and its
class version, so a consumer can route on it and validate ``data`` against the JSON
Schema published for exactly that type (see ``event_schemas``), at the absolute URI
``dataschema`` names (the service's public URL, as CloudEvents requires).
"""

from __future__ import annotations

import re
from typing import Any

from domain.base import LedgerAggregate
from projections.event_json import event_data, to_json

SPEC_VERSION = "1.0"
SOURCE = "urn:subledger:ledger"
SCHEMA_PATH = "/v1/events/schemas/"
# ``sequence`` must order lexicographically (CloudEvents sequence extension): positions are
# zero-padded to the digits of the largest BIGINT.
SEQUENCE_DIGITS = 19


def is_public(event: object) -> bool:
    """Declared by the event's aggregate (``public`` on its ``Event``, domain/base.py): share
    links' events (client addresses, token hashes), invoice series and the service's own
    aggregates stay in the audit trail, out of public feeds."""
    return isinstance(event, LedgerAggregate.Event) and type(event).public


def aggregate_name(event_class: type) -> str:
    """``Subscription.RenewalScheduled``: ``subscription``; ``SupportCase``: ``support_case``."""
    outer = event_class.__qualname__.split(".")[0]
    return re.sub(r"(?<!^)(?=[A-Z])", "_", outer).lower()


def type_name(event_class: type) -> str:
    """``subledger.<aggregate>.<Event>.v<N>``."""
    version = getattr(event_class, "class_version", 1)
    return f"subledger.{aggregate_name(event_class)}.{event_class.__name__}.v{version}"


def type_matches(kind: str, wanted: str) -> bool:
    """``wanted`` is a type or a prefix of whole dotted segments: ``subledger.invoice``
    and ``subledger.invoice.InvoicePaid`` match ``subledger.invoice.InvoicePaid.v1``;
    ``subledger.inv`` does not."""
    wanted = wanted.rstrip(".")
    return kind == wanted or kind.startswith(wanted + ".")


def schema_url(public_url: str, kind: str) -> str:
    """Where the JSON Schema of ``kind`` is served: an absolute URI under ``public_url``."""
    return f"{public_url}{SCHEMA_PATH}{kind}"


def event_id(event: LedgerAggregate.Event) -> str:
    """Unique and stable: an aggregate's version is written once."""
    return f"{event.originator_id}/{event.originator_version}"


def to_cloudevent(position: int, event: LedgerAggregate.Event, public_url: str) -> dict[str, Any]:
    kind = type_name(type(event))
    envelope: dict[str, Any] = {
        "specversion": SPEC_VERSION,
        "id": event_id(event),
        "source": SOURCE,
        "type": kind,
        "subject": str(event.originator_id),
        "time": to_json(event.timestamp),
        "sequence": str(position).zfill(SEQUENCE_DIGITS),
        "datacontenttype": "application/json",
        "dataschema": schema_url(public_url, kind),
        "actorid": event.meta.actor_id,
        "actorrole": event.meta.actor_role,
        "requestid": event.meta.request_id,
        "correlationid": event.meta.correlation_id,
    }
    effective = event.effective()
    if effective is not None:
        envelope["effectiveat"] = effective.isoformat()
    if event.meta.reason is not None:
        envelope["reason"] = event.meta.reason
    envelope["data"] = event_data(event)
    return envelope
