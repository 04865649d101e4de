"""Every form of the customer pages, sent as a browser without JavaScript sends it: each
calls the Ledger's use case (the same as the API's), a refusal shows the problem beside
the form and writes nothing, and a form sent twice acts once."""

from __future__ import annotations

from domain.invoice import Invoice, InvoiceStatus
from service.sharing.links import ShareLinks
from tests.e2e.conftest import Api
from tests.e2e.web import Visitor, sign_in


def _acct(api: Api) -> str:
    return f"/app/accounts/{api.acme.account_id}"


def _invoices(api: Api) -> list[Invoice]:
    return api.ledger.invoices_of(api.acme.account_id)


def test_adding_licenses_reviews_then_buys_once_however_often_confirmed(api: Api) -> None:
    visitor = sign_in(api)
    contract = f"{_acct(api)}/contracts/{api.acme.subscription_id}"
    visitor.get(f"{contract}/licenses")
    review = visitor.submit("/licenses", product_code="sales-cloud", quantity="3")
    assert review.status_code == 200 and "Review your order" in review.text
    assert "from 5 to 8" in review.text
    before = api.head
    confirm = visitor.form("/licenses")
    first = api.client.post(confirm.action or visitor.url, data=confirm.fields)
    assert first.status_code == 200 and "Licenses added" in first.text
    after_first = api.head
    assert after_first > before
    again = api.client.post(confirm.action or visitor.url, data=confirm.fields)  # double click
    assert again.status_code == 200
    assert api.head == after_first, "a second confirmation wrote again"
    assert api.ledger.subscription(api.acme.subscription_id).lines["sales-cloud"].quantity == 8
    assert len(_invoices(api)) == 2


def test_a_refused_form_shows_the_problem_and_writes_nothing(api: Api) -> None:
    visitor = sign_in(api)
    visitor.get(f"{_acct(api)}/contracts/{api.acme.subscription_id}/licenses")
    head = api.head
    refused = visitor.submit("/licenses", quantity="0")
    assert refused.status_code == 422
    assert 'role="alert"' in refused.text and "Please check what you entered" in refused.text
    assert api.head == head


def test_adding_a_product_from_the_editions_catalog(api: Api) -> None:
    visitor = sign_in(api)
    visitor.get(f"{_acct(api)}/contracts/{api.acme.subscription_id}/products")
    assert "Inbox" not in visitor.page.text  # not sold in Essentials  # type: ignore[union-attr]
    visitor.submit("/products", product_code="data-storage", quantity="2")
    done = visitor.submit("/products")
    assert "Added to your contract" in done.text
    assert api.ledger.subscription(api.acme.subscription_id).lines["data-storage"].quantity == 2
    head = api.head
    visitor.get(f"{_acct(api)}/contracts/{api.acme.subscription_id}/products")
    refused = visitor.submit("/products", product_code="inbox", quantity="1")  # forged
    assert refused.status_code == 409 and "not sold in the Essentials edition" in refused.text
    assert api.head == head


def test_the_renewal_is_changed_cancelled_and_scheduled_again(api: Api) -> None:
    visitor = sign_in(api)
    renewal = f"{_acct(api)}/contracts/{api.acme.subscription_id}/renewal"
    visitor.get(renewal)
    visitor.submit("/renewal", **{"quantity-sales-cloud": "7", "term_months": "24"})
    sub = api.ledger.subscription(api.acme.subscription_id)
    assert sub.renewal is not None and sub.renewal.term_months == 24
    assert [line.quantity for line in sub.renewal.lines] == [7]
    visitor.get(renewal)
    cancelled = visitor.submit("/renewal", action="cancel")
    assert "Your renewal is cancelled" in cancelled.text
    assert api.ledger.subscription(api.acme.subscription_id).renewal is None
    visitor.get(renewal)
    visitor.submit("/renewal")
    assert api.ledger.subscription(api.acme.subscription_id).renewal is not None


def test_paying_part_then_the_rest_and_a_declined_card(api: Api) -> None:
    visitor = sign_in(api)
    page = f"{_acct(api)}/invoices/{api.acme.invoice_id}"
    visitor.get(page)
    declined = visitor.submit("/payments", payment_method="pm_card_declined")
    assert declined.status_code == 402 and "Payment declined" in declined.text
    invoice = api.ledger.invoice(api.acme.invoice_id)
    assert invoice.status is InvoiceStatus.OPEN and invoice.paid.amount == 0
    visitor.get(page)
    # the card given at checkout became the saved method: pay part with another test card
    part = visitor.submit("/payments", how="part", amount="100.00", payment_method="pm_card_visa")
    assert "Payment received" in part.text
    assert api.ledger.invoice(api.acme.invoice_id).paid.amount == 100
    visitor.get(page)
    visitor.submit("/payments")  # the saved method, the balance
    assert api.ledger.invoice(api.acme.invoice_id).status is InvoiceStatus.PAID


