"""A support case opened from the app ("contact us"), answered and closed by staff.

A case is ``open`` until staff reply (``answered``: the customer has something to read)
and ``closed`` once staff close it; a closed case takes no more replies. Every reply and
the closing are events, so the case's whole conversation is in the log.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import Enum
from typing import ClassVar
from uuid import UUID

from domain.base import LedgerAggregate
from domain.cause import Cause
from domain.errors import AlreadyInThatState, InvalidValue, SupportCaseClosed
from domain.personal_data import ERASED, SubjectKind, erased, personal
from domain.text import safe_text

MAX_SUBJECT = 200
MAX_TEXT = 10_000  # a description or a reply
MAX_RESOLUTION = 2_000


class SupportCaseStatus(Enum):
    OPEN = "open"  # waiting for the vendor
    ANSWERED = "answered"  # staff replied last
    CLOSED = "closed"


@dataclass(frozen=True)
class Reply:
    message: str
    replied_by: str
    replied_at: datetime


def _text(value: str, what: str, most: int, required: bool = True, multiline: bool = True) -> str:
    value = value.strip()
    if (required and not value) or len(value) > most:
        least = 1 if required else 0
        raise InvalidValue(f"a support case needs {what} of {least} to {most:,} characters")
    return safe_text(value, what, most, multiline)  # domain/text.py


class SupportCase(LedgerAggregate):
    class Event(LedgerAggregate.Event):
        public: ClassVar[bool] = True  # its events are published (domain/base.py)

    class SupportCaseOpened(LedgerAggregate.Created):
        account_id: UUID
        subject: str
        description: str
        opened_by: str

        personal_data = (personal(SubjectKind.SUPPORT_CASE, "subject", "description"),)

    class SupportCaseReplied(LedgerAggregate.Event):
        """Staff answered the case."""

        message: str
        replied_by: str

        personal_data = (personal(SubjectKind.SUPPORT_CASE, "message"),)

        def apply(self, case: SupportCase) -> None:
            case.replies.append(Reply(self.message, self.replied_by, self.timestamp))
            case.status = SupportCaseStatus.ANSWERED

    class SupportCaseClosed(LedgerAggregate.Event):
        """Staff closed the case; it takes no more replies."""

        resolution: str
        closed_by: str

        personal_data = (personal(SubjectKind.SUPPORT_CASE, "resolution"),)

        def apply(self, case: SupportCase) -> None:
            case.status = SupportCaseStatus.CLOSED
            case.resolution = self.resolution
            case.closed_by = self.closed_by
            case.closed_at = self.timestamp

    class PersonalDataErased(LedgerAggregate.Event):
        """The case's text was erased: its subject, description, replies and resolution."""

        kind: str  # "support-case"
        subject_id: str  # empty: the case is the subject

        def apply(self, case: SupportCase) -> None:
            case.subject = case.description = ERASED
            case.replies = [erased(reply, "message") for reply in case.replies]
            if case.resolution is not None:
                case.resolution = ERASED

    def __init__(self, account_id: UUID, subject: str, description: str, opened_by: str) -> None:
        self.account_id = account_id
        self.subject = subject
        self.description = description
        self.opened_by = opened_by
        self.status = SupportCaseStatus.OPEN
        self.replies: list[Reply] = []
        self.resolution: str | None = None
        self.closed_by: str | None = None
        self.closed_at: datetime | None = None

    @classmethod
    def open(
        cls, case_id: UUID, account_id: UUID, subject: str, description: str, cause: Cause
    ) -> SupportCase:
        return cls._begin(
            cls.SupportCaseOpened,
            case_id,
            cause,
            account_id=account_id,
            subject=_text(subject, "a subject", MAX_SUBJECT, multiline=False),
            description=_text(description, "a description", MAX_TEXT),
            opened_by=cause.actor_id,
        )

    def reply(self, message: str, cause: Cause) -> None:
        self._refuse_if_closed("reply to")
        self._record(
            self.SupportCaseReplied,
            cause,
            message=_text(message, "a reply", MAX_TEXT),
            replied_by=cause.actor_id,
        )

    def close(self, resolution: str, cause: Cause) -> None:
        if self.status is SupportCaseStatus.CLOSED:
            raise AlreadyInThatState(f"support case {self.id} is already closed")
        self._record(
            self.SupportCaseClosed,
            cause,
            resolution=_text(resolution, "a resolution", MAX_RESOLUTION, required=False),
            closed_by=cause.actor_id,
        )

    def erase_personal_data(self, cause: Cause) -> None:
        cause.require_reason("erasing personal data")
        self._record(
            self.PersonalDataErased, cause, kind=SubjectKind.SUPPORT_CASE.value, subject_id=""
        )

    def _refuse_if_closed(self, action: str) -> None:
        if self.status is SupportCaseStatus.CLOSED:
            raise SupportCaseClosed(f"cannot {action} support case {self.id}: it is closed")
