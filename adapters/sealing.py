"""Personal fields sealed inside stored events: AES-256-GCM under their subject's key.

Each string that an event class declares personal (domain/personal_data.py) is stored
as ``{"_type_": "sealed", "_data_": {"k": key id, "n": nonce, "c": ciphertext}}`` in
place of the string; the rest of the event stays readable JSON. The key id is the
associated data, so a ciphertext cannot be moved under another key unnoticed.

The hash chain seals the stored bytes, ciphertext included (ADR 0012), so destroying a
key changes nothing it covers: the chain still verifies, and the field reads as
``"[erased]"`` in every event that held it, wherever events are read, because every
reader decodes stored events through this mapper. Events stored before sealing existed
hold their personal fields in plaintext (ADR 0023).
"""

from __future__ import annotations

import base64
import contextlib
import dataclasses
import functools
import json
import os
from collections.abc import Callable
from typing import Any
from uuid import UUID

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from eventsourcing.domain import DomainEventProtocol
from eventsourcing.persistence import StoredEvent, Transcoding
from eventsourcing.utils import resolve_topic

from adapters.transcoding import TupleRestoringMapper
from domain.data_keys import DataKeys
from domain.personal_data import ERASED, PersonalFields, declared, erased_subject, leaf

NONCE_BYTES = 12


@dataclasses.dataclass(frozen=True)
class SealedText:
    key_id: str
    nonce: bytes
    ciphertext: bytes


def seal(key_id: str, key: bytes, text: str) -> SealedText:
    nonce = os.urandom(NONCE_BYTES)
    return SealedText(key_id, nonce, AESGCM(key).encrypt(nonce, text.encode(), key_id.encode()))


class SealedTextAsDict(Transcoding):
    """Encodes a ``SealedText``; decodes straight to the plaintext, or ``"[erased]"``."""

    type = SealedText
    name = "sealed"

    def __init__(self, keys: DataKeys) -> None:
        self.keys = keys

    def encode(self, obj: SealedText) -> dict[str, str]:
        return _encoded(obj)

    def decode(self, data: dict[str, str]) -> str:
        key_id = data["k"]
        key = self.keys.key(key_id)
        if key is None:
            return ERASED
        nonce, ciphertext = base64.b64decode(data["n"]), base64.b64decode(data["c"])
        try:
            return AESGCM(key).decrypt(nonce, ciphertext, key_id.encode()).decode()
        except InvalidTag:
            # Not what was sealed under this key: refuse to read rather than guess.
            raise ValueError(f"a personal field under key {key_id} fails its check") from None


class SealingMapper(TupleRestoringMapper):
    """The ledger's mapper, sealing the personal fields of each event it stores.

    ``keys`` is set by the application once it has a store for them; without it, events
    are stored as they are (as the library's tools that build a mapper of their own do).
    """

    keys: DataKeys | None = None

    def to_stored_event(self, domain_event: DomainEventProtocol[UUID]) -> StoredEvent:
        declarations = declared(type(domain_event))
        if declarations and self.keys is not None:
            domain_event = _sealed(domain_event, declarations, self.keys)
        return super().to_stored_event(domain_event)

    def to_domain_event(self, stored_event: StoredEvent) -> DomainEventProtocol[UUID]:
        event = super().to_domain_event(stored_event)
        subject = erased_subject(event)
        if subject is not None and self.keys is not None:
            # Another process erased it: this one must not keep decrypting with a copy.
            self.keys.forget(subject)
        return event


def _sealed(
    event: DomainEventProtocol[UUID], declarations: tuple[PersonalFields, ...], keys: DataKeys
) -> Any:
    """A copy of the event with its personal strings sealed (the event itself is untouched:
    the aggregate that recorded it keeps using it)."""
    state = dict(vars(event))
    for declaration in declarations:
        if not _holds_text(state, declaration):
            continue  # e.g. an invoice recorded without its own buyer: nothing to seal
        sealed = functools.partial(
            seal, *keys.key_for(declaration.subject(event.originator_id, state))
        )
        tree = _path_tree(declaration.paths)
        if tree is None:
            for path in declaration.paths:
                state = _replaced(state, path.split("."), sealed)
        else:
            state = _replaced_all(state, tree, sealed)
    copy: Any = object.__new__(type(event))
    copy.__dict__.update(state)
    return copy


def _holds_text(state: dict[str, Any], declaration: PersonalFields) -> bool:
    for path in declaration.paths:
        with contextlib.suppress(KeyError, AttributeError, TypeError):
            if isinstance(leaf(state, path), str):
                return True
    return False


def _replaced(value: Any, names: list[str], change: Callable[[str], SealedText]) -> Any:
    """``value`` with the string at the path ``names`` changed, its containers copied."""
    if not names:
        return change(value) if isinstance(value, str) else value
    name, rest = names[0], names[1:]
    if isinstance(value, dict):
        return {**value, name: _replaced(value[name], rest, change)}
    clone = object.__new__(type(value))  # a frozen dataclass: fields set as the store does
    clone.__dict__.update(vars(value))
    clone.__dict__[name] = _replaced(getattr(value, name), rest, change)
    return clone