def test_paying_more_than_the_balance_is_refused_in_words(api: Api) -> None:
    visitor = sign_in(api)
    visitor.get(f"{_acct(api)}/invoices/{api.acme.invoice_id}")
    head = api.head
    refused = visitor.submit("/payments", how="part", amount="999999.00")
    assert refused.status_code == 409
    assert "The amount is more than the balance due." in refused.text
    assert api.head == head


def test_a_share_link_is_shown_once_opens_the_invoice_and_is_revoked(api: Api) -> None:
    visitor = sign_in(api)
    visitor.get(f"{_acct(api)}/invoices/{api.acme.invoice_id}")
    created = visitor.submit("/share-links", days="1")
    assert "Share link created" in created.text
    url = created.text.split('id="shared-url" type="text" readonly value="')[1].split('"')[0]
    shared = api.client.get(url.removeprefix("http://testserver"))
    assert shared.status_code == 200
    link = ShareLinks(api.ledger).of_invoice(api.acme.invoice_id)[0]
    visitor.get(f"{_acct(api)}/invoices/{api.acme.invoice_id}")
    visitor.submit(f"/share-links/{link.id}/revoke")
    assert api.client.get(url.removeprefix("http://testserver")).status_code == 404


def test_invoices_download_as_pdf_and_csv_and_filter_by_status(api: Api) -> None:
    visitor = sign_in(api)
    pdf = api.client.get(f"{_acct(api)}/invoices/{api.acme.invoice_id}/pdf")
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")
    csv = api.client.get(f"{_acct(api)}/invoices/{api.acme.invoice_id}/csv")
    assert csv.headers["content-type"].startswith("text/csv")
    number = api.ledger.invoice(api.acme.invoice_id).number
    assert number in visitor.get(f"{_acct(api)}/invoices?status=open").text
    assert number not in visitor.get(f"{_acct(api)}/invoices?status=paid").text


def test_billing_details_contacts_and_payment_method(api: Api) -> None:
    visitor = sign_in(api)
    visitor.get(f"{_acct(api)}/billing")
    visitor.submit("/billing/details", city="Shelbyville", address_line2="Suite 9")
    billing = api.ledger.account(api.acme.account_id).billing
    assert (billing.city, billing.address_line2) == ("Shelbyville", "Suite 9")
    head = api.head
    refused = visitor.submit("/billing/payment-method", reference="4242 4242 4242 4242")
    assert refused.status_code == 422 and "card numbers are never recorded" in refused.text
    assert api.head == head
    visitor.get(f"{_acct(api)}/billing")
    visitor.submit("/billing/payment-method", reference="pm_card_mastercard")
    assert api.ledger.account(api.acme.account_id).payment_method == "pm_card_mastercard"
    visitor.submit(
        "/billing/contacts", name="Tess Tech", email="tess@acme.example", role="technical"
    )
    contacts = api.ledger.account(api.acme.account_id).contacts
    assert [c.name for c in contacts.values()] == ["Bill Payer", "Tess Tech"]
    visitor.submit("/contacts/c-billing/remove")
    assert list(api.ledger.account(api.acme.account_id).contacts) != ["c-billing"]
    assert "c-billing" not in api.ledger.account(api.acme.account_id).contacts


