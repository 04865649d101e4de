"""``subledger privacy migrate``: a store written before sealing copied into a new one with
its plaintext sealed (ADR 0023). On SQLite to SQLite and PostgreSQL to PostgreSQL (each
test its own files or schemas): the source is only read, the copy's chain verifies and is
anchored on the old head, its read models are the old ones', and an erasure that was
not possible in the old store succeeds in the new one."""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from uuid import uuid4

import pytest

from adapters.clock import ControllableClock
from adapters.payments import FakePaymentProvider
from adapters.raw_log import RawEvent, select_raw
from adapters.signing import SigningKey
from adapters.store import StoreSettings
from domain.account import Account
from domain.personal_data import ERASED, SubjectKind
from projections.hash_chain import GENESIS, anchored_on, tip
from service.audit.export import export_account
from service.audit.verification import ChainVerifier
from service.ledger.application import Ledger
from service.ledger.context import CommandContext
from service.privacy.erasure import Erasures
from service.privacy.migration import Migration, MigrationRefused, migrate, sealed_tip
from service.reads.read_side import ReadSide
from service.webhooks.store import WebhookStore
from tests.builders import open_account
from tests.conftest import FreshSchema, require_postgres
from tests.integration.test_audit_cli import cli
from tests.integration.test_audit_export import documented_script
from tests.integration.test_erasure import ERASING, GRACE, SECRETS, raw_store
from tests.integration.test_pre_move_store import project
from tests.tamper import RawEventStore

STAFF = CommandContext("staff-1", "billing_staff")


@pytest.fixture
def new_stores(store: StoreSettings, tmp_path: Path) -> Iterator[Callable[[], StoreSettings]]:
    """New, empty stores of the same kind as ``store``."""
    schemas: list[FreshSchema] = []

    def new() -> StoreSettings:
        if store.postgres is None:
            return StoreSettings(sqlite_path=str(tmp_path / f"migrated-{uuid4().hex}" / "l.db"))
        require_postgres()
        schemas.append(FreshSchema())
        schemas[-1].settings.prepare()
        return schemas[-1].settings

    yield new
    for schema in schemas:
        schema.drop()


@pytest.fixture
def target_store(new_stores: Callable[[], StoreSettings]) -> StoreSettings:
    return new_stores()


@pytest.fixture
def open_target(
    target_store: StoreSettings, clock: ControllableClock
) -> Iterator[Callable[[], Ledger]]:
    opened: list[Ledger] = []

    def make() -> Ledger:
        target_store.prepare()
        ledger = Ledger(
            env=target_store.eventsourcing_env(),
            clock=clock,
            payment_provider=FakePaymentProvider(),
        )
        opened.append(ledger)
        return ledger

    yield make
    for ledger in opened:
        ledger.close()


def everything(ledger: Ledger) -> list[RawEvent]:
    return select_raw(ledger.recorder, 0, 1_000_000)


def read_models(read_side: ReadSide) -> dict[str, list[str]]:
    """Every read model's rows (the hash chain's apart), sorted, as JSON text."""
    found = {}
    with read_side.readers.transaction() as sql:
        for projection in read_side.projections:
            if projection.name == "hash_chain":
                continue
            for table in projection.tables:
                rows = sql.execute(f"SELECT * FROM {table}").fetchall()
                found[table] = sorted(json.dumps(list(row), default=str) for row in rows)
    return found


def old_store_with_plaintext(make_ledger: Callable[[], Ledger]) -> tuple[Ledger, Any, int]:
    """An account whose contact Grace was added by a release that did not seal (plaintext),
    then changed by this one (sealed), beside a sealed support case."""
    ledger = make_ledger()
    account_id = open_account(ledger, STAFF)
    before_sealing = make_ledger()
    before_sealing.mapper.keys = None  # type: ignore[attr-defined]  # as an older release stored
    old = before_sealing.add_contact(STAFF, account_id, GRACE, contact_id="grace").position
    renamed = dataclasses.replace(GRACE, name="Grace B. Hopper")
    ledger.change_contact(STAFF, account_id, "grace", renamed)
    ledger.open_support_case(STAFF, account_id, "Invoice", "Please call Alan Turing")
    return ledger, account_id, old


