"""The customer's story in a real browser, in English and in French: sign in with a
link, add seats, buy an add-on, pay in two parts, share an invoice and revoke the link,
change the renewal, ask for help, buy a product as a new contract (its first invoice
shown live, then on review), sign out. Every page on the way passes axe-core and
is photographed at desktop and phone width. The same purchase and payment are then made
with JavaScript off.

The steps find things by what they are (form actions, field ids), not by their words,
so one story serves both languages."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from domain.invoice import InvoiceStatus
from service.demo.history import NORTHWIND
from tests.browser.checks import Pages, attach_console
from tests.browser.conftest import DESKTOP, DemoServer


def _notice(page: Any) -> str:
    return str(page.locator(".alert-success").inner_text())


@pytest.mark.parametrize("language", ["en", "fr"])
def test_the_customer_story(
    browser: Any, demo: DemoServer, screenshots: Path, language: str
) -> None:
    context = browser.new_context(viewport=DESKTOP, locale={"en": "en-US", "fr": "fr-FR"}[language])
    context.grant_permissions(["clipboard-read", "clipboard-write"], origin=demo.url)
    page = context.new_page()
    pages = Pages(screenshots, language)
    attach_console(page, pages.console)
    head = demo.ledger.head_position()

    # sign in with a link
    page.goto(demo.link(NORTHWIND, "ada"))
    pages.check(page, "sign-in")
    page.click("main form button[type=submit]")
    assert f"/app/accounts/{NORTHWIND}?notice=signed-in" in page.url
    pages.check(page, "overview")

    # add seats: choose, review, confirm
    page.click("a[href$='/licenses']")
    pages.check(page, "add-licenses")
    page.fill("#quantity", "2")
    page.click("main form button[type=submit]")
    pages.check(page, "add-licenses-review")
    page.click("main form button[type=submit]")
    assert _notice(page)
    pages.check(page, "contract")
    sub = demo.ledger.subscriptions_of(NORTHWIND)[0]
    assert sub.lines["sales-cloud"].quantity == 12

    # buy an add-on from the edition's catalog
    page.click("a[href$='/products']")
    pages.check(page, "add-product")
    page.check("#product-file-storage")
    page.fill("#quantity", "3")
    page.click("main form button[type=submit]")
    page.click("main form button[type=submit]")
    assert _notice(page)
    assert demo.ledger.subscriptions_of(NORTHWIND)[0].lines["file-storage"].quantity == 3

    # the invoices: open ones, the newest, paid in two parts
    page.click("nav.sidenav a[href$='/invoices']")
    pages.check(page, "invoices")
    page.select_option("#status", "open")  # applies at once (app.js)
    page.wait_for_url("**status=open")
    rows = page.locator("main table tbody tr")
    assert rows.count() == 2  # the seats' and the add-on's
    page.click("main table tbody tr:first-child a")
    pages.check(page, "invoice")
    invoice_id = page.url.split("/invoices/")[1].split("?")[0]
    page.check("#how-part")
    page.fill("#amount", "10.00")
    page.click("form[action$='/payments'] button[type=submit]")
    assert _notice(page)
    page.click("form[action$='/payments'] button[type=submit]")
    assert _notice(page)
    from uuid import UUID

    assert demo.ledger.invoice(UUID(invoice_id)).status is InvoiceStatus.PAID
    pages.check(page, "invoice-paid", mobile=False)

    # share it, open the link as someone else would, revoke it
    page.click("form[action$='/share-links'] button[type=submit]")
    url = page.input_value("#shared-url")
    page.click("button[data-copy]")
    assert page.evaluate("navigator.clipboard.readText()") == url
    pages.check(page, "invoice-shared")
    outsider = browser.new_context().new_page()
    assert outsider.goto(url).status == 200
    page.click("form[action$='/revoke'] button[type=submit]")
    assert _notice(page)
    assert outsider.goto(url).status == 404
    outsider.context.close()

    # the renewal: more seats, a longer term
    page.click("nav.sidenav a[aria-current], nav.sidenav li:first-child a")
    page.click("a[href$='/renewal']")
    pages.check(page, "renewal")
    page.fill("#quantity-sales-cloud", "14")
    page.select_option("#term_months", "24")
    page.click("main form:not(.danger-zone) button[type=submit]")
    assert _notice(page)
    renewal = demo.ledger.subscriptions_of(NORTHWIND)[0].renewal
    assert renewal is not None and renewal.term_months == 24

    # the other pages, and a support case
    for section in ("billing", "users", "upgrade"):
        page.click(f"nav.sidenav a[href$='/{section}']")
        pages.check(page, section)
    page.click("nav.sidenav a[href$='/support']")
    page.fill("#subject", "Seats for the new team")
    page.fill("#description", "We hire five people in January.")
    page.click("main form button[type=submit]")
    assert _notice(page)
    pages.check(page, "support")

    # buy another product as a new contract: the first invoice shown, then issued
    page.click(f"nav.sidenav a[href$='/accounts/{NORTHWIND}']")
    page.click("a[href$='/buy']")
    page.fill("#quantity-sales-cloud", "3")
    page.wait_for_selector("#live-preview table")  # the live preview (app.js)
    pages.check(page, "buy")
    contracts = len(demo.ledger.subscriptions_of(NORTHWIND))
    page.click("main form button[type=submit]")
    pages.check(page, "buy-review")
    page.click("main form button[type=submit]")
    assert _notice(page)
    assert len(demo.ledger.subscriptions_of(NORTHWIND)) == contracts + 1

    page.click("form.sign-out button")
    pages.check(page, "signed-out")
    assert demo.ledger.head_position() > head
    assert pages.console == []  # no error of any kind, CSP refusals included
    context.close()


def test_buying_and_paying_work_with_javascript_off(browser: Any, demo: DemoServer) -> None:
    context = browser.new_context(viewport=DESKTOP, java_script_enabled=False)
    page = context.new_page()
    page.goto(demo.link(NORTHWIND, "ada"))
    page.click("main form button[type=submit]")
    page.click("a[href$='/licenses']")
    page.fill("#quantity", "1")
    page.click("main form button[type=submit]")
    page.click("main form button[type=submit]")
    assert _notice(page)
    page.click("nav.sidenav a[href$='/invoices']")
    page.select_option("#status", "open")
    page.click("form.filter button")  # without JavaScript, the filter has its button
    page.click("main table tbody tr:first-child a")
    page.click("form[action$='/payments'] button[type=submit]")
    assert _notice(page)
    context.close()