def test_users_manage_billing_identity_licenses_and_seats(api: Api) -> None:
    visitor = sign_in(api)
    users = visitor.get(f"{_acct(api)}/users")
    assert "1 of 100 free identity licenses used." in users.text
    visitor.submit("/users/ben/manage-billing/grant")
    assert api.ledger.account(api.acme.account_id).has_manage_billing("ben")
    visitor.submit("/users/ben/manage-billing/revoke")
    assert not api.ledger.account(api.acme.account_id).has_manage_billing("ben")
    visitor.submit("/users/ben/identity-license/assign")
    assert "2 of 100 free identity licenses used." in visitor.page.text  # type: ignore[union-attr]
    visitor.submit("/users", user_id="dan", name="Dan Park", email="dan@acme.example")
    assert "dan" in api.ledger.account(api.acme.account_id).users
    visitor.submit("/seats/sales-cloud/assign", user_id="dan")
    assert "dan" in api.ledger.license(api.acme.account_id, "sales-cloud").assigned
    visitor.submit("/seats/sales-cloud/unassign", user_id="dan")
    assert "dan" not in api.ledger.license(api.acme.account_id, "sales-cloud").assigned
    head = api.head
    forged = visitor.form("/users/ben/manage-billing/grant").fields  # no such button for ada
    refused = api.client.post(f"{_acct(api)}/users/ada/manage-billing/revoke", data=forged)
    assert refused.status_code == 409 and 'lang="en"' in refused.text
    assert api.head == head


def test_asking_for_an_upgrade_and_opening_a_support_case(api: Api) -> None:
    visitor = sign_in(api)
    visitor.get(f"{_acct(api)}/upgrade")
    asked = visitor.submit("/upgrade", edition="Professional", note="Forecasts, please")
    assert "Your account manager will contact you" in asked.text
    assert api.ledger.account(api.acme.account_id).upgrade_requested is not None
    visitor.get(f"{_acct(api)}/support")
    opened = visitor.submit("/support", subject="Invoice copy", description="Please send a copy.")
    assert "Support case opened" in opened.text and "Invoice copy" in opened.text


def test_a_form_without_the_sessions_token_or_from_another_site_is_refused(api: Api) -> None:
    visitor = sign_in(api)
    visitor.get(f"{_acct(api)}/support")
    form = visitor.form("/support")
    head = api.head
    forged = {**form.fields, "csrf": "0" * 64, "subject": "x", "description": "y"}
    assert api.client.post(f"{_acct(api)}/support", data=forged).status_code == 403
    cross = api.client.post(
        f"{_acct(api)}/support",
        data={**form.fields, "subject": "x", "description": "y"},
        headers={"Origin": "https://evil.example", "Sec-Fetch-Site": "cross-site"},
    )
    assert cross.status_code == 403 and "This form has expired" in cross.text
    assert api.head == head


def test_an_auditor_reads_any_account_and_changes_nothing(api: Api) -> None:
    from service.access.tokens import Role
    from tests.e2e.web import link_for

    visitor = Visitor(api, api.client)
    link = link_for(api, role=Role.AUDITOR)
    visitor.get(link)
    accounts = visitor.submit(link)
    assert "Acme" in accounts.text and "Other" in accounts.text
    page = visitor.get(f"{_acct(api)}/invoices/{api.acme.invoice_id}")
    assert page.status_code == 200 and "/payments" not in page.text
    forms = visitor.get(f"{_acct(api)}/billing")
    assert "/billing/details" not in forms.text and "ask an administrator" in forms.text


def test_the_invoices_page_lists_credit_notes_with_their_downloads(api: Api) -> None:
    visitor = sign_in(api, "jonas", "other")
    invoice_id, credit_id = api.other.invoice_id, api.other.credit_note_id
    credit = api.ledger.invoice(invoice_id).credit_note(credit_id)
    acct = f"/app/accounts/{api.other.account_id}"
    listed = visitor.get(f"{acct}/invoices").text
    assert f"Credit note {credit.number}" in listed
    base = f"{acct}/invoices/{invoice_id}/credit-notes/{credit_id}"
    assert f'href="{base}/pdf"' in listed and f'href="{base}/xml"' in listed
    assert f'href="{acct}/invoices/{invoice_id}/xml"' in listed
    in_french = visitor.get(f"{acct}/invoices", headers={"Accept-Language": "fr"}).text
    assert f"Avoir {credit.number}" in in_french
    assert "Credit notes" in visitor.get(f"{acct}/invoices/{invoice_id}").text

    api_path = f"/v1/invoices/{invoice_id}/credit-notes/{credit_id}"
    for kind in ("pdf", "xml"):
        served = api.client.get(f"{base}/{kind}")
        assert served.status_code == 200, served.text
        assert served.content == api.get(f"{api_path}/{kind}", "other_admin").content
    assert api.client.get(f"{base}/csv").status_code == 404
    # a credit note is found under its own invoice only
    elsewhere = f"{acct}/invoices/{api.acme.invoice_id}/credit-notes/{credit_id}/pdf"
    assert api.client.get(elsewhere).status_code == 404
