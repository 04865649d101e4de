"""The subscription ledger's domain: aggregates, events, value objects and rules.

Pure: it imports nothing but the standard library and ``eventsourcing.domain``.
"""
