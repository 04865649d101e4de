"""Removing a user from an account: nothing the user held outlives the removal.

One command, one transaction: the account records the removal (with the user's Manage
Billing, and the identity license released first if the user had one), every seat
assigned to the user is unassigned, and every live API token of the user is revoked.
A token left alive would still authenticate as a user the account no longer has.
"""

from __future__ import annotations

from uuid import UUID

from domain import catalog
from domain.base import LedgerAggregate
from domain.cause import Cause
from domain.errors import NotFound
from service.access.tokens import Tokens
from service.ledger.application import Ledger, Receipt
from service.ledger.context import CommandContext


def remove_user(ledger: Ledger, ctx: CommandContext, account_id: UUID, user_id: str) -> Receipt:
    tokens = Tokens(ledger)

    def work(cause: Cause) -> list[LedgerAggregate]:
        account = ledger.account(account_id)
        account.remove_user(user_id, cause)
        changed: list[LedgerAggregate] = [account]
        for code in sorted(catalog.PRODUCTS):
            if not catalog.product(code).per_seat:
                continue
            try:
                lic = ledger.license(account_id, code)
            except NotFound:
                continue
            if user_id in lic.assigned:
                lic.unassign(user_id, cause)
                changed.append(lic)
        for token in tokens.of_user(account_id, user_id):
            token.revoke(cause)
            changed.append(token)
        return changed

    return ledger.execute(ctx, work, account_id)
