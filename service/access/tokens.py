"""API tokens: bearer credentials stored only as SHA-256 hashes.

A token's aggregate id is derived from its hash, so checking a presented token is one
keyed read; the stored hash is then compared in constant time. Issuing and revoking are
events like any other, so the audit trail shows who created or revoked which token.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from enum import Enum
from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.application import AggregateNotFoundError

from domain.base import LedgerAggregate
from domain.cause import Cause
from domain.errors import AlreadyInThatState, InvalidValue, NotFound
from domain.text import safe_text
from projections.lookups import API_TOKENS, found
from service.ledger.application import Ledger, Receipt
from service.ledger.context import CommandContext
from service.ledger.read_models import own_read_models

TOKEN_PREFIX = "sl_"


class Role(Enum):
    ADMIN = "admin"
    USER = "user"
    IDENTITY = "identity"
    BILLING_STAFF = "billing_staff"
    ACCOUNT_MANAGER = "account_manager"
    AUDITOR = "auditor"
    OPERATOR = "operator"
    INTEGRATION = "integration"

    @property
    def is_customer(self) -> bool:
        return self in CUSTOMER_ROLES


CUSTOMER_ROLES = frozenset({Role.ADMIN, Role.USER, Role.IDENTITY})


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def token_id_for_hash(digest: str) -> UUID:
    return uuid5(NAMESPACE_URL, f"subledger:token:{digest}")


@dataclass(frozen=True)
class Principal:
    """Who a request acts as."""

    token_id: UUID
    role: Role
    account_id: UUID | None
    user_id: str | None
    label: str

    @property
    def actor_id(self) -> str:
        return self.user_id or f"{self.role.value}:{self.label}"

    @property
    def caller(self) -> str:
        """Whose Idempotency-Keys the requests carry: a customer's user in its account
        (any of that user's tokens), anyone else's token."""
        if self.account_id is not None:
            return f"account:{self.account_id}:user:{self.user_id}"
        return f"token:{self.token_id}"


class ApiToken(LedgerAggregate):
    class TokenIssued(LedgerAggregate.Created):
        token_hash: str
        role: str
        account_id: UUID | None
        user_id: str | None
        label: str

    class TokenRevoked(LedgerAggregate.Event):
        def apply(self, token: ApiToken) -> None:
            token.revoked = True

    def __init__(
        self, token_hash: str, role: str, account_id: UUID | None, user_id: str | None, label: str
    ) -> None:
        self.token_hash = token_hash
        self.role = Role(role)
        self.account_id = account_id
        self.user_id = user_id
        self.label = label
        self.revoked = False

    def revoke(self, cause: Cause) -> None:
        if self.revoked:
            raise AlreadyInThatState(f"token {self.id} is already revoked")
        self._record(self.TokenRevoked, cause)

    @property
    def principal(self) -> Principal:
        return Principal(self.id, self.role, self.account_id, self.user_id, self.label)


@dataclass(frozen=True)
class IssuedToken:
    token: str  # shown once, never stored ("" for an idempotent replay: it is gone)
    token_id: UUID
    receipt: Receipt


class Tokens:
    def __init__(self, ledger: Ledger) -> None:
        self.ledger = ledger

    def issue(
        self,
        ctx: CommandContext,
        role: Role,
        account_id: UUID | None = None,
        user_id: str | None = None,
        label: str = "",
    ) -> IssuedToken:
        if role.is_customer:
            if account_id is None or user_id is None:
                raise InvalidValue(f"a {role.value} token needs an account and a user")
            self.ledger.account(account_id).user(user_id)
        elif account_id is not None or user_id is not None:
            raise InvalidValue(f"a {role.value} token is not bound to an account or user")
        token = TOKEN_PREFIX + secrets.token_urlsafe(32)
        digest = token_hash(token)
        token_id = token_id_for_hash(digest)
        name = safe_text(label.strip()[:100], "label", 100) or f"{role.value}-{token_id.hex[:8]}"

        def work(cause: Cause) -> list[LedgerAggregate]:
            return [
                ApiToken._begin(
                    ApiToken.TokenIssued,
                    token_id,
                    cause,
                    token_hash=digest,
                    role=role.value,
                    account_id=account_id,
                    user_id=user_id,
                    label=name,
                )
            ]

        receipt = self.ledger.execute(ctx, work, token_id)
        return IssuedToken("" if receipt.replayed else token, receipt.aggregate_id, receipt)

    def verify(self, presented: str) -> Principal | None:
        """The principal of a live token, or None (unknown, malformed or revoked)."""
        if not presented.startswith(TOKEN_PREFIX) or len(presented) > 200:
            return None
        digest = token_hash(presented)
        try:
            # Read, never changed: the cached token itself (fast-forwarded), not a copy.
            api_token: object = self.ledger.repository.get(
                token_id_for_hash(digest), deepcopy_from_cache=False
            )
        except AggregateNotFoundError:
            return None
        if not isinstance(api_token, ApiToken) or api_token.revoked:
            return None
        if not hmac.compare_digest(api_token.token_hash, digest):
            return None
        return api_token.principal

    def revoke(self, ctx: CommandContext, token_id: UUID) -> Receipt:
        def work(cause: Cause) -> list[LedgerAggregate]:
            api_token = self.get(token_id)
            api_token.revoke(cause)
            return [api_token]

        return self.ledger.execute(ctx, work, token_id)

    def is_live(self, token_id: UUID) -> bool:
        """Whether the token exists and is not revoked (read afresh from the store)."""
        try:
            return not self.get(token_id).revoked
        except NotFound:
            return False

    def get(self, token_id: UUID) -> ApiToken:
        try:
            api_token: object = self.ledger.repository.get(token_id)
        except AggregateNotFoundError:
            raise NotFound(f"no token {token_id}") from None
        if not isinstance(api_token, ApiToken):
            raise NotFound(f"no token {token_id}")
        return api_token

    def of_user(self, account_id: UUID, user_id: str) -> list[ApiToken]:
        """The live tokens of one user of an account, oldest first (every one issued
        before the call: the lookup is caught up to the log's head first)."""
        found = [self.get(i) for i in self._issued(account_id, user_id)]
        return [token for token in found if not token.revoked]

    def all(self) -> list[ApiToken]:
        """Every token ever issued, oldest first, revoked ones included."""
        return [self.get(i) for i in self._issued()]

    def _issued(self, *key: object) -> list[UUID]:
        with own_read_models(self.ledger).lookups.reading() as sql:
            return [token_id for token_id, _ in found(sql, API_TOKENS, *key)]
