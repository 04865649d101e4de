"""A poison event: one written straight into the store, past every check, that a read
model cannot store (as a release without the checks, or someone with database access,
could have written it).

It is an ``Account.PaymentMethodSet`` (a valid topic) whose reference holds a character
the read store refuses: NUL on PostgreSQL (``text fields cannot contain NUL``), an
unpaired surrogate on SQLite (it cannot be encoded as UTF-8). The account overview
stores the reference as text, so it fails on the event; the audit trail keeps the event
as escaped JSON, the book does not keep the reference, and the hash chain seals the
stored bytes: they go on.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from uuid import UUID

from adapters.store import StoreSettings
from domain.account import Account
from domain.cause import Cause
from service.ledger.application import Ledger

PLACEHOLDER = b"pm_placeholder_for_poison"
FAILS = "account_overview"  # the projection the poison stops


def poison_for(store: StoreSettings) -> bytes:
    """The reference, as JSON escapes in the stored state, that the store's read models refuse."""
    return b"pm_\\u0000evil" if store.postgres is not None else b"pm_\\ud800evil"


def write_poison(ledger: Ledger, account_id: UUID, store: StoreSettings) -> int:
    """Append the poison event to ``account_id``'s history; returns its log position."""
    poison = poison_for(store)
    position = append_raw(ledger, account_id, lambda state: state.replace(PLACEHOLDER, poison))
    assert poison in bytes(ledger.recorder.select_notifications(position, 1)[0].state)
    return position


def append_raw(ledger: Ledger, account_id: UUID, state: Callable[[bytes], bytes]) -> int:
    """Append to ``account_id``'s history a ``PaymentMethodSet`` whose stored state is
    ``state(the state stored for the placeholder reference)``; returns its position."""
    account = ledger.account(account_id)
    cause = Cause(ledger.clock.now(), "mallory", "admin", "req-poison", "corr-poison")
    account.trigger_event(
        Account.PaymentMethodSet,
        timestamp=cause.at,
        meta=cause.provenance,
        reference=PLACEHOLDER.decode(),
    )
    (event,) = account.collect_events()
    stored = ledger.mapper.to_stored_event(event)
    ledger.recorder.insert_events([dataclasses.replace(stored, state=state(stored.state))])
    ledger.saved.pulse()  # wakes an in-process runner, as a save does
    return ledger.head_position()