def test_a_migrated_copy_seals_old_plaintext_keeps_the_history_and_lets_it_be_erased(
    make_ledger: Callable[[], Ledger],
    store: StoreSettings,
    open_target: Callable[[], Ledger],
    target_store: StoreSettings,
    tmp_path: Path,
):
    ledger, account_id, old = old_store_with_plaintext(make_ledger)
    source_side = ReadSide(store, ledger)
    try:
        source_side.runner.catch_up()  # the old chain sealed to its head
        with source_side.readers.transaction() as sql:
            old_tip = tip(sql)
        before, keys_before = everything(ledger), ledger.data_keys.rows()
        target = open_target()

        done = migrate(ledger, store, target, target_store)

        # The source is only read.
        assert everything(ledger) == before and ledger.data_keys.rows() == keys_before
        head = ledger.head_position()
        assert old_tip[0] == head
        contact_fields = len(Account.ContactAdded.personal_data[0].paths)  # name, e-mail, phone
        assert done == Migration(
            events=head,
            fields=contact_fields,
            keys=len(keys_before),
            erased_fields=0,
            moved=0,
            old_head=head,
            old_hash=old_tip[1],
            sealed=head,
        )
        # The same events in the same order; the plaintext one's bytes are sealed now.
        copied = everything(target)
        assert [(e.position, e.aggregate_id, e.version, e.topic) for e in copied] == [
            (e.position, e.aggregate_id, e.version, e.topic) for e in before
        ]
        changed = [e.position for e, o in zip(copied, before, strict=True) if e.state != o.state]
        assert changed == [old]
        assert b"Grace Hopper" in before[old - 1].state
        assert b"Grace Hopper" not in copied[old - 1].state
        assert not any(b"Alan Turing" in e.state for e in copied)  # sealed all along
        # Decoded, the histories are equal (recorded times included).
        assert list(target.events.get(account_id)) == list(ledger.events.get(account_id))

        target_side = ReadSide(target_store, target)
        try:
            target_side.runner.catch_up()
            verified = ChainVerifier(target.recorder, target_side.readers).verify()
            assert verified.ok and verified.checked == head, verified.summary()
            with target_side.readers.transaction() as sql:
                anchor = anchored_on(sql)
            assert anchor is not None
            assert (anchor.aggregate_version, anchor.hash) == old_tip
            assert read_models(target_side) == read_models(source_side)

            # What the old store could not erase, the copy can.
            old_answer = Erasures(make_ledger()).erase(
                ERASING, account_id, SubjectKind.CONTACT, "grace"
            )
            assert old_answer.not_erasable == (old,)
            erasure = Erasures(target).erase(ERASING, account_id, SubjectKind.CONTACT, "grace")
            assert erasure.not_erasable == () and erasure.keys_destroyed == 1
            target_side.runner.catch_up()
            held = raw_store(target_store)
            for secret in SECRETS:
                assert secret not in held, secret
            assert target.account(account_id).contacts["grace"].name == ERASED
            assert ChainVerifier(target.recorder, target_side.readers).verify().ok

            # The account's export starts from the anchor and checks with the standard library.
            key = SigningKey.load_or_create(tmp_path / "signing-key.pem")
            exported = export_account(target_side, key, account_id, tmp_path / "export")
            assert not exported.mismatched
            checked = subprocess.run(
                [sys.executable, str(documented_script(tmp_path)), str(tmp_path / "export")],
                capture_output=True,
                text=True,
                timeout=60,
            )
            assert checked.returncode == 0, checked.stderr
            assert checked.stdout.startswith(f"OK: {exported.events} events")
        finally:
            target_side.stop()
    finally:
        source_side.stop()


