"""The support case a customer opens from the app ("contact us")."""

from uuid import uuid4

import pytest

from domain.errors import InvalidValue
from domain.support_case import SupportCase
from tests.builders import cause

ACCOUNT = uuid4()


def open_case(subject="Invoice PDF is blank", description="The PDF of INV-7 has no lines."):
    return SupportCase.open(uuid4(), ACCOUNT, subject, description, cause(actor="bob"))


def test_opening_a_case_records_its_subject_description_and_who_opened_it():
    case = open_case("  Invoice PDF is blank ", " The PDF of INV-7 has no lines.\n")
    (opened,) = case.collect_events()
    assert isinstance(opened, SupportCase.SupportCaseOpened)
    assert opened.account_id == ACCOUNT
    assert (opened.subject, opened.description) == (
        "Invoice PDF is blank",
        "The PDF of INV-7 has no lines.",
    )
    assert opened.opened_by == "bob"
    assert opened.meta.actor_id == "bob"


def test_an_opened_case_shows_what_was_asked():
    case = open_case()
    assert (case.account_id, case.subject, case.opened_by) == (
        ACCOUNT,
        "Invoice PDF is blank",
        "bob",
    )


@pytest.mark.parametrize("subject", ["", "   ", "x" * 201])
def test_a_case_without_a_subject_of_1_to_200_characters_is_refused(subject):
    with pytest.raises(InvalidValue):
        open_case(subject=subject)


@pytest.mark.parametrize("description", ["", "\n\t", "x" * 10_001])
def test_a_case_without_a_description_of_1_to_10000_characters_is_refused(description):
    with pytest.raises(InvalidValue):
        open_case(description=description)


def test_the_longest_subject_and_description_are_accepted():
    case = open_case("s" * 200, "d" * 10_000)
    assert (len(case.subject), len(case.description)) == (200, 10_000)
