"""Money moved through the payment provider, then recorded in the ledger."""
