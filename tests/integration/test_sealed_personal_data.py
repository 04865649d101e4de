"""Personal fields are sealed in the stored events, read back whole, and read as erased
once their subject's key is destroyed; the other fields stay plain. On both stores."""

from __future__ import annotations

from collections.abc import Callable

from adapters.store import StoreSettings
from domain.account import Contact, ContactRole
from domain.personal_data import ERASED
from service.ledger.application import Ledger
from service.ledger.context import CommandContext
from tests.builders import open_account
from tests.tamper import RawEventStore

CONTACT = Contact(ContactRole.BILLING, "Grace Hopper", "grace@navy.example", "+1 555 0100")


def test_personal_fields_are_ciphertext_in_the_store_and_plain_when_read(
    ledger: Ledger, store: StoreSettings, staff: CommandContext
):
    account_id = open_account(ledger, staff)
    ledger.add_contact(staff, account_id, CONTACT, contact_id="c1")
    raw = RawEventStore(store)
    try:
        states = [bytes(state) for (state,) in raw.execute("SELECT state FROM {table}")]
    finally:
        raw.close()
    stored = b"".join(states)
    for secret in (b"Grace Hopper", b"grace@navy.example", b"Ada Admin", b"Acme Corp"):
        assert secret not in stored
    assert b'"_type_":"sealed"' in stored
    assert b"c1" in stored and b"billing" in stored  # ids and the role stay readable
    assert ledger.account(account_id).contacts["c1"] == CONTACT


def test_a_destroyed_key_reads_as_erased_in_every_event_of_its_subject_only(
    make_ledger: Callable[[], Ledger], staff: CommandContext
):
    ledger = make_ledger()
    account_id = open_account(ledger, staff)
    ledger.add_contact(staff, account_id, CONTACT, contact_id="c1")
    other = Contact(ContactRole.TECHNICAL, "Alan Turing", "alan@bletchley.example")
    ledger.add_contact(staff, account_id, other, contact_id="c2")
    renamed = Contact(ContactRole.PRIMARY, "Grace B. Hopper", "grace@navy.example")
    ledger.change_contact(staff, account_id, "c1", renamed)

    assert ledger.data_keys.destroy(f"contact:{account_id}:c1", ledger.clock.now()) == 1

    fresh = make_ledger()  # nothing cached: everything decoded from the store
    contacts = fresh.account(account_id).contacts
    erased = contacts["c1"]
    assert (erased.role, erased.name, erased.email, erased.phone) == (
        ContactRole.PRIMARY,
        ERASED,
        ERASED,
        ERASED,
    )
    assert contacts["c2"] == other
    history = [e for e in fresh.events_of_types() if getattr(e, "contact_id", None) == "c1"]
    assert len(history) == 2
    assert all(e.contact.name == ERASED and e.contact.email == ERASED for e in history)


def test_another_process_stops_using_a_destroyed_key_once_its_cache_ages(
    make_ledger: Callable[[], Ledger], staff: CommandContext
):
    writer, other = make_ledger(), make_ledger()
    account_id = open_account(writer, staff)
    writer.add_contact(staff, account_id, CONTACT, contact_id="c1")
    assert other.account(account_id).contacts["c1"].name == CONTACT.name  # its key cached

    writer.data_keys.destroy(f"contact:{account_id}:c1", writer.clock.now())
    before = list(other.events.get(account_id))[-1]
    assert before.contact.name == CONTACT.name  # within the cache's age, still the copy
    other.data_keys.max_age = 0  # the minute has passed
    after = list(other.events.get(account_id))[-1]
    assert after.contact.name == ERASED
