"""The hash chain verified in spans, each in a process of its own, finds what one pass
finds: the same first break, the same count of events checked before it, whichever span
the tampering falls in, a boundary's seal included (ADR 0012)."""

from __future__ import annotations

from collections.abc import Iterator
from itertools import pairwise

import pytest

from adapters.store import StoreSettings
from service.audit.parallel_verification import spans, verify_in_parallel
from service.audit.verification import BreakKind, ChainVerifier, Verification
from service.ledger.application import Ledger
from service.reads.read_side import ReadSide
from tests.builders import open_account
from tests.tamper import RawEventStore


@pytest.fixture
def read_side(store: StoreSettings, ledger: Ledger) -> Iterator[ReadSide]:
    side = ReadSide(store, ledger)
    yield side
    side.stop()


@pytest.fixture
def history(ledger: Ledger, read_side: ReadSide, staff, admin) -> int:
    """Four accounts with a contract and changes (about forty events), all sealed."""
    for _ in range(4):
        account_id = open_account(ledger, staff)
        sub_id = ledger.start_subscription(admin, account_id, {"sales-cloud": 5}).aggregate_id
        ledger.add_licenses(admin, sub_id, "sales-cloud", 2)
        ledger.set_payment_method(admin, account_id, "pm_card_visa")
    read_side.runner.catch_up()
    return ledger.head_position()


def both(store: StoreSettings, read_side: ReadSide, start: int = 0) -> Verification:
    """One pass and two spans of the same chain; they must agree. Returns the spans'."""
    verifier = ChainVerifier(read_side.ledger.recorder, read_side.readers, batch=5)
    one = verifier.verify(start)
    counted: list[int] = []
    cut = verify_in_parallel(store, verifier, start, 2, counted.append, min_span=4)
    assert (cut.first_break, cut.checked, cut.start, cut.end, cut.sealed_head) == (
        one.first_break,
        one.checked,
        one.start,
        one.end,
        one.sealed_head,
    )
    return cut


def test_spans_cover_the_range_once_in_order() -> None:
    assert spans(0, 10, 3, min_span=4) == [(0, 5), (5, 10)]
    assert spans(7, 307, 3, min_span=100) == [(7, 107), (107, 207), (207, 307)]
    assert spans(0, 99, 8, min_span=100) == [(0, 99)]
    cut = spans(3, 1_000_003, 7, min_span=1000)
    assert cut[0][0] == 3 and cut[-1][1] == 1_000_003
    assert all(a[1] == b[0] for a, b in pairwise(cut)) and len(cut) == 7


def test_an_intact_chain_verifies_in_spans_with_progress_for_every_event(store, read_side, history):
    verifier = ChainVerifier(read_side.ledger.recorder, read_side.readers, batch=5)
    counted: list[int] = []
    found = verify_in_parallel(store, verifier, 0, 2, counted.append, min_span=4)
    assert found.ok and found.checked == history == found.end
    assert sum(counted) == history
    assert both(store, read_side, start=5).checked == history - 5


@pytest.mark.parametrize("where", ["first span", "boundary", "last span"])
def test_a_changed_event_is_found_where_one_pass_finds_it(store, read_side, raw, history, where):
    cuts = spans(0, history, 2, min_span=4)
    at = {"first span": 2, "boundary": cuts[1][0], "last span": history - 1}[where]
    at = next(p for p in range(at, history + 1) if b'"' in bytes(raw.row(p)[3]))
    raw.change(at, b'"', b"'")
    found = both(store, read_side)
    assert found.first_break is not None
    assert (found.first_break.position, found.first_break.kind) == (at, BreakKind.CHANGED)
    assert found.checked == at - 1


def test_an_edited_seal_at_a_spans_boundary_is_found_by_the_span_ending_there(
    store, read_side, history
):
    boundary = spans(0, history, 2, min_span=4)[1][0]
    with read_side.store.transaction() as sql:
        sql.execute("UPDATE hash_chain SET hash = ? WHERE position = ?", ("00" * 32, boundary))
    found = both(store, read_side)
    assert found.first_break is not None
    assert (found.first_break.position, found.first_break.kind) == (
        boundary,
        BreakKind.SEAL_ALTERED,
    )


def test_a_deleted_event_in_a_later_span_is_found_after_every_earlier_event(
    store, read_side, raw, history
):
    at = history - 3
    raw.delete(at)
    found = both(store, read_side)
    assert found.first_break is not None
    assert (found.first_break.position, found.first_break.kind) == (at, BreakKind.DELETED)


@pytest.fixture
def raw(store: StoreSettings) -> Iterator[RawEventStore]:
    found = RawEventStore(store)
    yield found
    found.close()


def test_the_span_worker_opens_the_ledgers_store() -> None:
    """The worker names the application as the Ledger does: the name prefixes the
    store's environment variables."""
    from service.audit.span_worker import APPLICATION

    assert Ledger.name == APPLICATION
