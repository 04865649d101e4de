"""Share links: an invoice opened without logging in, by whoever holds the link.

The link's secret is random, shown once, and stored only as a SHA-256 hash from which
the link's id is derived (as API tokens are, ``service/access/tokens.py``): opening a link is
one keyed read and a constant-time comparison. Openings are recorded at most once an
hour per link, and limited per link and per address (``share_link_openings``).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError

from domain.base import LedgerAggregate
from domain.cause import Cause
from domain.errors import NotFound
from domain.invoice import Invoice
from domain.share_link import DEFAULT_DAYS, ShareLink, share_link_id
from projections.lookups import SHARE_LINKS, found
from service.ledger.application import Ledger, Receipt
from service.ledger.context import CommandContext
from service.ledger.errors import ConcurrencyConflict
from service.ledger.read_models import own_read_models
from service.sharing.openings import Openings

TOKEN_PREFIX = "sh_"
MAX_TOKEN_LENGTH = 100
OPEN_ATTEMPTS = 3  # openings of one link at once conflict; each is retried


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True)
class CreatedLink:
    token: str  # shown once, never stored ("" for an idempotent replay: it is gone)
    link_id: UUID
    receipt: Receipt


class ShareLinks:
    def __init__(self, ledger: Ledger, openings: Openings | None = None) -> None:
        """``openings``: the process's (the HTTP app keeps one); without, a new one."""
        self.ledger = ledger
        self.openings = openings or Openings()

    def create(
        self, ctx: CommandContext, invoice_id: UUID, days: int = DEFAULT_DAYS
    ) -> CreatedLink:
        invoice = self.ledger.invoice(invoice_id)
        token = TOKEN_PREFIX + secrets.token_urlsafe(32)
        digest = token_hash(token)

        def work(cause: Cause) -> list[LedgerAggregate]:
            return [ShareLink.create(digest, invoice.id, invoice.account_id, days, cause)]

        receipt = self.ledger.execute(ctx, work, share_link_id(digest))
        return CreatedLink("" if receipt.replayed else token, receipt.aggregate_id, receipt)

    def of_invoice(self, invoice_id: UUID) -> list[ShareLink]:
        """The invoice's links, oldest first (the lookup caught up to the log's head)."""
        with own_read_models(self.ledger).lookups.reading() as sql:
            ids = [link_id for link_id, _ in found(sql, SHARE_LINKS, invoice_id)]
        return [self._load(link_id) for link_id in ids]

    def get(self, invoice_id: UUID, link_id: UUID, version: int | None = None) -> ShareLink:
        link = self._load(link_id, version)
        if link.invoice_id != invoice_id:
            raise NotFound(f"no share link {link_id}")
        return link

    def revoke(self, ctx: CommandContext, invoice_id: UUID, link_id: UUID) -> Receipt:
        def work(cause: Cause) -> list[LedgerAggregate]:
            link = self.get(invoice_id, link_id)
            link.revoke(cause)
            return [link]

        return self.ledger.execute(ctx, work, link_id)

    def open(self, ctx: CommandContext, token: str, client_address: str, document: str) -> Invoice:
        """The shared invoice, if ``token`` names a live link; the opening is recorded, or
        counted for the link's next recorded one. Unknown, malformed, expired and revoked
        links are all simply not found; too many openings raise ``TooManyOpenings``."""
        link_id = self._verified(token)
        self.openings.admit(link_id, client_address, self.ledger.clock.now())
        recorded, included = False, 0

        def work(cause: Cause) -> list[LedgerAggregate]:
            nonlocal recorded, included
            link = self._load(link_id)
            included = self.openings.unrecorded(link_id)
            recorded = link.record_access(client_address, document, cause, included)
            return [link] if recorded else []

        for attempt in range(1, OPEN_ATTEMPTS + 1):
            try:
                self.ledger.execute(ctx, work, link_id)
                break
            except ConcurrencyConflict:
                if attempt == OPEN_ATTEMPTS:
                    raise
        if recorded:
            self.openings.recorded(link_id, included)
        else:
            self.openings.not_recorded(link_id)
        return self.ledger.invoice(self._load(link_id).invoice_id)

    def _verified(self, token: str) -> UUID:
        missing = NotFound("no such shared invoice")
        if not token.startswith(TOKEN_PREFIX) or len(token) > MAX_TOKEN_LENGTH:
            raise missing
        digest = token_hash(token)
        try:
            link = self._load(share_link_id(digest))
        except NotFound:
            raise missing from None
        if not hmac.compare_digest(link.token_hash, digest):
            raise missing
        return link.id

    def _load(self, link_id: UUID, version: int | None = None) -> ShareLink:
        try:
            link: object = self.ledger.repository.get(link_id, version=version)
        except AggregateNotFoundError:
            raise NotFound(f"no share link {link_id}") from None
        if not isinstance(link, ShareLink):
            raise NotFound(f"no share link {link_id}")
        return link
