"""Invoice documents over HTTP: the PDF (its text read back), the same bytes for the same
invoice, the CSV of its lines, by path or by Accept, as of a past instant too."""

from __future__ import annotations

import csv
import io
import re
from datetime import timedelta

from pypdf import PdfReader

from adapters.clock import ControllableClock
from adapters.einvoice.validation import EN16931, RuleSet, validate_cii
from tests.e2e.conftest import Api
from tests.e2e.test_share_links import share
from tests.e2e.web import sign_in


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
        # the line's description wraps in its column: quantity, period (last day included),
        # unit price and amount excluding tax, VAT rate and category (G: export), VAT
        "Sales Cloud, 2026-01-05 to\n2027-01-05 5 2026-01-05 to 2027-01-04 300.00 1,500.00"
        " 0% G 0.00",
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


# -- credit notes ------------------------------------------------------------------------


def test_a_credit_note_is_listed_with_its_invoice_and_served_as_its_own_documents(
    api: Api,
) -> None:
    invoice_id, credit_id = api.other.invoice_id, api.other.credit_note_id
    invoice = api.ledger.invoice(invoice_id)
    credit = invoice.credit_note(credit_id)
    assert re.fullmatch(r"A-2026-\d{6}", credit.number)
    listed = api.get(f"/v1/accounts/{api.other.account_id}/invoices", "other_admin").json()
    (entry,) = [i for i in listed if i["id"] == str(invoice_id)]
    summary = {
        "id": credit_id,
        "number": credit.number,
        "issued_on": "2026-01-05",
        "amount": {"amount": "100.00", "currency": "USD"},
        "refund": {"amount": "0.00", "currency": "USD"},
    }
    assert entry["credit_notes"] == [summary]
    path = f"/v1/invoices/{invoice_id}/credit-notes"
    assert api.get(path, "other_admin").json() == [summary]

    own = api.get(f"{path}/{credit_id}", "other_admin").json()
    assert {k: own[k] for k in summary} == summary
    legal = own["legal"]
    assert (legal["type"], legal["type_code"], legal["number"]) == (
        "credit_note",
        "381",
        credit.number,
    )
    assert legal["corrects"] == {"number": invoice.number, "issued_on": "2026-01-05"}
    assert legal["total"] == {"amount": "100.00", "currency": "USD"}
    assert legal["buyer"]["legal_name"] == "Other Inc"

    xml = api.get(f"{path}/{credit_id}/xml", "other_admin")
    assert xml.status_code == 200, xml.text
    assert xml.headers["content-type"] == "application/xml; charset=utf-8"
    assert xml.headers["content-disposition"] == f'attachment; filename="{credit.number}.xml"'
    assert b"<ram:TypeCode>381</ram:TypeCode>" in xml.content
    assert f"<ram:IssuerAssignedID>{invoice.number}<".encode() in xml.content
    report = validate_cii(xml.content, (*EN16931, RuleSet.FRANCE_CTC))
    assert [f for f in report.findings if f.fatal] == []

    pdf = api.get(f"{path}/{credit_id}/pdf", "other_admin")
    assert pdf.headers["content-type"] == "application/pdf"
    assert pdf.headers["content-disposition"] == f'attachment; filename="{credit.number}.pdf"'
    assert PdfReader(io.BytesIO(pdf.content)).attachments == {"factur-x.xml": [xml.content]}
    text = pdf_text(pdf.content)
    for expected in (
        f"Credit note {credit.number}",
        f"Corrects invoice: {invoice.number} of 2026-01-05",
        "Other Inc",
        f"Avoir sur la facture {invoice.number} 1",
        "100.00 100.00 0% G 0.00",
        "Total credited 100.00 USD",
    ):
        assert expected in text, expected
    assert api.get(f"{path}/{credit_id}/pdf", "billing_staff").content == pdf.content


def test_a_credit_note_issued_over_http_names_its_number_and_reads_back(api: Api) -> None:
    invoice_id = api.acme.invoice_id
    issued = api.wrote(
        api.post(
            f"/v1/invoices/{invoice_id}/credit-notes",
            "billing_staff",
            json={"amount": "300.00", "reason": "one seat never used"},
        ),
        201,
    )
    credit = issued["credit_note"]
    assert re.fullmatch(r"A-2026-\d{6}", credit["number"])
    assert issued["invoice"]["credit_notes"] == [credit]
    own = api.get(f"/v1/invoices/{invoice_id}/credit-notes/{credit['id']}", "admin").json()
    assert own["legal"]["total"] == {"amount": "300.00", "currency": "USD"}
    assert api.get(f"/v1/invoices/{invoice_id}", "admin").json()["credit_notes"] == [credit]


