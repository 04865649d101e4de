"""Read models rebuilt by several processes, each catching its share of the projections
up with the log, hold exactly what one runner builds (service/reads/parallel_rebuild.py)."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from typing import Any

import pytest

from adapters.payments import FakePaymentProvider
from adapters.store import StoreSettings
from projections.projection import is_permanent
from service.demo.history import load_demo
from service.ledger.application import Ledger
from service.reads import parallel_rebuild
from service.reads.parallel_rebuild import GroupFailed, groups, rebuild_in_parallel
from service.reads.read_side import ReadSide


@pytest.fixture
def read_side(store: StoreSettings) -> Iterator[ReadSide]:
    """The demo's history (two customers' years: contracts, invoices, payments, credit
    notes, support cases), every read model caught up by one runner."""
    env = store.eventsourcing_env()
    ledger, _ = load_demo(
        lambda clock: Ledger(env=env, clock=clock, payment_provider=FakePaymentProvider())
    )
    side = ReadSide(store, ledger)
    side.runner.catch_up()
    yield side
    side.stop()
    ledger.close()


def rebuildable(side: ReadSide) -> list[str]:
    return [p.name for p in side.projections if not is_permanent(p)]


def rows(side: ReadSide, names: list[str]) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table of the projections ``names``, sorted."""
    found: dict[str, list[tuple[Any, ...]]] = {}
    with side.readers.transaction() as sql:
        for name in names:
            for table in side.projection(name).tables:
                found[table] = sorted(sql.execute(f"SELECT * FROM {table}").fetchall(), key=repr)
    return found


def test_groups_share_every_projection_out_once_the_costliest_apart() -> None:
    names = ["audit_trail", "account_overview", "book", "billing_agenda", "lookups"]
    two = groups(names, 2)
    assert sorted(n for g in two for n in g) == sorted(names) and len(two) == 2
    assert not any({"book", "account_overview"} <= set(g) for g in two)
    assert groups(names, 1) == [sorted(names, key=lambda n: -parallel_rebuild.COSTS.get(n, 0))]
    assert len(groups(["book", "lookups"], 8)) == 2


def test_two_processes_rebuild_exactly_what_one_runner_built(read_side: ReadSide) -> None:
    names = rebuildable(read_side)
    built = rows(read_side, names)
    assert sum(map(len, built.values())) > 100  # a history, not empty tables
    for name in names:
        read_side.runner.reset(read_side.projection(name))
    assert sum(map(len, rows(read_side, names).values())) == 0
    told: list[int] = []
    processes = rebuild_in_parallel(read_side, names, 2, told.append, min_events=0)
    assert processes == 2
    head = read_side.ledger.head_position()
    assert sum(told) == head * len(names)
    assert rows(read_side, names) == built
    assert all(read_side.positions()[name] == head for name in names)
    assert not read_side.failures()


def test_a_group_whose_process_fails_is_named_and_the_others_finish(
    read_side: ReadSide, monkeypatch: pytest.MonkeyPatch
) -> None:
    names = rebuildable(read_side)
    for name in names:
        read_side.runner.reset(read_side.projection(name))
    monkeypatch.setattr(parallel_rebuild, "WORKER", [sys.executable, "-c", "raise SystemExit(3)"])
    with pytest.raises(GroupFailed) as failed:
        rebuild_in_parallel(read_side, names, 2, min_events=0)
    here, there = groups(names, 2)
    assert all(name in str(failed.value) for name in there)
    head = read_side.ledger.head_position()
    positions = read_side.positions()
    assert all(positions[name] == head for name in here)
    assert all(positions[name] == 0 for name in there)


def test_sqlite_rebuilds_in_two_processes_by_default_postgres_on_every_core(
    store: StoreSettings, monkeypatch: pytest.MonkeyPatch
) -> None:
    for cores in (1, 2, 16):
        monkeypatch.setattr(os, "cpu_count", lambda cores=cores: cores)
        expected = min(2 if store.postgres is None else parallel_rebuild.MAX_JOBS, cores)
        assert parallel_rebuild.default_jobs(store) == expected
