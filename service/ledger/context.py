"""The context every command runs in: who asks, for which request, and why."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from uuid import uuid4

from domain.cause import Cause


def _new_id() -> str:
    return uuid4().hex


@dataclass(frozen=True)
class CommandContext:
    actor_id: str
    actor_role: str
    request_id: str = ""  # empty: each command gets an id of its own
    correlation_id: str = ""
    reason: str | None = None
    # Set by the HTTP layer: the version named by If-Match, and the Idempotency-Key with a
    # fingerprint of the request it came with.
    expected_version: int | None = None
    idempotency_key: str | None = None
    fingerprint: str = ""
    # Whose Idempotency-Key it is: the account and user, or the token (set by the HTTP
    # layer); empty: the actor's. An actor id alone is not unique across accounts.
    caller: str = ""
    # A preview: the command runs its checks and its work, and nothing is saved (no
    # event, no idempotency record); the receipt carries what it would have saved.
    preview: bool = False
    # The quote of the preview this command confirms (service/quotes.py): the command
    # refuses, writing nothing, if the invoices it would issue differ from it.
    expected_quote: str | None = None

    @property
    def key_owner(self) -> str:
        return self.caller or f"actor:{self.actor_id}"

    def cause(self, at: datetime) -> Cause:
        request_id = self.request_id or _new_id()
        return Cause(
            at=at,
            actor_id=self.actor_id,
            actor_role=self.actor_role,
            request_id=request_id,
            correlation_id=self.correlation_id or request_id,
            reason=self.reason,
        )


SYSTEM = CommandContext(actor_id="subledger", actor_role="system")