def test_credit_notes_keep_to_the_invoices_access_rules(api: Api) -> None:
    base = f"/v1/invoices/{api.other.invoice_id}/credit-notes"
    for path in (
        base,
        f"{base}/{api.other.credit_note_id}",
        f"{base}/{api.other.credit_note_id}/pdf",
    ):
        api.refused(404, "GET", path, "admin")  # another account's
        api.refused(401, "GET", path)
        api.refused(403, "GET", path, "operator")
    api.refused(404, "GET", f"{base}/no-such-credit-note/xml", "other_admin")
    mine = f"/v1/invoices/{api.acme.invoice_id}/credit-notes"
    assert api.refused(403, "GET", mine, "user")["permission"] == "manage_billing"
    api.refused(
        404,
        "GET",
        f"/v1/invoices/{api.acme.invoice_id}/credit-notes/{api.other.credit_note_id}",
        "admin",
    )


# -- the legal mentions in every rendering -----------------------------------------------


MENTIONS = (
    "123456782",  # the seller's SIREN
    "12345678200010",  # its SIRET
    "FR11123456782",  # its VAT number
    "Acme Inc",
    "Springfield",
    "TVA non applicable, art. 259-1 du CGI",  # a service to a buyer outside the EU
    "pénalités au taux annuel de 12.15 %",
    "Indemnité forfaitaire pour frais de recouvrement",
)


def test_the_invoice_json_carries_every_legal_mention(api: Api) -> None:
    legal = api.get(f"/v1/invoices/{api.acme.invoice_id}", "admin").json()["legal"]
    assert (legal["type"], legal["type_code"], legal["corrects"]) == ("invoice", "380", None)
    assert legal["number"] == api.ledger.invoice(api.acme.invoice_id).number
    assert (legal["issued_on"], legal["due_on"]) == ("2026-01-05", "2026-02-04")
    assert (legal["service_period_start"], legal["service_period_end"]) == (
        "2026-01-05",
        "2027-01-04",
    )
    seller = legal["seller"]
    assert (seller["siren"], seller["siret"], seller["vat_number"]) == (
        "123456782",
        "12345678200010",
        "FR11123456782",
    )
    assert seller["address"]["city"] == "Paris"
    buyer = legal["buyer"]
    assert (buyer["legal_name"], buyer["address"]["city"], buyer["vat_number"]) == (
        "Acme Inc",
        "Springfield",
        None,
    )
    (line,) = legal["lines"]
    assert (line["quantity"], line["unit_price"]["amount"], line["vat_rate"]) == (
        "5",
        "300.00",
        "0",
    )
    assert (line["vat_category"], line["amount"]["amount"], line["tax"]["amount"]) == (
        "G",
        "1500.00",
        "0.00",
    )
    (vat,) = legal["vat_breakdown"]
    assert vat["exemption_reason"] == "TVA non applicable, art. 259-1 du CGI"
    assert (vat["basis"]["amount"], vat["tax"]["amount"]) == ("1500.00", "0.00")
    assert legal["total"] == {"amount": "1500.00", "currency": "USD"}
    assert legal["late_payment"] == {
        "penalty_rate": "0.1215",
        "recovery_indemnity": {"amount": "40.00", "currency": "EUR"},
    }
    notes = " ".join(n["text"] for n in legal["notes"])
    for mention in MENTIONS[5:]:
        assert mention in notes, mention
    assert [n["subject"] for n in legal["notes"]] == ["PMD", "PMT", "AAB", "TXD"]


def test_the_web_invoice_page_and_the_share_page_show_the_same_mentions(api: Api) -> None:
    visitor = sign_in(api)
    page = visitor.get(f"/app/accounts/{api.acme.account_id}/invoices/{api.acme.invoice_id}").text
    shared = share(api)
    opened = api.client.get(shared["url"]).text
    for text in (
        page,
        opened,
        pdf_text(api.get(f"/v1/invoices/{api.acme.invoice_id}/pdf", "admin").content),
    ):
        for mention in MENTIONS:
            assert mention in text, mention
    assert "Unit price excl. tax" in page and "Unit price excl. tax" in opened
    assert "Late-payment penalty rate" in page and "€40.00" in page
    french = visitor.get(
        f"/app/accounts/{api.acme.account_id}/invoices/{api.acme.invoice_id}",
        headers={"Accept-Language": "fr"},
    ).text
    assert "Mentions légales" in french and "Prix unitaire HT" in french
    assert "40,00\xa0€" in french
