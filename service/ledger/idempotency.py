"""Idempotency records: one per (caller, Idempotency-Key), saved with the command's events.

The caller is the account and user of a customer, or the token of anyone else: a user id
is unique only within its account, so keys scoped by it let one tenant's key block
another's (and tell it that key was used). The record's id is derived from the caller
and the key, so the event store's primary key makes the key unique, and because the
record is written in the same transaction as the command's events there is no moment at
which one exists without the other. A retry finds the record and gets the first answer
back (rendered from the versions it names); the same key with a different request is
refused.
"""

from __future__ import annotations

from uuid import NAMESPACE_URL, UUID, uuid5

from domain.base import LedgerAggregate
from domain.cause import Cause
from domain.errors import InvalidValue
from domain.money import Money

MAX_KEY_LENGTH = 255


class IdempotencyKeyReused(InvalidValue):
    code = "idempotency-key-reused"

    def __init__(self) -> None:
        super().__init__(
            "this Idempotency-Key was already used for a different request; use a new key"
        )


def record_id(owner: str, key: str) -> UUID:
    """The record of ``owner``'s ``key`` (``CommandContext.key_owner``). Records written
    before keys had owners were named ``subledger:idempotency:<actor>:<key>``: they stay
    in the log but are not consulted (ADR 0003)."""
    if not key.strip() or len(key) > MAX_KEY_LENGTH:
        raise InvalidValue(f"an Idempotency-Key has 1 to {MAX_KEY_LENGTH} characters")
    return uuid5(NAMESPACE_URL, f"subledger:idempotency-key:{owner}\n{key}")


class IdempotencyRecord(LedgerAggregate):
    class RequestCompleted(LedgerAggregate.Created):
        fingerprint: str
        subject_id: UUID
        subject_version: int
        created: tuple[UUID, ...]
        refund: Money | None

    def __init__(
        self,
        fingerprint: str,
        subject_id: UUID,
        subject_version: int,
        created: tuple[UUID, ...],
        refund: Money | None,
    ) -> None:
        self.fingerprint = fingerprint
        self.subject_id = subject_id
        self.subject_version = subject_version
        self.created = tuple(created)
        self.refund = refund

    @classmethod
    def complete(
        cls,
        key_id: UUID,
        fingerprint: str,
        subject_id: UUID,
        subject_version: int,
        created: tuple[UUID, ...],
        refund: Money | None,
        cause: Cause,
    ) -> IdempotencyRecord:
        return cls._begin(
            cls.RequestCompleted,
            key_id,
            cause,
            fingerprint=fingerprint,
            subject_id=subject_id,
            subject_version=subject_version,
            created=created,
            refund=refund,
        )
