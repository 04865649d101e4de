"""The hash chain on a real store: sealed in log order, never rebuilt, and every kind of
tampering with the stored events found at its exact position (ADR 0012)."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from uuid import uuid4

import pytest

from adapters.store import StoreSettings
from projections.hash_chain import EVENT_INDEX, GENESIS, HashChain, seals, tip
from projections.runner import PermanentProjection
from service.audit.verification import BreakKind, ChainVerifier
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
def history(ledger: Ledger, staff, admin) -> int:
    """Two accounts, a contract each, some changes: about twenty events. Returns the head."""
    for _ in range(2):
        account_id = open_account(ledger, staff)
        sub_id = ledger.start_subscription(admin, account_id, {"sales-cloud": 5}).aggregate_id
        ledger.add_licenses(admin, sub_id, "sales-cloud", 2)
        ledger.set_payment_method(admin, account_id, "pm_card_visa")
    return ledger.head_position()


@pytest.fixture
def raw(store: StoreSettings) -> Iterator[RawEventStore]:
    found = RawEventStore(store)
    yield found
    found.close()


def verify(read_side: ReadSide, start: int = 0):
    return ChainVerifier(read_side.ledger.recorder, read_side.readers, batch=7).verify(start)


def test_every_position_is_sealed_in_log_order_onto_the_previous_hash(read_side, ledger, history):
    read_side.runner.catch_up()
    with read_side.readers.transaction() as sql:
        sealed = seals(sql, 0, 1000)
        head, head_hash = tip(sql)
    assert [s.position for s in sealed] == list(range(1, history + 1))
    assert head == history and head_hash == sealed[-1].hash

    # The documented formula, spelled out once more by hand for the first event
    first = ledger.recorder.select_notifications(1, 1)[0]
    topic = first.topic.encode()
    canonical = (
        (1).to_bytes(8, "big")
        + first.originator_id.bytes
        + first.originator_version.to_bytes(8, "big")
        + len(topic).to_bytes(4, "big")
        + topic
        + len(first.state).to_bytes(8, "big")
        + first.state
    )
    digest = hashlib.sha256(b"\x00" + canonical).digest()
    assert sealed[0].digest == digest
    assert sealed[0].hash == hashlib.sha256(b"\x01" + GENESIS + digest).digest()
    assert (sealed[0].aggregate_id, sealed[0].aggregate_version) == (str(first.originator_id), 1)


def test_an_untouched_store_verifies_and_later_events_extend_the_chain(
    read_side, ledger, history, staff
):
    read_side.runner.catch_up()
    found = verify(read_side)
    assert found.ok and found.checked == history == found.end, found.summary()

    open_account(ledger, staff)
    assert verify(read_side).end == history  # not sealed yet: not checked
    restarted = ReadSide(read_side.settings, ledger)  # a new runner, nothing in memory
    try:
        restarted.runner.catch_up()
    finally:
        restarted.stop()
    found = verify(read_side)
    assert found.ok and found.checked == ledger.head_position(), found.summary()


def test_two_runners_taking_turns_extend_one_chain(read_side, store, ledger, staff):
    other = ReadSide(store, ledger)
    try:
        for runner in (read_side.runner, other.runner, read_side.runner, other.runner):
            open_account(ledger, staff)
            runner.catch_up()  # each reads the tip afresh: the other sealed since
    finally:
        other.stop()
    found = verify(read_side)
    assert found.ok and found.checked == 4, found.summary()


def test_the_chain_is_never_dropped_or_rebuilt(read_side, history):
    read_side.runner.catch_up()
    chain = read_side.projection("hash_chain")
    with pytest.raises(PermanentProjection, match="never dropped"):
        read_side.runner.reset(chain)
    assert isinstance(chain, HashChain)
    chain.version = 2  # as if a release changed its tables
    with pytest.raises(PermanentProjection, match="never rebuilt"):
        read_side.runner.prepare()
    assert verify(read_side).checked == history


def _has_event_index(read_side: ReadSide) -> bool:
    with read_side.readers.transaction() as sql:
        if sql.dialect == "postgres":
            return sql.scalar("SELECT to_regclass(?)", (EVENT_INDEX,)) is not None
        return bool(sql.scalar("SELECT count(*) FROM sqlite_master WHERE name = ?", (EVENT_INDEX,)))


def test_a_chain_sealed_with_the_index_by_event_loses_the_index_and_keeps_its_seals(
    read_side, store, ledger, raw, history
):
    read_side.runner.catch_up()
    with read_side.store.transaction() as sql:  # as an older release left it
        sql.execute(f"CREATE INDEX {EVENT_INDEX} ON hash_chain (aggregate_id, aggregate_version)")
        before = seals(sql, 0, 1000)
    assert _has_event_index(read_side)

    again = ReadSide(store, ledger)  # a new release starting: its runner prepares the tables
    again.stop()

    assert not _has_event_index(read_side)
    with read_side.readers.transaction() as sql:
        assert seals(sql, 0, 1000) == before
    raw.swap(3, 5)  # naming the break looks events up in the seals without the index
    found = verify(read_side)
    assert found.first_break is not None and found.first_break.kind == BreakKind.REORDERED
    assert "sealed at position 5, is stored here" in found.first_break.detail


@pytest.mark.parametrize(
    ("tamper", "kind"),
    [
        ("change", BreakKind.CHANGED),
        ("delete", BreakKind.DELETED),
        ("swap", BreakKind.REORDERED),
        ("insert", BreakKind.INSERTED),
        ("change_identity", BreakKind.CHANGED),
        ("delete_and_close_the_gap", BreakKind.DELETED),
    ],
)
def test_tampering_is_found_at_its_exact_position(read_side, raw, history, tamper, kind):
    read_side.runner.catch_up()
    at = history // 2
    if tamper == "change":  # the product of a contract line, say
        at = next(p for p in range(at, history + 1) if b"sales-cloud" in bytes(raw.row(p)[3]))
        raw.change(at, b"sales-cloud", b"service-cloud")
    elif tamper == "delete":
        raw.delete(at)
    elif tamper == "swap":
        raw.swap(at, at + 3)
    elif tamper == "insert":
        raw.insert(at, like=1)
    elif tamper == "change_identity":  # the event now claims another aggregate
        raw.execute(
            "UPDATE {table} SET originator_id = ? WHERE {pos} = ?",
            (uuid4() if raw.postgres else uuid4().hex, at),
        )
    else:
        raw.delete(at)
        raw.shift(at + 1, -1)

    found = verify(read_side)

    assert not found.ok
    assert found.first_break is not None
    assert (found.first_break.position, found.first_break.kind) == (at, kind), found.summary()
    assert found.checked == at - 1
    assert f"position {at} ({kind.value})" in found.summary()


def test_a_swap_names_where_each_event_went(read_side, raw, history):
    read_side.runner.catch_up()
    raw.swap(3, 5)
    found = verify(read_side)
    assert found.first_break is not None
    assert "sealed at position 5, is stored here" in found.first_break.detail
    assert "is now stored at position 5" in found.first_break.detail


def test_an_edited_seal_is_found(read_side, history):
    read_side.runner.catch_up()
    with read_side.store.transaction() as sql:
        sql.execute("UPDATE hash_chain SET hash = ? WHERE position = ?", ("00" * 32, 4))
    found = verify(read_side)
    assert found.first_break is not None
    assert (found.first_break.position, found.first_break.kind) == (4, BreakKind.SEAL_ALTERED)


def test_an_edited_digest_names_the_event_sealed_there(read_side, history):
    """Verification streams only the seals' positions, digests and hashes; where one
    disagrees, it reads that whole seal again to name its event."""
    read_side.runner.catch_up()
    with read_side.store.transaction() as sql:
        sql.execute("UPDATE hash_chain SET digest = ? WHERE position = ?", ("00" * 32, 6))
        sealed = seals(sql, 5, 1)[0]
    found = verify(read_side)
    assert found.first_break is not None
    assert (found.first_break.position, found.first_break.kind) == (6, BreakKind.CHANGED)
    assert found.first_break.detail == (
        f"{sealed.aggregate_id} v{sealed.aggregate_version}: its stored bytes are not those sealed"
    )
    assert found.checked == 5


def test_verification_from_a_position_starts_from_its_seal(read_side, raw, history):
    read_side.runner.catch_up()
    raw.delete(3)
    assert verify(read_side, start=2).first_break.position == 3
    later = verify(read_side, start=3)
    assert later.ok and later.checked == history - 3 and later.start == 3


def test_a_deleted_last_event_is_found(read_side, raw, history):
    read_side.runner.catch_up()
    raw.delete(history)
    found = verify(read_side)
    assert found.first_break is not None
    assert (found.first_break.position, found.first_break.kind) == (history, BreakKind.DELETED)


def test_a_seal_spelt_in_upper_case_hex_is_the_same_seal_and_progress_counts_every_event(
    read_side, history
):
    """Verification compares the stored hex as text while it matches, and reads a seal as
    bytes only where the text differs: the same digest and hash in capitals still verify,
    the next page included, and progress is told of every event once."""
    read_side.runner.catch_up()
    with read_side.store.transaction() as sql:
        sql.execute(
            "UPDATE hash_chain SET digest = UPPER(digest), hash = UPPER(hash)"
            " WHERE position IN (?, ?)",
            (3, 8),
        )
    told: list[int] = []
    verifier = ChainVerifier(read_side.ledger.recorder, read_side.readers, batch=7)
    found = verifier.verify(progress=told.append)
    assert found.ok and found.checked == history
    assert sum(told) == history
