"""The Ledger application: the core (core.py) with one mixin per area of use cases.

Callers import ``Ledger`` (and ``Receipt``, ``fold``, ``period_invoice_id``) from here;
the modules below are where each use case lives.
"""

from __future__ import annotations

from service.ledger.accounts import Accounts
from service.ledger.contracts import Contracts
from service.ledger.core import Receipt, fold
from service.ledger.invoices import period_invoice_id

__all__ = ["Ledger", "Receipt", "fold", "period_invoice_id"]


class Ledger(Accounts, Contracts):
    # The library names an application after its class unless told: the name prefixes
    # its environment variables, so it stays the one it had.
    name = "subledger"
