"""Lookups: which aggregates of a kind exist, by a key of their creation event, in the
order they were created: the API tokens of a user, the share links of an invoice, every
webhook endpoint. Each list was a scan of the log by event type.

A row is written once, from the creation event, and never changed: what an aggregate
is now (a token revoked, an endpoint deleted) is read from the aggregate itself, by its
id, as before. So a revoked token is refused at once, whatever this table says.

The kinds are named by their creation event's qualified name (``ApiToken.TokenIssued``),
not its module: the service's aggregates moved modules once (ADR 0020), and the topics
of events stored before keep the old names.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from uuid import UUID

from projections.projection import LoggedEvent
from projections.store import Sql

TABLE = "lookups"


@dataclass(frozen=True)
class Lookup:
    kind: str
    created: str  # the qualified name of the aggregate's creation event
    key: tuple[str, ...]  # the fields of that event that key it ("" for none)

    def key_of(self, event: object) -> str:
        return " ".join(str(getattr(event, field)) for field in self.key)


API_TOKENS = Lookup("api_token", "ApiToken.TokenIssued", ("account_id", "user_id"))
SHARE_LINKS = Lookup("share_link", "ShareLink.ShareLinkCreated", ("invoice_id",))
WEBHOOK_ENDPOINTS = Lookup("webhook_endpoint", "WebhookEndpoint.Registered", ())
LOOKUPS = (API_TOKENS, SHARE_LINKS, WEBHOOK_ENDPOINTS)
_BY_NAME = {lookup.created: lookup for lookup in LOOKUPS}


class Lookups:
    name = "lookups"
    version = 1
    tables: tuple[str, ...] = (TABLE,)

    def create(self, sql: Sql) -> None:
        sql.execute(
            f"""CREATE TABLE IF NOT EXISTS {TABLE} (
                kind TEXT NOT NULL,
                lookup_key TEXT NOT NULL,
                aggregate_id TEXT NOT NULL,
                position BIGINT NOT NULL,
                PRIMARY KEY (kind, lookup_key, aggregate_id)
            )"""
        )
        sql.execute(
            f"CREATE INDEX IF NOT EXISTS {TABLE}_position ON {TABLE} (kind, lookup_key, position)"
        )
        sql.execute(f"CREATE INDEX IF NOT EXISTS {TABLE}_kind ON {TABLE} (kind, position)")

    def apply(self, sql: Sql, logged: LoggedEvent) -> None:
        self.apply_batch(sql, [logged])

    def apply_batch(self, sql: Sql, batch: Sequence[LoggedEvent]) -> None:
        rows = []
        for logged in batch:
            # Only creation events of the kinds kept are decoded.
            lookup = _BY_NAME.get(logged.notification.topic.partition(":")[2])
            if lookup is not None:
                event = logged.event
                key = lookup.key_of(event)
                rows.append((lookup.kind, key, str(event.originator_id), logged.position))
        sql.insert_many(TABLE, ("kind", "lookup_key", "aggregate_id", "position"), rows)

    def forget(self) -> None:
        """Nothing is kept in memory."""


def found(sql: Sql, lookup: Lookup, *key: object, after: int = 0) -> list[tuple[UUID, int]]:
    """The aggregates of ``lookup``'s kind (with this key, if given) created after log
    position ``after``, oldest first, with the positions of their creation."""
    where, params = "kind = ? AND position > ?", [lookup.kind, after]
    if key:
        where += " AND lookup_key = ?"
        params.append(" ".join(str(part) for part in key))
    rows = sql.execute(
        f"SELECT aggregate_id, position FROM {TABLE} WHERE {where} ORDER BY position", params
    ).fetchall()
    return [(UUID(str(i)), int(p)) for i, p in rows]