def test_plaintext_of_a_subject_erased_before_the_migration_reads_as_erased_in_the_copy(
    make_ledger: Callable[[], Ledger],
    store: StoreSettings,
    open_target: Callable[[], Ledger],
    target_store: StoreSettings,
):
    ledger, account_id, old = old_store_with_plaintext(make_ledger)
    erased = Erasures(ledger).erase(ERASING, account_id, SubjectKind.CONTACT, "grace")
    assert erased.not_erasable == (old,)  # the old store cannot
    target = open_target()

    done = migrate(ledger, store, target, target_store)

    assert done.erased_fields == done.fields == len(Account.ContactAdded.personal_data[0].paths)
    first = next(e for e in target.events.get(account_id) if isinstance(e, Account.ContactAdded))
    assert (first.contact.name, first.contact.email) == (ERASED, ERASED)
    held = raw_store(target_store)
    for secret in SECRETS:
        assert secret not in held, secret
    assert b"Grace Hopper" in raw_store(store)  # the old store keeps it until destroyed


def test_a_store_that_is_not_new_and_empty_or_a_tampered_source_is_refused(
    make_ledger: Callable[[], Ledger],
    store: StoreSettings,
    open_target: Callable[[], Ledger],
    target_store: StoreSettings,
):
    ledger, _, old = old_store_with_plaintext(make_ledger)
    with pytest.raises(MigrationRefused, match="is the store being migrated"):
        migrate(ledger, store, make_ledger(), store)
    source_side = ReadSide(store, ledger)
    try:
        source_side.runner.catch_up()
    finally:
        source_side.stop()
    RawEventStore(store).change(old, b"Grace Hopper", b"Grace Hoppex")
    target = open_target()

    # A source whose stored bytes no longer match its sealed chain is not laundered.
    with pytest.raises(MigrationRefused, match="does not verify up to its sealed head"):
        migrate(ledger, store, target, target_store)
    assert target.head_position() == 0 and sealed_tip(target_store) == (0, GENESIS)
    assert target.data_keys.rows() == []

    RawEventStore(store).change(old, b"Grace Hoppex", b"Grace Hopper")
    migrate(ledger, store, target, target_store)
    head = target.head_position()
    with pytest.raises(MigrationRefused, match="is not empty"):
        migrate(ledger, store, open_target(), target_store)
    assert target.head_position() == head


def test_the_pre_move_fixture_migrates_from_the_command_line(tmp_path: Path):
    """The committed store that predates sealing: every personal field of it was stored in
    plaintext; the copy verifies, is anchored, and holds none of them."""
    old = tmp_path / "old" / "ledger.db"
    old.parent.mkdir()
    fixture = Path(__file__).parent.parent / "fixtures" / "pre_move_store.sqlite"
    old.write_bytes(fixture.read_bytes())
    old.chmod(0o600)
    new = tmp_path / "new" / "ledger.db"

    done = cli(old, "privacy", "migrate", "--to", str(new))

    assert done.returncode == 0, done.stderr
    assert "copying and sealing" in done.stderr and "sealing the new chain" in done.stderr
    copied = int(done.stdout.split("copied ")[1].split()[0])
    sealed = int(done.stdout.split("; ")[1].split()[0])
    assert copied > 0 and sealed > 0
    assert b"bo@northwind.example" in old.read_bytes()
    assert b"bo@northwind.example" not in new.read_bytes()
    verified = cli(new, "audit", "verify")
    assert verified.returncode == 0, verified.stderr
    assert verified.stdout.startswith(f"intact: {copied} events")
    assert f"its head at position {copied}" in verified.stdout

    again = cli(old, "privacy", "migrate", "--to", str(new))
    assert again.returncode == 1
    assert "is not empty" in again.stderr.splitlines()[-1]

    # Every read model of the demo's history (books, overviews, the audit trail's decoded
    # payloads) is the same built from either store; only the chains differ.
    (new_models, new_summary, new_topics), (old_models, _, old_topics) = project(new), project(old)
    assert new_summary.startswith(f"intact: {copied} events") and new_topics == old_topics
    assert new_models.pop("hash_chain") != old_models.pop("hash_chain")
    assert new_models == old_models


