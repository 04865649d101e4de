"""API tokens. ``TokenOut`` reads the ``ApiToken`` aggregate's attributes."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from service.access.tokens import Role
from service.http.schemas.common import Body, UserId, safe


class TokenIn(Body):
    role: Role
    account_id: UUID | None = None
    user_id: UserId | None = None
    label: Annotated[str, StringConstraints(max_length=100), safe(100)] = ""


class TokenOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: UUID
    role: Role
    account_id: UUID | None
    user_id: str | None
    label: str
    revoked: bool


class TokenIssuedOut(TokenOut):
    token: str = Field(description="The bearer token; shown only in this response")
