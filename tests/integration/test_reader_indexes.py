"""Indexes only readers use are made when a catch-up reaches the log's end, not kept up
row by row while a projection is rebuilt from 0 (ADR 0032, "Readers' indexes last")."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from adapters.store import StoreSettings
from projections.audit_trail import TABLE as AUDIT
from projections.audit_trail import AuditFilter, audit_rows
from projections.book import TABLES as BOOK_TABLES
from projections.projection import reader_indexes
from projections.runner import ProjectionRunner
from projections.store import Sql
from service.ledger.application import Ledger
from service.reads.read_side import ReadSide
from tests.builders import open_account

AUDIT_FOR_READERS = {f"{AUDIT}_{name}" for name in ("account", "type", "actor", "recorded")}
BOOK_FOR_READERS = {f"{t.name}_{kind}" for t in BOOK_TABLES for kind in ("as_of", "closed_at")}


def index_names(sql: Sql, tables: set[str]) -> set[str]:
    marks = ", ".join("?" * len(tables))
    if sql.dialect == "postgres":
        query = (
            "SELECT indexname FROM pg_indexes WHERE schemaname = current_schema()"
            f" AND tablename IN ({marks})"
        )
    else:
        query = f"SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name IN ({marks})"
    return {row[0] for row in sql.execute(query, tuple(tables)).fetchall()}


@pytest.fixture
def read_side(store: StoreSettings, ledger: Ledger) -> Iterator[ReadSide]:
    side = ReadSide(store, ledger)
    yield side
    side.stop()


def far_behind(side: ReadSide, *names: str) -> ProjectionRunner:
    """A runner of these projections whose catch-ups read full batches (of 4)."""
    runner = ProjectionRunner(
        side.store,
        side.read_log,
        side.ledger.head_position,
        [side.projection(name) for name in names],
        batch_size=2,
        catch_up_batch_size=4,
    )
    runner.prepare()
    return runner


def named(projection: Any) -> set[str]:
    """The names of a projection's indexes for readers (``CREATE INDEX IF NOT EXISTS x``)."""
    return {statement.split()[5] for statement in reader_indexes(projection)}


def test_the_overviews_indexes_are_all_for_readers_and_made_at_the_end(read_side, ledger, staff):
    # Its fold writes rows by id and reads none of its tables: none is needed before.
    for _ in range(3):
        open_account(ledger, staff)
    overview = read_side.projection("account_overview")
    runner = far_behind(read_side, "account_overview")
    runner.reset(overview)
    tables = set(overview.tables)
    with read_side.readers.transaction() as sql:
        before = index_names(sql, tables)
    runner.catch_up()
    with read_side.readers.transaction() as sql:
        after = index_names(sql, tables)
    assert named(overview) and not before & named(overview)
    assert named(overview) <= after


def test_a_rebuild_from_0_makes_the_readers_indexes_once_it_reaches_the_logs_end(
    read_side, ledger, staff, admin, monkeypatch
):
    for _ in range(4):
        ledger.set_payment_method(admin, open_account(ledger, staff), "pm_card_visa")
    book_tables = {t.name for t in BOOK_TABLES}
    audit = read_side.projection("audit_trail")
    runner = far_behind(read_side, "audit_trail", "book")
    runner.reset(audit)
    runner.reset(read_side.projection("book"))
    seen: list[set[str]] = []
    apply_batch = audit.apply_batch  # type: ignore[attr-defined]

    def noting(sql: Sql, batch: Any) -> None:
        seen.append(index_names(sql, {AUDIT, *book_tables}))
        apply_batch(sql, batch)

    monkeypatch.setattr(audit, "apply_batch", noting)
    runner.catch_up()

    assert len(seen) > 2  # several batches, each without the readers' indexes
    assert all(not (names & (AUDIT_FOR_READERS | BOOK_FOR_READERS)) for names in seen)
    assert all(f"{AUDIT}_aggregate" in names for names in seen)  # the fold's own: kept
    assert all({f"{t}_open" for t in book_tables} <= names for names in seen)
    with read_side.readers.transaction() as sql:
        made = index_names(sql, {AUDIT, *book_tables})
        assert made >= AUDIT_FOR_READERS | BOOK_FOR_READERS
        # and the readers read through them as before
        actors = {row["actor"] for row in audit_rows(sql, AuditFilter(actor=admin.actor_id), 50)}
    assert actors == {admin.actor_id}
    assert named(audit) == AUDIT_FOR_READERS
    assert named(read_side.projection("book")) == BOOK_FOR_READERS


def test_indexes_dropped_by_a_rebuild_elsewhere_are_made_again_at_the_end(
    read_side, ledger, staff, admin
):
    for _ in range(3):
        open_account(ledger, staff)
    runner = far_behind(read_side, "audit_trail")
    runner.catch_up()  # at the end: the readers' indexes made, and noted as made
    elsewhere = far_behind(read_side, "audit_trail")
    elsewhere.reset(read_side.projection("audit_trail"))  # its table dropped, made again
    with read_side.readers.transaction() as sql:
        assert not index_names(sql, {AUDIT}) & AUDIT_FOR_READERS

    runner.catch_up()  # far behind again: makes them again, though it had made them

    with read_side.readers.transaction() as sql:
        assert index_names(sql, {AUDIT}) >= AUDIT_FOR_READERS
