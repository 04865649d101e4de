"""The context every command runs in: who asks, for which request, and why."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from uuid import uuid4

from domain.cause import Cause


def _new_id() -> str:
    return uuid4().hex


@dataclass(frozen=True)
class CommandContext:
    actor_id: str
    actor_role: str
    request_id: str = field(default_factory=_new_id)
    correlation_id: str = ""
    reason: str | None = None

    def cause(self, at: datetime) -> Cause:
        return Cause(
            at=at,
            actor_id=self.actor_id,
            actor_role=self.actor_role,
            request_id=self.request_id,
            correlation_id=self.correlation_id or self.request_id,
            reason=self.reason,
        )


SYSTEM = CommandContext(actor_id="subledger", actor_role="system")
