"""Dates and instants outside 1970-01-01 .. 9998-12-31 are refused with a 422 problem naming
the field, wherever a request carries one (query or body), and write nothing; the bounds
themselves are served. At the edges of Python's calendar these answered 500: an offset
carried the instant past year 9999, or a report reached for the day before year 1."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from typing import get_args

import pytest

from domain.calendar_bounds import OutOfCalendar
from service.reads.point_in_time import parse_as_of, parse_effective
from tests.e2e.conftest import Api
from tests.e2e.test_permission_matrix import api_routes

FAR_FUTURE = "9999-12-31T23:59:59-23:59"
FAR_PAST = "0001-01-01T00:00:00+23:59"


def _field_named(problem: dict[str, object], field: str) -> bool:
    errors = problem["errors"]
    assert isinstance(errors, list)
    return any(e["field"].endswith(field) and "9998-12-31" in e["message"] for e in errors)


@pytest.mark.parametrize(
    ("path", "params", "field"),
    [
        ("/v1/accounts/{account}", {"as_of": FAR_FUTURE}, "as_of"),
        ("/v1/accounts/{account}", {"as_of": FAR_PAST}, "as_of"),
        ("/v1/accounts/{account}", {"as_of": "0001-01-01"}, "as_of"),
        ("/v1/accounts/{account}", {"effective": "9999-12-31"}, "effective"),
        ("/v1/reports/book", {"as_of": FAR_FUTURE}, "as_of"),
        ("/v1/reports/invoices", {"on": "0001-01-01"}, "on"),
        ("/v1/reports/renewals", {"on": "9999-12-31"}, "on"),
        ("/v1/audit/events", {"recorded_from": FAR_PAST}, "recorded_from"),
        ("/v1/audit/events", {"recorded_to": FAR_FUTURE}, "recorded_to"),
        ("/v1/catalog/products", {"on": "0001-01-01"}, "on"),
    ],
)
def test_a_date_outside_the_calendar_in_a_query_is_a_422_naming_it(
    api: Api, path: str, params: dict[str, str], field: str
) -> None:
    url = path.format(account=api.acme.account_id)
    problem = api.refused(422, "GET", url, "billing_staff", params=params)
    assert problem["type"] == "/problems/validation-error"
    assert _field_named(problem, field), problem


def test_a_date_outside_the_calendar_in_a_body_is_a_422_and_writes_nothing(api: Api) -> None:
    path = f"/v1/subscriptions/{api.acme.subscription_id}/licenses"
    body = {"product_code": "sales-cloud", "quantity": 1, "effective": "0001-01-01"}
    problem = api.refused(422, "POST", path, "billing_staff", json=body)
    assert _field_named(problem, "effective"), problem
    cancel = {"reason": "agreed exit", "effective": "9999-12-31"}
    path = f"/v1/subscriptions/{api.acme.subscription_id}/cancellation"
    assert _field_named(api.refused(422, "POST", path, "billing_staff", json=cancel), "effective")


@pytest.mark.parametrize(
    ("path", "params"),
    [
        ("/v1/reports/invoices", {"on": "1970-01-01"}),
        ("/v1/reports/renewals", {"on": "9998-12-31"}),
        ("/v1/reports/book", {"as_of": "9998-12-31T23:59:59-23:59"}),
        ("/v1/audit/events", {"recorded_from": "1970-01-01T00:00:00+23:59"}),
    ],
)
def test_the_bounds_themselves_are_served(api: Api, path: str, params: dict[str, str]) -> None:
    assert api.get(path, "billing_staff", params=params).status_code == 200


def test_the_command_line_parses_the_same_bounds() -> None:
    for text in (FAR_FUTURE, FAR_PAST, "0001-01-01", "9999-12-31"):
        with pytest.raises(OutOfCalendar):
            parse_as_of(text)
    with pytest.raises(OutOfCalendar):
        parse_effective("1969-12-31")
    assert parse_as_of("1970-01-01T00:00:00") == datetime(1970, 1, 1, tzinfo=UTC)


def test_every_date_in_a_query_of_any_route_is_bounded(api: Api) -> None:
    """A route added later cannot take an unbounded date: each date or instant query
    parameter of every GET route refuses year 1 with a 422 naming it."""
    ids = {
        "account_id": api.acme.account_id,
        "subscription_id": api.acme.subscription_id,
        "invoice_id": api.acme.invoice_id,
    }
    probed = []
    for method, path, route in api_routes(api.client.app):  # type: ignore[arg-type]
        if method != "GET":
            continue
        for param in route.dependant.query_params:
            if not _kinds(param.field_info.annotation) & {date, datetime}:
                continue
            assert set(re.findall(r"{(\w+)}", path)) <= set(ids), path
            url = path.format(**ids)
            problem = api.refused(
                422, "GET", url, "billing_staff", params={param.alias: "0001-01-01"}
            )
            assert _field_named(problem, param.alias), (path, problem)
            probed.append((path, param.alias))
    assert ("/v1/catalog/products", "on") in probed and len(probed) >= 5, probed


def _kinds(annotation: object) -> set[object]:
    """The types an annotation names, through Optional, unions and Annotated."""
    return {annotation}.union(*(_kinds(arg) for arg in get_args(annotation)))
