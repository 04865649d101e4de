"""Support cases over HTTP: a customer opens one and reads it back; staff reply and close
it; each step is an event, and the reads come from the read model (read your writes)."""

from __future__ import annotations

from typing import Any
from uuid import uuid4

from tests.e2e.conftest import Api


def cases_of(api: Api, account_id: Any) -> str:
    return f"/v1/accounts/{account_id}/support-cases"


def open_case(api: Api, who: str = "admin", subject: str = "Invoice PDF is blank") -> Any:
    response = api.post(
        cases_of(api, api.acme.account_id),
        who,
        json={"subject": subject, "description": "The PDF of our last invoice has no lines."},
    )
    return api.wrote(response, 201)


def test_a_customer_opens_a_case_and_reads_it_back_with_its_status(api: Api) -> None:
    opened = open_case(api)
    path = f"{cases_of(api, api.acme.account_id)}/{opened['id']}"

    assert (opened["status"], opened["opened_by"], opened["replies"]) == ("open", "ada", [])
    assert opened["version"] == 1
    read = api.get(path, "admin")
    assert read.status_code == 200, read.text
    assert read.json() == opened
    assert read.headers["ETag"] == '"1"'
    listed = api.get(cases_of(api, api.acme.account_id), "identity")
    assert listed.status_code == 200
    assert [case["id"] for case in listed.json()] == [opened["id"]]


def test_staff_reply_then_close_and_the_customer_sees_each_step(api: Api) -> None:
    opened = open_case(api)
    path = f"{cases_of(api, api.acme.account_id)}/{opened['id']}"

    replied = api.wrote(
        api.post(f"{path}/replies", "billing_staff", json={"message": " Fixed: download again. "}),
        201,
    )
    assert replied["status"] == "answered"
    (reply,) = replied["replies"]
    assert (reply["message"], reply["replied_by"]) == (
        "Fixed: download again.",
        "billing_staff:e2e billing_staff",
    )
    assert api.get(path, "admin").json() == replied  # served once the read model has it

    closed = api.wrote(
        api.post(f"{path}/close", "billing_staff", json={"resolution": "PDF renderer fixed"}),
    )
    assert (closed["status"], closed["resolution"], closed["version"]) == (
        "closed",
        "PDF renderer fixed",
        3,
    )
    assert closed["closed_by"] == "billing_staff:e2e billing_staff"
    assert closed["closed_at"] is not None
    assert api.get(path, "auditor").json() == closed

    events = [
        e["type"]
        for e in api.get(
            "/v1/events", "integration", params={"type": "subledger.support_case"}
        ).json()["events"]
    ]
    assert events == [
        "subledger.support_case.SupportCaseOpened.v1",
        "subledger.support_case.SupportCaseReplied.v1",
        "subledger.support_case.SupportCaseClosed.v1",
    ]


def test_a_closed_case_takes_no_reply_and_cannot_be_closed_again(api: Api) -> None:
    opened = open_case(api)
    path = f"{cases_of(api, api.acme.account_id)}/{opened['id']}"
    api.wrote(api.post(f"{path}/close", "billing_staff", json={}))

    problem = api.refused(409, "POST", f"{path}/replies", "billing_staff", json={"message": "Hi"})
    assert problem["type"] == "/problems/support-case-closed"
    api.refused(409, "POST", f"{path}/close", "billing_staff", json={})


def test_the_list_filters_by_status(api: Api) -> None:
    first, second = open_case(api, subject="First"), open_case(api, subject="Second")
    path = cases_of(api, api.acme.account_id)
    api.wrote(api.post(f"{path}/{second['id']}/close", "billing_staff", json={}))

    def listed(status: str) -> list[str]:
        response = api.get(path, "admin", params={"status": status})
        assert response.status_code == 200, response.text
        return [case["subject"] for case in response.json()]

    assert (listed("open"), listed("answered"), listed("closed")) == (
        [first["subject"]],
        [],
        [second["subject"]],
    )
    api.refused(422, "GET", path, "admin", params={"status": "pending"})


def test_a_reply_must_say_something_and_only_staff_may_reply(api: Api) -> None:
    opened = open_case(api)
    path = f"{cases_of(api, api.acme.account_id)}/{opened['id']}"

    api.refused(422, "POST", f"{path}/replies", "billing_staff", json={"message": "   "})
    api.refused(422, "POST", f"{path}/replies", "billing_staff", json={"message": "x" * 10_001})
    api.refused(422, "POST", f"{path}/close", "billing_staff", json={"resolution": "x" * 2_001})
    for who in ("admin", "auditor", "account_manager"):
        api.refused(403, "POST", f"{path}/replies", who, json={"message": "Hi"})
        api.refused(403, "POST", f"{path}/close", who, json={})


def test_a_case_is_found_only_under_its_own_account(api: Api) -> None:
    opened = open_case(api)
    elsewhere = f"{cases_of(api, api.other.account_id)}/{opened['id']}"

    # another tenant, through its own account or through Acme's: the answer a missing case gets
    missing = api.refused(
        404, "GET", f"{cases_of(api, api.other.account_id)}/{uuid4()}", "other_admin"
    )
    assert api.refused(404, "GET", elsewhere, "other_admin")["type"] == missing["type"]
    api.refused(404, "GET", f"{cases_of(api, api.acme.account_id)}/{opened['id']}", "other_admin")
    # staff naming the wrong account do not reach the case either
    api.refused(404, "GET", elsewhere, "billing_staff")
    api.refused(404, "POST", f"{elsewhere}/replies", "billing_staff", json={"message": "Hi"})
