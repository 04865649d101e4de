"""The auditor's view over HTTP: an account's history with who, role, when recorded,
when in effect, why and the request; its filters; the hash chain verified up to a
position; the signed digest and the verifiable export, downloaded. Customers may not."""

from __future__ import annotations

import io
import json
import zipfile

from service.access.tokens import Role
from tests.e2e.conftest import Api
from tests.e2e.test_web_staff import staff
from tests.e2e.web import sign_in


def _history(api: Api) -> str:
    return f"/app/accounts/{api.acme.account_id}/history"


def test_the_auditor_reads_the_accounts_history_with_who_when_and_why(api: Api) -> None:
    api.post(
        f"/v1/invoices/{api.acme.invoice_id}/credit-notes",
        "billing_staff",
        json={"amount": "5.00", "reason": "late delivery"},
    )
    auditor = staff(api, Role.AUDITOR)
    page = auditor.get(_history(api))
    assert page.status_code == 200
    assert "late delivery" in page.text and "seed-staff" in page.text
    credited = auditor.get(_history(api), params={"event_type": "Invoice.CreditNoteIssued"})
    rows = credited.text.split("<tbody>")[1].count("<tr>")
    assert rows == 1 and "late delivery" in credited.text
    nobody = auditor.get(_history(api), params={"actor": "nobody"})
    assert "No change matches these filters." in nobody.text
    bad = auditor.get(_history(api), params={"recorded_from": "last week"})
    assert bad.status_code == 422 and 'role="alert"' in bad.text


def test_the_chain_is_verified_up_to_a_position_and_the_proofs_download(api: Api) -> None:
    auditor = staff(api, Role.AUDITOR)
    verified = auditor.get(_history(api), params={"verify": "1"})
    assert "Verified up to position" in verified.text
    digest = auditor.get(f"{_history(api)}/digest.json")
    assert digest.status_code == 200
    signed = json.loads(digest.text)
    assert signed["position"] > 0 and signed["signature"]
    export = auditor.get(f"{_history(api)}/export.zip")
    assert export.status_code == 200
    names = zipfile.ZipFile(io.BytesIO(export.content)).namelist()
    assert sorted(n.split("/")[-1] for n in names) == [
        "digest.json",
        "events.jsonl",
        "links.jsonl",
        "public-key.pem",
    ]


def test_customers_and_account_managers_do_not_see_the_audit_view(api: Api) -> None:
    customer = sign_in(api)
    assert "/history" not in customer.get(f"/app/accounts/{api.acme.account_id}").text
    assert customer.get(_history(api)).status_code == 403
    assert customer.get(f"{_history(api)}/export.zip").status_code == 403
    manager = staff(api, Role.ACCOUNT_MANAGER)
    assert manager.get(_history(api)).status_code == 403
