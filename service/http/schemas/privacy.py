"""The bodies of an erasure request and its answer (ADR 0023)."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Literal

from pydantic import BaseModel, Field, StringConstraints

from service.http.schemas.common import Body, Reason
from service.privacy.erasure import Erasure
from service.privacy.retention import Hold

SubjectId = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9._@-]{1,100}$")]


class ErasureRequestIn(Body):
    kind: Literal["contact", "user", "support-case", "share-link-visitor", "buyer"] = Field(
        description="Whose data: a contact or user of the account (by its id), a support "
        "case's text or a share link's visitors (by the case's or link's id; staff only), "
        "or the account's buyer identity (by the account's id): erased as far as the "
        "retention of its invoices allows, the rest held until it ends (ADR 0027)"
    )
    subject_id: SubjectId
    reason: Reason = Field(description="Why; recorded with the erasure")


class HeldOut(BaseModel):
    subject: str = Field(description="A buyer key kept for the law: buyer:<account id>[:<year>]")
    until: date = Field(description="The day its retention ends and it is destroyed")
    invoices: list[str] = Field(description="The invoices under retention that name it")

    @classmethod
    def of(cls, hold: Hold) -> HeldOut:
        return cls(subject=hold.subject, until=hold.until, invoices=list(hold.invoices))


class ErasureOut(BaseModel):
    subject: str = Field(description="The subject erased, e.g. contact:<account id>:<id>")
    position: int | None = Field(description="The log position of PersonalDataErased")
    keys_destroyed: int
    not_erasable: list[int] = Field(
        description="Log positions holding the subject's data in plaintext (stored before "
        "sealing): this erasure cannot reach them (ADR 0023)"
    )
    erased: list[str] = Field(description="The subjects whose keys were destroyed now")
    held: list[HeldOut] = Field(
        description="What the law keeps for now (legal hold): each destroyed on its day"
    )

    @classmethod
    def of(cls, erasure: Erasure) -> ErasureOut:
        return cls(
            subject=erasure.subject,
            position=erasure.receipt.position,
            keys_destroyed=erasure.keys_destroyed,
            not_erasable=list(erasure.not_erasable),
            erased=list(erasure.erased),
            held=[HeldOut.of(hold) for hold in erasure.held],
        )
