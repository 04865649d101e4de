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


class KeepingCyclic(Cyclic):
    """The same, keeping an object alive per batch, and noting how many of those kept by
    the batches before were frozen (out of every generation the collector walks)."""

    def __init__(self) -> None:
        super().__init__()
        self.kept: list[Node] = []
        self.kept_frozen: list[int] = []

    def apply_batch(self, sql: Sql, batch: Sequence[LoggedEvent]) -> None:
        walked = {id(o) for o in gc.get_objects()}  # generations 0 to 2, not the frozen
        self.kept_frozen.append(sum(id(kept) not in walked for kept in self.kept))
        self.kept.append(Node())
        super().apply_batch(sql, batch)


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


class AskedCollector:
    """The gc module as the runner sees it, noting each function the runner asks for."""

    def __init__(self) -> None:
        self.asked: list[str] = []

    def __getattr__(self, name: str) -> object:
        self.asked.append(name)
        return getattr(gc, name)


def test_a_runner_keeping_up_asks_the_collector_nothing(store, ledger, staff, monkeypatch):
    # gc.get_freeze_count() walks every frozen object: in serve's runner child, its whole
    # start-up heap, twice per live step, cost more than the step itself.
    read_side = ReadSide(store, ledger)
    try:
        runner = runner_for(read_side, Cyclic())
        open_account(ledger, staff)
        runner.catch_up()
        collector = AskedCollector()
        monkeypatch.setattr("projections.runner.gc", collector)
        open_account(ledger, staff)
        applied = runner.catch_up()
    finally:
        read_side.stop()
    assert applied > 0 and collector.asked == []


def test_a_process_that_froze_its_start_keeps_its_heap_frozen_after_a_catch_up(
    store, ledger, staff, thawed
):
    for _ in range(12):  # far enough behind that the catch-up freezes (as the first test)
        open_account(ledger, staff)
    assert ledger.head_position() > 2 * 4
    read_side = ReadSide(store, ledger)
    try:
        projection = KeepingCyclic()
        runner = runner_for(read_side, projection)
        gc.collect()
        gc.freeze()  # as a served process's start-up does (freeze_what_started)
        runner.catch_up()
    finally:
        read_side.stop()
    # The catch-up froze batches of its own: a count would not say so, as frozen objects
    # freed meanwhile (a connection's buffers) leave the count as they go.
    assert max(projection.kept_frozen) > 0
    assert gc.get_freeze_count() > 0
    assert all(ref() is None for ref in projection.dropped)  # the cycles collected first
