"""Who caused a change, why, and when the ledger learned of it.

Every command takes a ``Cause``. Its ``at`` is the recorded time (from the
application's clock port, passed in so that the domain stays free of I/O); the rest
is the provenance stored on every event: actor, role, request and correlation ids, and
the reason that staff corrections must give. They are checked here, where every
command passes (domain/text.py): the ids hold no control character, the reason is
safe text. ``Provenance`` is what was stored, read back as it is.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date, datetime

from domain.errors import InvalidValue, ReasonRequired
from domain.text import refuse_control_characters, safe_text

REASON_LIMIT = 500


@dataclass(frozen=True)
class Provenance:
    actor_id: str
    actor_role: str
    request_id: str
    correlation_id: str
    reason: str | None = None


@dataclass(frozen=True)
class Cause:
    at: datetime
    actor_id: str
    actor_role: str
    request_id: str
    correlation_id: str
    reason: str | None = None

    def __post_init__(self) -> None:
        if self.at.tzinfo is None:
            raise InvalidValue("recorded time must be timezone-aware")
        for name in ("actor_id", "actor_role", "request_id", "correlation_id"):
            refuse_control_characters(getattr(self, name), name.replace("_", " "))
        if self.reason is not None and not self.reason.strip():
            object.__setattr__(self, "reason", None)
        if self.reason is not None:
            safe_text(self.reason, "reason", REASON_LIMIT)

    @property
    def today(self) -> date:
        return self.at.date()

    @property
    def provenance(self) -> Provenance:
        return Provenance(
            self.actor_id, self.actor_role, self.request_id, self.correlation_id, self.reason
        )

    def require_reason(self, action: str) -> str:
        if self.reason is None:
            raise ReasonRequired(action)
        return self.reason

    def with_reason(self, reason: str | None) -> Cause:
        return replace(self, reason=reason)
