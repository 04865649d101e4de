"""Stored topics of classes that moved: the old names keep resolving, and scans find both.

An event's topic (``module:Class.Event``) is stored with it and sealed by the hash chain,
so a store keeps the names of the modules its events were written by. Issue 15 moved the
service's aggregates into feature folders (ADR 0020); their old module names are
registered here as aliases of the new modules (eventsourcing's ``register_topic``).
"""

from __future__ import annotations

import importlib

from eventsourcing.utils import get_topic, register_topic

# Old module -> the module that holds its aggregates now. Append when one moves again.
MOVED_MODULES = {
    "service.tokens": "service.access.tokens",
    "service.test_clock": "service.clock.test_clock",
    "service.idempotency": "service.ledger.idempotency",
    "service.webhook_endpoint": "service.webhooks.endpoint",
}


def register_moved_modules() -> None:
    """Let the old topics resolve to the classes where they live now (idempotent)."""
    for old, new in MOVED_MODULES.items():
        register_topic(old, importlib.import_module(new))


def stored_topics(event_class: type) -> list[str]:
    """Every topic under which events of this class may be stored: its own, then old ones."""
    topic = get_topic(event_class)
    module, _, qualname = topic.partition(":")
    return [topic, *(f"{old}:{qualname}" for old, new in MOVED_MODULES.items() if new == module)]
