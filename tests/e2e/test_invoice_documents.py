"""Invoice documents over HTTP: the PDF (its text read back), the same bytes for the same
invoice, the CSV of its lines, by path or by Accept, as of a past instant too."""

from __future__ import annotations

import csv
import io
from datetime import timedelta

from pypdf import PdfReader

from adapters.clock import ControllableClock
from adapters.einvoice.validation import EN16931, RuleSet, validate_cii
from tests.e2e.conftest import Api


def pdf_text(document: bytes) -> str:
    return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(document)).pages)


def test_the_pdf_of_an_invoice_reads_as_the_invoice(api: Api) -> None:
    response = api.get(f"/v1/invoices/{api.acme.invoice_id}/pdf", "admin")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/pdf"
    number = api.ledger.invoice(api.acme.invoice_id).number
    assert response.headers["content-disposition"] == f'attachment; filename="{number}.pdf"'
    assert response.content.startswith(b"%PDF-")
    text = pdf_text(response.content)
    for expected in (
        "Subledger SAS",
        "SIREN 123456782 - SIRET 12345678200010",
        f"Invoice {number}",
        "Status: OPEN",
        "Issued on: 2026-01-05",
        "Due date: 2026-02-04",
        "Acme Inc\n1 Main St\n12345 Springfield\nUS\nap@acme.example",
        "Sales Cloud 5 2026-01-05 to 2027-01-05 300.00 1,500.00 0.00 (0%)",
        "Total 1,500.00 USD",
        "Paid 0.00 USD",
        "Balance due 1,500.00 USD",
        "Service period: 2026-01-05 to 2027-01-04",
        "TVA non applicable, art. 259-1 du CGI",  # a service to a buyer outside the EU
        "Indemnité forfaitaire pour frais de recouvrement",
    ):
        assert expected in text, expected


def test_the_pdf_carries_the_xml_that_xml_serves_and_it_follows_en_16931(api: Api) -> None:
    path = f"/v1/invoices/{api.acme.invoice_id}"
    xml = api.get(f"{path}/xml", "admin")
    assert xml.status_code == 200, xml.text
    assert xml.headers["content-type"] == "application/xml; charset=utf-8"
    number = api.ledger.invoice(api.acme.invoice_id).number
    assert xml.headers["content-disposition"] == f'attachment; filename="{number}.xml"'
    pdf = api.get(f"{path}/pdf", "admin").content
    attachments = PdfReader(io.BytesIO(pdf)).attachments
    assert attachments["factur-x.xml"] == [xml.content]
    report = validate_cii(xml.content, (*EN16931, RuleSet.FRANCE_CTC))
    assert [f for f in report.findings if f.fatal] == []
    assert f"<ram:ID>{number}</ram:ID>".encode() in xml.content


def test_accept_pdf_on_the_invoice_gives_the_same_bytes_every_time(api: Api) -> None:
    path = f"/v1/invoices/{api.acme.invoice_id}"
    by_accept = api.get(path, "auditor", headers={"Accept": "application/pdf"})
    assert by_accept.headers["content-type"] == "application/pdf"
    assert by_accept.content == api.get(f"{path}/pdf", "billing_staff").content
    assert by_accept.content == api.get(f"{path}/pdf", "admin").content
    assert by_accept.headers["ETag"] == api.get(path, "admin").headers["ETag"]


def test_a_payment_changes_the_pdf_and_as_of_renders_the_past(
    api: Api, clock: ControllableClock
) -> None:
    path = f"/v1/invoices/{api.acme.invoice_id}/pdf"
    before = api.get(path, "admin").content
    moment = clock.now().isoformat()
    clock.advance(timedelta(hours=1))
    api.post(f"/v1/invoices/{api.acme.invoice_id}/payments", "admin", json={}).raise_for_status()
    after = api.get(path, "admin").content
    assert "Status: PAID" in pdf_text(after)
    assert "Balance due 0.00 USD" in pdf_text(after)
    assert api.get(path, "admin", params={"as_of": moment}).content == before


def test_the_buyer_is_named_as_when_the_invoice_was_issued(api: Api) -> None:
    path = f"/v1/invoices/{api.acme.invoice_id}/pdf"
    before = api.get(path, "admin").content
    changed = {"legal_name": "Acme Holdings", "tax_id": "US-99-1234567"}
    patch = api.patch(f"/v1/accounts/{api.acme.account_id}/billing-details", "admin", json=changed)
    patch.raise_for_status()
    assert api.get(path, "admin").content == before  # an issued invoice is not rewritten

    bought = api.post(
        f"/v1/accounts/{api.acme.account_id}/subscriptions",
        "admin",
        json={"lines": [{"product_code": "service-cloud", "quantity": 1}]},
    )
    bought.raise_for_status()
    (newest, *_) = reversed(api.get(f"/v1/accounts/{api.acme.account_id}/invoices", "admin").json())
    text = pdf_text(api.get(f"/v1/invoices/{newest['id']}/pdf", "admin").content)
    assert "Acme Holdings" in text
    assert "Tax ID: US-99-1234567" in text


def test_the_csv_lists_the_lines_by_path_or_by_accept(api: Api) -> None:
    path = f"/v1/invoices/{api.acme.invoice_id}"
    response = api.get(f"{path}/csv", "admin")
    assert response.headers["content-type"] == "text/csv; charset=utf-8"
    assert response.headers["content-disposition"].endswith('.csv"')
    (line,) = csv.DictReader(io.StringIO(response.text))
    assert (line["product_code"], line["quantity"], line["unit_price"], line["amount"]) == (
        "sales-cloud",
        "5",
        "300.00",
        "1500.00",
    )
    assert api.get(path, "admin", headers={"Accept": "text/csv"}).text == response.text


def test_json_stays_the_default(api: Api) -> None:
    path = f"/v1/invoices/{api.acme.invoice_id}"
    for accept in ("application/json", "*/*", "image/png", "application/json, application/pdf"):
        response = api.get(path, "admin", headers={"Accept": accept})
        assert response.headers["content-type"] == "application/json", accept
        assert response.json()["id"] == str(api.acme.invoice_id)


def test_documents_keep_to_the_access_rules(api: Api) -> None:
    for suffix in ("pdf", "csv"):
        path = f"/v1/invoices/{api.acme.invoice_id}/{suffix}"
        api.refused(404, "GET", path, "other_admin")
        problem = api.refused(403, "GET", path, "user")
        assert problem["permission"] == "manage_billing"
        api.refused(403, "GET", path, "operator")
        api.refused(401, "GET", path)
    api.refused(
        404,
        "GET",
        f"/v1/invoices/{api.acme.invoice_id}",
        "other_admin",
        headers={"Accept": "application/pdf"},
    )
