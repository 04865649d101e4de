"""What projections keep between the runner's steps (ADR 0005, "Memory across steps").

The hash chain's tip and the retention agenda's key rows are kept from a committed step
to the next, on a real store (SQLite and PostgreSQL), only while the position the step
claims is the one that projection's last committed step left: moved by another runner
(or reset), the projection reads its tables again, and every row stays as a rebuild
from 0 writes it.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest

from projections import hash_chain, retention
from service.reads.read_side import build_projections
from tests.integration.test_projection_step import (
    assert_each_event_once,
    read_side,  # noqa: F401 (a fixture)
    runner_of,
)

# What each projection reads of its own tables in a step, by the function that reads it.
READS = {
    "hash_chain": (hash_chain, "tip"),
    "retention": (retention, "_keys"),
}


def counting(monkeypatch: pytest.MonkeyPatch) -> Counter[str]:
    """How many times each projection reads its rows back."""
    reads: Counter[str] = Counter()
    for name, (module, function) in READS.items():
        inner = getattr(module, function)

        def read(*args: Any, name: str = name, inner: Any = inner) -> Any:
            reads[name] += 1
            return inner(*args)

        monkeypatch.setattr(module, function, read)
    return reads


def add_licenses(ledger: Any, admin: Any, subscription: Any) -> int:
    ledger.add_licenses(admin, subscription, "sales-cloud", 1)
    return ledger.head_position()


@pytest.fixture
def subscription(ledger: Any, staff: Any, admin: Any) -> Any:
    from tests.builders import open_account

    account_id = open_account(ledger, staff)
    ledger.set_payment_method(admin, account_id, "pm_card_visa")
    return ledger.start_subscription(admin, account_id, {"sales-cloud": 10}).aggregate_id


def test_a_runner_keeps_what_it_wrote_from_one_committed_step_to_the_next(
    read_side,  # noqa: F811
    ledger,
    admin,
    subscription,
    monkeypatch,
):
    runner = runner_of(read_side, build_projections(ledger))
    add_licenses(ledger, admin, subscription)
    runner.catch_up()
    reads = counting(monkeypatch)

    for _ in range(3):
        add_licenses(ledger, admin, subscription)
        assert runner.catch_up() > 0

    assert reads == Counter()


def test_a_position_moved_by_another_runner_makes_the_projection_read_its_rows_again(
    read_side,  # noqa: F811
    ledger,
    admin,
    subscription,
    monkeypatch,
):
    """Without the rule, the first runner would seal after the tip it remembers (a break
    in the chain) and fold onto key rows the other has since changed."""
    first = runner_of(read_side, build_projections(ledger))
    add_licenses(ledger, admin, subscription)
    first.catch_up()
    other = runner_of(read_side, build_projections(ledger))
    add_licenses(ledger, admin, subscription)
    other.catch_up()  # moves every position past what the first remembers
    reads = counting(monkeypatch)

    head = add_licenses(ledger, admin, subscription)
    first.catch_up()

    assert set(reads) == set(READS)
    reads.clear()
    head = add_licenses(ledger, admin, subscription)
    first.catch_up()
    assert reads == Counter()  # its own step committed: kept again
    assert first.positions() == dict.fromkeys(read_side.names, head)
    monkeypatch.undo()
    read_side.runner.catch_up()
    assert_each_event_once(read_side, head)


def test_a_projection_reset_and_rebuilt_elsewhere_is_read_again(
    read_side,  # noqa: F811
    ledger,
    admin,
    subscription,
    monkeypatch,
):
    """Dropped and rebuilt from 0 by another runner: the position differs from the one
    this runner left, so it reads the rebuilt rows."""
    first = runner_of(read_side, build_projections(ledger))
    add_licenses(ledger, admin, subscription)
    first.catch_up()
    other = runner_of(read_side, build_projections(ledger))
    other.reset(read_side.projection("retention"))
    add_licenses(ledger, admin, subscription)
    other.catch_up()
    reads = counting(monkeypatch)

    head = add_licenses(ledger, admin, subscription)
    first.catch_up()

    assert reads["retention"] == 1
    monkeypatch.undo()
    read_side.runner.catch_up()
    assert_each_event_once(read_side, head)
