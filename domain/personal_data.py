"""Which fields of which events hold personal data, and whose (ADR 0023).

An event class declares its personal fields with ``personal_data = personal(...)``. Each
declared field is a string leaf, named by its path from the event (``contact.name``: the
``name`` of the event's ``contact``), and belongs to one *data subject*: a contact, a
user, the visitors of a share link, a support case's text, or an account's buyer
identity. The store encrypts every declared leaf under its subject's key, so destroying
the key erases the subject's data from the whole history while the log (and the hash
chain sealing it) stays as it was.

A buyer identity is not erasable on request: the law requires it on issued invoices for
the retention period (art. 17(3)(b) GDPR, tax law). It is *retained*, and goes when its
retention ends.

Identifiers are never personal here: a user id or contact id keys other events and must
stay readable, so ids must be opaque (never an e-mail address).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import Enum
from typing import Any
from uuid import UUID

ERASED = "[erased]"  # what an erased string field reads as, everywhere


class SubjectKind(Enum):
    CONTACT = "contact"
    USER = "user"
    SHARE_LINK_VISITOR = "share-link-visitor"
    SUPPORT_CASE = "support-case"
    BUYER = "buyer"

    @property
    def retained(self) -> bool:
        """Kept for the legal retention period, whatever a request for erasure says."""
        return self is SubjectKind.BUYER


@dataclass(frozen=True)
class PersonalFields:
    """Some fields of an event that belong to one data subject.

    ``subject_id`` is the path of the field naming the subject within the aggregate (a
    contact's or user's id, an invoice's financial year); None when the aggregate itself
    is the subject (a support case, a share link's visitors, an account's buyer identity).
    ``holder`` is the path of the field naming the aggregate the subject belongs to when
    that is not the event's own: an invoice's buyer belongs to its account."""

    kind: SubjectKind
    paths: tuple[str, ...]
    subject_id: str | None = None
    holder: str | None = None

    def subject(self, aggregate_id: UUID, state: Mapping[str, Any]) -> str:
        within = "" if self.subject_id is None else str(leaf(state, self.subject_id))
        if self.holder is not None:
            aggregate_id = UUID(str(leaf(state, self.holder)))
        return subject_name(self.kind.value, aggregate_id, within)


def subject_name(kind: str, aggregate_id: UUID, subject_id: str = "") -> str:
    """A subject's name, unique in the ledger: ``contact:<account id>:<contact id>``, or
    ``support-case:<case id>`` when the aggregate is the subject."""
    return f"{kind}:{aggregate_id}:{subject_id}" if subject_id else f"{kind}:{aggregate_id}"


ERASURE_EVENT = "PersonalDataErased"  # the event's name on every aggregate that has one


def is_erasure(topic: str) -> bool:
    """Whether a stored event's topic is a ``PersonalDataErased`` (without decoding it)."""
    return topic.endswith(f".{ERASURE_EVENT}")


def erased_subject(event: Any) -> str | None:
    """The subject a ``PersonalDataErased`` event (of any aggregate) erased; else None."""
    if type(event).__name__ != ERASURE_EVENT:
        return None
    return subject_name(event.kind, event.originator_id, event.subject_id)


def personal(
    kind: SubjectKind, *paths: str, subject_id: str | None = None, holder: str | None = None
) -> PersonalFields:
    return PersonalFields(kind, paths, subject_id, holder)


def declared(event_class: type) -> tuple[PersonalFields, ...]:
    """The personal fields an event class declares (none for most)."""
    value = getattr(event_class, "personal_data", ())
    return value if isinstance(value, tuple) else (value,)


def leaf(state: Mapping[str, Any], path: str) -> Any:
    """The value at ``path`` in an event's state: a field, then fields of its value."""
    first, _, rest = path.partition(".")
    value = state[first]
    for name in rest.split(".") if rest else ():
        value = value[name] if isinstance(value, Mapping) else getattr(value, name)
    return value


def erased(value: Any, *names: str) -> Any:
    """A copy of a frozen value with these string fields erased (its checks not run: an
    erased e-mail is no e-mail address)."""
    clone = object.__new__(type(value))
    clone.__dict__.update(vars(value))
    clone.__dict__.update(dict.fromkeys(names, ERASED))
    return clone
