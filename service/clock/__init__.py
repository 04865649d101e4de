"""The test clock (ADR 0015): a clock kept in the ledger's own log."""
