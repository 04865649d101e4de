"""The one eventsourcing Application (the Ledger): its use cases, the context they run in,
and what guards them (idempotency, per-subject locks)."""
