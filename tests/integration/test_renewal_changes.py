"""Changing the next renewal: quantities named change those lines, 0 drops one, lines not
named are kept; a product not on the plan is added only if the account's edition sells
it (on SQLite and on PostgreSQL)."""

from __future__ import annotations

from uuid import UUID

import pytest

from domain.catalog import Edition
from domain.errors import DomainError, InvalidValue, ProductNotInEdition, UnknownProduct
from domain.money import Money
from service.ledger.application import Ledger
from service.ledger.context import CommandContext
from tests.builders import open_account

ADMIN = CommandContext("ada", "admin")
STAFF = CommandContext("staff-1", "billing_staff")
BOUGHT = {"sales-cloud": 5, "data-storage": 10, "file-storage": 2, "inbox": 5}


def plan(ledger: Ledger, sub_id: UUID) -> dict[str, int]:
    renewal = ledger.subscription(sub_id).renewal
    assert renewal is not None
    return {line.product_code: line.quantity for line in renewal.lines}


def contract(ledger: Ledger, edition: Edition = Edition.PROFESSIONAL) -> UUID:
    account_id = open_account(ledger, STAFF, edition)
    quantities = BOUGHT if edition is Edition.PROFESSIONAL else {"sales-cloud": 5}
    return ledger.start_subscription(ADMIN, account_id, quantities).aggregate_id


def refused(ledger: Ledger, error: type[DomainError], sub_id: UUID, quantities) -> None:
    before = ledger.head_position()
    with pytest.raises(error):
        ledger.schedule_renewal(ADMIN, sub_id, 12, quantities)
    assert ledger.head_position() == before


def test_a_named_quantity_changes_its_line_and_the_others_are_kept(ledger):
    """The issue's case: 6 Sales Cloud seats for 24 months left the add-ons out."""
    sub_id = contract(ledger)
    ledger.schedule_renewal(ADMIN, sub_id, 24, {"sales-cloud": 6})
    assert plan(ledger, sub_id) == {**BOUGHT, "sales-cloud": 6}
    assert ledger.subscription(sub_id).renewal.term_months == 24  # type: ignore[union-attr]

    ledger.schedule_renewal(ADMIN, sub_id, 24, {"inbox": 0})  # 0 drops a line
    assert plan(ledger, sub_id) == {"sales-cloud": 6, "data-storage": 10, "file-storage": 2}
    ledger.schedule_renewal(ADMIN, sub_id, 12)  # no quantities: the lines stay as planned
    assert plan(ledger, sub_id) == {"sales-cloud": 6, "data-storage": 10, "file-storage": 2}


def test_a_product_not_on_the_contract_is_added_when_the_edition_sells_it(ledger):
    """The issue's case: {"service-cloud": 2} replaced the whole plan."""
    sub_id = contract(ledger)
    ledger.schedule_renewal(ADMIN, sub_id, 12, {"service-cloud": 2})
    assert plan(ledger, sub_id) == {**BOUGHT, "service-cloud": 2}
    renewal = ledger.subscription(sub_id).renewal
    assert renewal is not None
    (added,) = [line for line in renewal.lines if line.product_code == "service-cloud"]
    # priced on the next term's first day, 5 January 2027: 100 USD a month (from August 2026)
    assert added.unit_price == Money.of("1200", "USD")


def test_a_product_the_edition_does_not_sell_or_the_catalog_lacks_is_refused(ledger):
    sub_id = contract(ledger, Edition.ESSENTIALS)
    refused(ledger, ProductNotInEdition, sub_id, {"inbox": 1})
    refused(ledger, UnknownProduct, sub_id, {"no-such-product": 1})
    refused(ledger, UnknownProduct, sub_id, {"no-such-product": 0})
    refused(ledger, InvalidValue, sub_id, {"sales-cloud": 0})  # nothing would renew
    assert plan(ledger, sub_id) == {"sales-cloud": 5}


def test_with_no_renewal_scheduled_the_contracts_lines_are_the_base(ledger):
    sub_id = contract(ledger)
    ledger.cancel_renewal(ADMIN, sub_id)
    ledger.schedule_renewal(ADMIN, sub_id, 12, {"data-storage": 0})
    assert plan(ledger, sub_id) == {"sales-cloud": 5, "file-storage": 2, "inbox": 5}
