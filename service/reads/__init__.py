"""The read side: projections wired to the ledger, the event feed, and points in time."""
