"""A runner far behind freezes what each committed batch leaves alive (the projections'
caches), and thaws it when its catch-up ends (ADR 0031, "A catch-up far behind")."""

from __future__ import annotations

import gc
import weakref
from collections.abc import Iterator, Sequence

import pytest

from projections.projection import LoggedEvent
from projections.runner import ProjectionRunner
from projections.store import Sql
from service.reads.read_side import ReadSide
from tests.builders import open_account


class Node:
    """An object in a reference cycle: only the collector frees it."""

    def __init__(self) -> None:
        self.me = self


class Cyclic:
    """A projection that keeps nothing in tables and leaves a garbage cycle per batch,
    and notes how many objects were frozen while it applied each batch."""

    name = "cyclic"
    version = 1
    tables: tuple[str, ...] = ()

    def __init__(self) -> None:
        self.dropped: list[weakref.ref[Node]] = []
        self.frozen: list[int] = []

    def create(self, sql: Sql) -> None:
        pass

    def apply(self, sql: Sql, logged: LoggedEvent) -> None:
        self.apply_batch(sql, [logged])

    def apply_batch(self, sql: Sql, batch: Sequence[LoggedEvent]) -> None:
        self.frozen.append(gc.get_freeze_count())
        self.dropped.append(weakref.ref(Node()))  # garbage at once, in a cycle

    def forget(self) -> None:
        pass


@pytest.fixture
def thawed() -> Iterator[None]:
    gc.unfreeze()  # whatever the process froze before (none in the tests' processes)
    yield
    gc.unfreeze()


def runner_for(read_side: ReadSide, projection: Cyclic) -> ProjectionRunner:
    runner = ProjectionRunner(
        read_side.store,
        read_side.read_log,
        read_side.ledger.head_position,
        [projection],
        batch_size=2,
        catch_up_batch_size=4,
    )
    runner.prepare()
    return runner


def test_a_catch_up_far_behind_freezes_each_batchs_survivors_then_thaws_them(
    store, ledger, staff, thawed
):
    for _ in range(12):
        open_account(ledger, staff)
    assert ledger.head_position() > 2 * 4
    read_side = ReadSide(store, ledger)
    try:
        projection = Cyclic()
        runner_for(read_side, projection).catch_up()
    finally:
        read_side.stop()
    # The first batch is read small (nothing frozen yet); the later ones, read far behind,
    # find the survivors of the batches before frozen.
    assert projection.frozen[0] == 0 and max(projection.frozen) > 0
    # Thawed at the end: no collection walks them any more while frozen, and the cycles
    # left meanwhile are found by the next one, not kept for the process's life.
    assert gc.get_freeze_count() == 0
    gc.collect()
    assert all(ref() is None for ref in projection.dropped)


def test_a_runner_keeping_up_freezes_nothing(store, ledger, staff, thawed):
    read_side = ReadSide(store, ledger)
    try:
        projection = Cyclic()
        runner = runner_for(read_side, projection)
        open_account(ledger, staff)
        runner.catch_up()
        before = len(projection.frozen)
        open_account(ledger, staff)
        runner.catch_up()
    finally:
        read_side.stop()
    assert projection.frozen[before:] and set(projection.frozen[before:]) == {0}


def test_a_process_that_froze_its_start_keeps_its_heap_frozen_after_a_catch_up(
    store, ledger, staff, thawed
):
    for _ in range(12):  # far enough behind that the catch-up freezes (as the first test)
        open_account(ledger, staff)
    assert ledger.head_position() > 2 * 4
    read_side = ReadSide(store, ledger)
    try:
        projection = Cyclic()
        runner = runner_for(read_side, projection)
        gc.collect()
        gc.freeze()  # as a served process's start-up does (freeze_what_started)
        at_start = gc.get_freeze_count()
        runner.catch_up()
    finally:
        read_side.stop()
    assert max(projection.frozen) > at_start  # the catch-up froze batches of its own
    assert gc.get_freeze_count() > 0
    assert all(ref() is None for ref in projection.dropped)  # the cycles collected first
