"""Read models built from the event log (account overview, invoices, audit trail)."""
