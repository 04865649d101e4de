"""The bodies of an erasure request and its answer (ADR 0023)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, Field, StringConstraints

from service.http.schemas.common import Body, Reason
from service.privacy.erasure import Erasure

SubjectId = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9._@-]{1,100}$")]


class ErasureRequestIn(Body):
    kind: Literal["contact", "user", "support-case", "share-link-visitor"] = Field(
        description="Whose data: a contact or user of the account (by its id), a support "
        "case's text or a share link's visitors (by the case's or link's id; staff only)"
    )
    subject_id: SubjectId
    reason: Reason = Field(description="Why; recorded with the erasure")


class ErasureOut(BaseModel):
    subject: str = Field(description="The subject erased, e.g. contact:<account id>:<id>")
    position: int | None = Field(description="The log position of PersonalDataErased")
    keys_destroyed: int
    not_erasable: list[int] = Field(
        description="Log positions holding the subject's data in plaintext (stored before "
        "sealing): this erasure cannot reach them (ADR 0023)"
    )

    @classmethod
    def of(cls, erasure: Erasure) -> ErasureOut:
        return cls(
            subject=erasure.subject,
            position=erasure.receipt.position,
            keys_destroyed=erasure.keys_destroyed,
            not_erasable=list(erasure.not_erasable),
        )
