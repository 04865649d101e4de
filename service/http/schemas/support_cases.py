"""Support cases. ``SupportCaseOut`` validates ``projections.documents.support_case_document``."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated
from uuid import UUID

from pydantic import BaseModel, Field, StringConstraints

from domain.support_case import SupportCaseStatus
from service.http.schemas.common import Body, Text, safe


class SupportCaseIn(Body):
    subject: Text
    description: Annotated[
        str,
        StringConstraints(strip_whitespace=True, min_length=1, max_length=10_000),
        safe(10_000, multiline=True),
    ]


class SupportCaseReplyIn(Body):
    message: Annotated[
        str,
        StringConstraints(strip_whitespace=True, min_length=1, max_length=10_000),
        safe(10_000, multiline=True),
    ]


class SupportCaseCloseIn(Body):
    resolution: Annotated[
        str,
        StringConstraints(strip_whitespace=True, max_length=2_000),
        safe(2_000, multiline=True),
    ] = Field("", description="What was done, for the customer to read (optional)")


class SupportCaseReplyOut(BaseModel):
    message: str
    replied_by: str
    replied_at: datetime


class SupportCaseOut(BaseModel):
    id: UUID
    version: int
    account_id: UUID
    status: SupportCaseStatus = Field(
        description="open (waiting for the vendor), answered (staff replied last) or closed"
    )
    subject: str
    description: str
    opened_by: str
    opened_at: datetime
    replies: list[SupportCaseReplyOut]
    resolution: str | None
    closed_by: str | None
    closed_at: datetime | None
