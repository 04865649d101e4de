"""The License: the seats of one product an account holds, and who they are assigned to."""

from datetime import date
from uuid import uuid4

import pytest

from domain.errors import AlreadyInThatState, InvalidValue, QuantityNotPositive, SeatsExhausted
from domain.license import License, license_id
from tests.builders import cause

ACCOUNT = uuid4()
CONTRACT = uuid4()
OTHER_CONTRACT = uuid4()
ON = date(2026, 1, 1)


def recorded(lic):
    """The classes of the events recorded since the last call (and forget them)."""
    return [type(event) for event in lic.collect_events()]


def holding(seats, users=()):
    lic = License.open(ACCOUNT, "sales-cloud", cause())
    lic.add(CONTRACT, seats, ON, cause())
    for user_id in users:
        lic.assign(user_id, cause())
    lic.collect_events()
    return lic


def test_opening_a_license_records_its_account_and_product_under_a_deterministic_id():
    lic = License.open(ACCOUNT, "sales-cloud", cause())
    (opened,) = lic.collect_events()
    assert isinstance(opened, License.LicenseOpened)
    assert (opened.account_id, opened.product_code) == (ACCOUNT, "sales-cloud")
    assert lic.id == license_id(ACCOUNT, "sales-cloud")
    assert lic.id != license_id(ACCOUNT, "service-cloud")
    assert (lic.held, lic.assigned) == (0, [])


def test_buying_seats_records_license_added():
    lic = License.open(ACCOUNT, "sales-cloud", cause())
    lic.collect_events()
    lic.add(CONTRACT, 5, ON, cause())
    (event,) = lic.collect_events()
    assert isinstance(event, License.LicenseAdded)
    assert (event.subscription_id, event.quantity, event.effective_at) == (CONTRACT, 5, ON)
    assert (lic.held, lic.available) == (5, 5)


def test_seats_bought_on_two_contracts_add_to_one_pool():
    lic = holding(5)
    lic.add(OTHER_CONTRACT, 3, ON, cause())
    lic.add(CONTRACT, 2, ON, cause())
    assert lic.held == 10
    assert lic.held_by_contract == {str(CONTRACT): 7, str(OTHER_CONTRACT): 3}


@pytest.mark.parametrize("quantity", [0, -1, True])
def test_buying_a_quantity_that_is_not_positive_is_refused(quantity):
    lic = holding(5)
    with pytest.raises(QuantityNotPositive):
        lic.add(CONTRACT, quantity, ON, cause())
    assert recorded(lic) == []
    assert lic.held == 5


def test_assigning_a_seat_records_it():
    lic = holding(2)
    lic.assign("bob", cause())
    (event,) = lic.collect_events()
    assert isinstance(event, License.SeatAssigned)
    assert event.user_id == "bob"
    assert (lic.assigned, lic.available) == (["bob"], 1)


def test_assigning_more_seats_than_held_is_refused():
    lic = holding(2, ["bob", "cy"])
    with pytest.raises(SeatsExhausted) as refused:
        lic.assign("dee", cause())
    assert refused.value.held == 2
    assert recorded(lic) == []
    assert lic.assigned == ["bob", "cy"]


def test_assigning_a_seat_of_a_license_with_no_seats_is_refused():
    lic = License.open(ACCOUNT, "sales-cloud", cause())
    lic.collect_events()
    with pytest.raises(SeatsExhausted):
        lic.assign("bob", cause())
    assert recorded(lic) == []


def test_assigning_a_second_seat_to_a_user_is_refused():
    lic = holding(2, ["bob"])
    with pytest.raises(AlreadyInThatState):
        lic.assign("bob", cause())
    assert recorded(lic) == []


def test_unassigning_a_seat_records_it_and_frees_the_seat():
    lic = holding(2, ["bob", "cy"])
    lic.unassign("bob", cause())
    (event,) = lic.collect_events()
    assert isinstance(event, License.SeatUnassigned)
    assert event.user_id == "bob"
    assert (lic.assigned, lic.available) == (["cy"], 1)


def test_unassigning_a_user_without_a_seat_is_refused():
    lic = holding(2, ["bob"])
    with pytest.raises(AlreadyInThatState):
        lic.unassign("cy", cause())
    assert recorded(lic) == []


def test_removing_unassigned_seats_records_license_removed_only():
    lic = holding(5, ["bob", "cy"])
    lic.remove(CONTRACT, 3, date(2027, 1, 1), cause())
    (event,) = lic.collect_events()
    assert isinstance(event, License.LicenseRemoved)
    assert (event.subscription_id, event.quantity, event.effective_at) == (
        CONTRACT,
        3,
        date(2027, 1, 1),
    )
    assert (lic.held, lic.assigned) == (2, ["bob", "cy"])


def test_removing_seats_unassigns_the_most_recently_assigned_users_first():
    lic = holding(5, ["ann", "bob", "cy", "dee", "eve"])
    lic.remove(CONTRACT, 3, date(2027, 1, 1), cause())
    events = lic.collect_events()
    assert [type(e) for e in events] == [
        License.SeatUnassigned,
        License.SeatUnassigned,
        License.SeatUnassigned,
        License.LicenseRemoved,
    ]
    assert [e.user_id for e in events[:3]] == ["eve", "dee", "cy"]
    assert (lic.held, lic.assigned) == (2, ["ann", "bob"])


def test_removing_a_contracts_seats_keeps_users_covered_by_another_contract():
    lic = holding(2, ["ann", "bob"])
    lic.add(OTHER_CONTRACT, 2, ON, cause())
    lic.assign("cy", cause())
    lic.collect_events()
    lic.remove(CONTRACT, 2, date(2027, 1, 1), cause())
    assert [e.user_id for e in lic.collect_events()[:-1]] == ["cy"]
    assert (lic.held, lic.assigned) == (2, ["ann", "bob"])


def test_removing_more_seats_than_the_contract_holds_is_refused():
    lic = holding(2)
    lic.add(OTHER_CONTRACT, 5, ON, cause())
    lic.collect_events()
    with pytest.raises(InvalidValue):
        lic.remove(CONTRACT, 3, date(2027, 1, 1), cause())
    assert recorded(lic) == []
    assert lic.held == 7


@pytest.mark.parametrize("quantity", [0, -1])
def test_removing_a_quantity_that_is_not_positive_is_refused(quantity):
    lic = holding(2)
    with pytest.raises(QuantityNotPositive):
        lic.remove(CONTRACT, quantity, date(2027, 1, 1), cause())
    assert recorded(lic) == []


def test_removing_a_contract_removes_all_its_seats():
    lic = holding(4, ["ann"])
    lic.add(OTHER_CONTRACT, 1, ON, cause())
    lic.collect_events()
    lic.remove_contract(CONTRACT, date(2026, 6, 1), cause())
    (event,) = lic.collect_events()
    assert isinstance(event, License.LicenseRemoved)
    assert event.quantity == 4
    assert lic.held_by_contract == {str(OTHER_CONTRACT): 1}
    assert lic.assigned == ["ann"]


def test_removing_a_contract_that_holds_no_seats_records_nothing():
    lic = holding(4)
    lic.remove_contract(OTHER_CONTRACT, date(2026, 6, 1), cause())
    assert recorded(lic) == []
