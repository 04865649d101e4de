"""A support case opened from the app ("contact us")."""

from __future__ import annotations

from uuid import UUID

from domain.base import LedgerAggregate
from domain.cause import Cause
from domain.errors import InvalidValue
from domain.text import safe_text


class SupportCase(LedgerAggregate):
    class SupportCaseOpened(LedgerAggregate.Created):
        account_id: UUID
        subject: str
        description: str
        opened_by: str

    def __init__(self, account_id: UUID, subject: str, description: str, opened_by: str) -> None:
        self.account_id = account_id
        self.subject = subject
        self.description = description
        self.opened_by = opened_by

    @classmethod
    def open(
        cls, case_id: UUID, account_id: UUID, subject: str, description: str, cause: Cause
    ) -> SupportCase:
        subject, description = subject.strip(), description.strip()
        if not subject or len(subject) > 200:
            raise InvalidValue("a support case needs a subject of 1 to 200 characters")
        if not description or len(description) > 10_000:
            raise InvalidValue("a support case needs a description of 1 to 10,000 characters")
        subject = safe_text(subject, "subject", 200)
        description = safe_text(description, "description", 10_000, multiline=True)
        return cls._begin(
            cls.SupportCaseOpened,
            case_id,
            cause,
            account_id=account_id,
            subject=subject,
            description=description,
            opened_by=cause.actor_id,
        )