def test_webhook_secrets_and_cursors_follow_their_events_across_a_gap(
    make_ledger: Callable[[], Ledger],
    store: StoreSettings,
    open_target: Callable[[], Ledger],
    target_store: StoreSettings,
):
    """A log with a gap (a position no event holds, as a PostgreSQL sequence leaves after a
    rolled-back write): the events after it move down in the copy, and so do the cursors
    that stood on them."""
    ledger, account_id, _ = old_store_with_plaintext(make_ledger)
    gap = ledger.head_position()  # the support case's opening: removed below
    last = ledger.add_contact(STAFF, account_id, GRACE, contact_id="other").position
    RawEventStore(store).delete(gap)
    hooks = WebhookStore(store)
    endpoint, other = uuid4(), uuid4()
    try:
        for endpoint_id, at in ((endpoint, last), (other, gap)):
            hooks.put_secret(endpoint_id, f"whsec_{endpoint_id.hex}")
            hooks.sync(endpoint_id, 1, at, None)

        done = migrate(ledger, store, open_target(), target_store, cursors=[last, gap, 0, last + 5])

        assert done.moved == 1 and done.events == last - 1
        assert done.positions == {last: last - 1, gap: gap - 1, last + 5: last - 1}
        assert done.position(0) == 0
        copied = WebhookStore(target_store)
        try:
            assert hooks.copy_into(copied, done.position) == 2
            assert copied.secret(endpoint) == f"whsec_{endpoint.hex}"
            moved = copied.cursors()
            assert (moved[endpoint].position, moved[other].position) == (last - 1, gap - 1)
            assert moved[endpoint].endpoint_version == 1
        finally:
            copied.close()
    finally:
        hooks.close()


def test_a_migrated_store_migrates_again_from_its_anchor(
    make_ledger: Callable[[], Ledger],
    store: StoreSettings,
    open_target: Callable[[], Ledger],
    target_store: StoreSettings,
    new_stores: Callable[[], StoreSettings],
):
    """Its chain starts from the anchor, not from zero bytes: the next migration checks
    and anchors on it as such."""
    ledger, _, _ = old_store_with_plaintext(make_ledger)
    first = open_target()
    migrate(ledger, store, first, target_store)
    side = ReadSide(target_store, first)
    try:
        side.runner.catch_up()
        with side.readers.transaction() as sql:
            first_tip = tip(sql)
    finally:
        side.stop()
    again = new_stores()
    again.prepare()
    second = Ledger(
        env=again.eventsourcing_env(), clock=ledger.clock, payment_provider=FakePaymentProvider()
    )
    try:
        done = migrate(first, target_store, second, again)
        assert (done.old_head, done.old_hash, done.fields) == (*first_tip, 0)
        side = ReadSide(again, second)
        try:
            assert ChainVerifier(second.recorder, side.readers).verify().ok
        finally:
            side.stop()
    finally:
        second.close()


def test_a_store_written_to_during_the_migration_is_refused(
    make_ledger: Callable[[], Ledger],
    store: StoreSettings,
    open_target: Callable[[], Ledger],
    target_store: StoreSettings,
):
    ledger, account_id, _ = old_store_with_plaintext(make_ledger)
    head = ledger.head_position()
    late = iter(["late"])

    def write_meanwhile(copied: int) -> None:
        if (contact_id := next(late, None)) is not None:
            ledger.add_contact(STAFF, account_id, GRACE, contact_id=contact_id)

    with pytest.raises(MigrationRefused, match="written to during the migration"):
        migrate(ledger, store, open_target(), target_store, copying=write_meanwhile)
    assert ledger.head_position() == head + 1
