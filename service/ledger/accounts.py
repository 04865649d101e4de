"""Use cases on an account: its details, users, contacts, edition, and support cases."""

from __future__ import annotations

from collections.abc import Callable
from uuid import UUID, uuid4

from domain.account import Account, BillingDetails, Contact, User
from domain.base import LedgerAggregate
from domain.catalog import Edition
from domain.cause import Cause
from domain.support_case import SupportCase
from service.ledger.context import CommandContext
from service.ledger.core import Receipt
from service.ledger.loading import Loading


class Accounts(Loading):
    """Use cases on an account and its support cases (mixed into ``Ledger``)."""

    def open_account(
        self,
        ctx: CommandContext,
        name: str,
        edition: Edition,
        currency: str,
        billing: BillingDetails,
        administrator: User,
        account_id: UUID | None = None,
    ) -> Receipt:
        new_id = account_id or uuid4()

        def work(cause: Cause) -> list[LedgerAggregate]:
            return [Account.open(new_id, name, edition, currency, billing, administrator, cause)]

        return self.execute(ctx, work, new_id)

    def _on_account(
        self, ctx: CommandContext, account_id: UUID, act: Callable[[Account, Cause], None]
    ) -> Receipt:
        def work(cause: Cause) -> list[LedgerAggregate]:
            account = self.account(account_id)
            act(account, cause)
            return [account]

        return self.execute(ctx, work, account_id)

    def change_billing_details(
        self, ctx: CommandContext, account_id: UUID, billing: BillingDetails
    ) -> Receipt:
        return self._on_account(ctx, account_id, lambda a, c: a.change_billing_details(billing, c))

    def set_payment_method(self, ctx: CommandContext, account_id: UUID, reference: str) -> Receipt:
        return self._on_account(ctx, account_id, lambda a, c: a.set_payment_method(reference, c))

    def add_contact(
        self, ctx: CommandContext, account_id: UUID, contact: Contact, contact_id: str | None = None
    ) -> Receipt:
        new_id = contact_id or uuid4().hex
        return self._on_account(ctx, account_id, lambda a, c: a.add_contact(new_id, contact, c))

    def change_contact(
        self, ctx: CommandContext, account_id: UUID, contact_id: str, contact: Contact
    ) -> Receipt:
        return self._on_account(
            ctx, account_id, lambda a, c: a.change_contact(contact_id, contact, c)
        )

    def remove_contact(self, ctx: CommandContext, account_id: UUID, contact_id: str) -> Receipt:
        return self._on_account(ctx, account_id, lambda a, c: a.remove_contact(contact_id, c))

    def add_user(self, ctx: CommandContext, account_id: UUID, user: User) -> Receipt:
        return self._on_account(ctx, account_id, lambda a, c: a.add_user(user, c))

    def grant_manage_billing(self, ctx: CommandContext, account_id: UUID, user_id: str) -> Receipt:
        return self._on_account(ctx, account_id, lambda a, c: a.grant_manage_billing(user_id, c))

    def revoke_manage_billing(self, ctx: CommandContext, account_id: UUID, user_id: str) -> Receipt:
        return self._on_account(ctx, account_id, lambda a, c: a.revoke_manage_billing(user_id, c))

    def assign_identity_license(
        self, ctx: CommandContext, account_id: UUID, user_id: str
    ) -> Receipt:
        return self._on_account(ctx, account_id, lambda a, c: a.assign_identity_license(user_id, c))

    def release_identity_license(
        self, ctx: CommandContext, account_id: UUID, user_id: str
    ) -> Receipt:
        return self._on_account(
            ctx, account_id, lambda a, c: a.release_identity_license(user_id, c)
        )

    def request_upgrade(
        self, ctx: CommandContext, account_id: UUID, edition: Edition, note: str = ""
    ) -> Receipt:
        return self._on_account(ctx, account_id, lambda a, c: a.request_upgrade(edition, note, c))

    def change_edition(self, ctx: CommandContext, account_id: UUID, edition: Edition) -> Receipt:
        return self._on_account(ctx, account_id, lambda a, c: a.change_edition(edition, c))

    def open_support_case(
        self, ctx: CommandContext, account_id: UUID, subject: str, description: str
    ) -> Receipt:
        case_id = uuid4()

        def work(cause: Cause) -> list[LedgerAggregate]:
            self.account(account_id)
            return [SupportCase.open(case_id, account_id, subject, description, cause)]

        return self.execute(ctx, work, case_id)

    def _on_support_case(
        self, ctx: CommandContext, case_id: UUID, act: Callable[[SupportCase, Cause], None]
    ) -> Receipt:
        def work(cause: Cause) -> list[LedgerAggregate]:
            case = self.support_case(case_id)
            act(case, cause)
            return [case]

        return self.execute(ctx, work, case_id)

    def reply_to_support_case(self, ctx: CommandContext, case_id: UUID, message: str) -> Receipt:
        """Staff answer a case (refused once it is closed)."""
        return self._on_support_case(ctx, case_id, lambda c, cause: c.reply(message, cause))

    def close_support_case(
        self, ctx: CommandContext, case_id: UUID, resolution: str = ""
    ) -> Receipt:
        return self._on_support_case(ctx, case_id, lambda c, cause: c.close(resolution, cause))