@functools.cache
def _path_tree(paths: tuple[str, ...]) -> dict[str, Any] | None:
    """The paths as a tree of names, None at each leaf (``buyer.city`` and ``buyer.country``:
    ``{"buyer": {"city": None, "country": None}}``); None if a path is named twice or
    lies inside another (then they are sealed one by one, as ``_replaced`` does)."""
    tree: dict[str, Any] = {}
    for path in paths:
        node = tree
        *inner, last = path.split(".")
        for name in inner:
            below = node.setdefault(name, {})
            if below is None:
                return None
            node = below
        if last in node:
            return None
        node[last] = None
    return tree


def _replaced_all(value: Any, tree: dict[str, Any], change: Callable[[str], SealedText]) -> Any:
    """``_replaced`` for every path of ``tree`` at once: each container on the way copied
    once, not once per path (an invoice's buyer has eight sealed fields)."""
    if isinstance(value, dict):
        copy = dict(value)
        for name, below in tree.items():
            copy[name] = _changed(value[name], below, change)
        return copy
    clone = object.__new__(type(value))  # a frozen dataclass: fields set as the store does
    clone.__dict__.update(vars(value))
    for name, below in tree.items():
        clone.__dict__[name] = _changed(getattr(value, name), below, change)
    return clone


def _changed(value: Any, below: dict[str, Any] | None, change: Callable[[str], SealedText]) -> Any:
    if below is None:
        return change(value) if isinstance(value, str) else value
    return _replaced_all(value, below, change)


def plaintext_subjects(stored_event: StoredEvent) -> set[str]:
    """The subjects whose personal fields this stored event holds in plaintext: it was
    stored before sealing existed, and destroying keys cannot erase it (ADR 0023)."""
    declarations = declared(resolve_topic(stored_event.topic))
    if not declarations:
        return set()
    state = _unwrapped(json.loads(stored_event.state))
    aggregate_id = stored_event.originator_id
    if not isinstance(aggregate_id, UUID):
        aggregate_id = UUID(str(aggregate_id))
    found = set()
    for declaration in declarations:
        if _holds_text(state, declaration):
            found.add(declaration.subject(aggregate_id, state))
    return found


def _unwrapped(value: Any) -> Any:
    """Stored JSON as plain dicts: values' fields in place of their ``_type_`` wrappers,
    and sealed fields as None."""
    if isinstance(value, list):
        return [_unwrapped(item) for item in value]
    if not isinstance(value, dict):
        return value
    if set(value) == {"_type_", "_data_"}:
        return None if value["_type_"] == SealedTextAsDict.name else _unwrapped(value["_data_"])
    return {name: _unwrapped(item) for name, item in value.items()}


def resealed(
    stored: StoredEvent, key_for: Callable[[str], tuple[str, bytes]]
) -> tuple[StoredEvent, int]:
    """``stored`` with every personal field it holds in plaintext sealed under the key
    ``key_for`` gives for its subject, and how many fields that was; fields sealed
    already are left as they are (ADR 0023: the migration of an old store).

    Works on the stored JSON, not on the decoded event, so that nothing but those
    fields changes: no upcasting, no re-encoding of values."""
    declarations = declared(resolve_topic(stored.topic))
    if not declarations:
        return stored, 0
    raw = json.loads(stored.state)
    plain = _unwrapped(raw)
    aggregate_id = stored.originator_id
    if not isinstance(aggregate_id, UUID):
        aggregate_id = UUID(str(aggregate_id))
    count = 0
    for declaration in declarations:
        try:
            subject = declaration.subject(aggregate_id, plain)
        except (KeyError, AttributeError, TypeError):
            continue  # a field named later than this event's version: nothing of it here
        for path in declaration.paths:
            count += _seal_in_place(raw, path.split("."), subject, key_for)
    if not count:
        return stored, 0
    # As the library's transcoder writes JSON (eventsourcing.persistence.JSONTranscoder).
    state = json.dumps(raw, separators=(",", ":"), ensure_ascii=False).encode("utf8")
    return StoredEvent(stored.originator_id, stored.originator_version, stored.topic, state), count


def _seal_in_place(
    raw: Any, names: list[str], subject: str, key_for: Callable[[str], tuple[str, bytes]]
) -> int:
    """Seal the plaintext string at ``names`` in stored JSON (through the ``_type_``
    wrappers of values); 1 if there was one, else 0."""
    container = raw
    for name in names[:-1]:
        container = _inside(container)
        if not isinstance(container, dict) or name not in container:
            return 0
        container = container[name]
    container = _inside(container)
    last = names[-1]
    if not isinstance(container, dict) or not isinstance(container.get(last), str):
        return 0
    sealed = seal(*key_for(subject), container[last])
    container[last] = {"_type_": SealedTextAsDict.name, "_data_": _encoded(sealed)}
    return 1


def _inside(value: Any) -> Any:
    """A value's fields, in place of its ``_type_`` wrapper."""
    if isinstance(value, dict) and set(value) == {"_type_", "_data_"}:
        return value["_data_"]
    return value


def _encoded(sealed: SealedText) -> dict[str, str]:
    return {
        "k": sealed.key_id,
        "n": base64.b64encode(sealed.nonce).decode(),
        "c": base64.b64encode(sealed.ciphertext).decode(),
    }
