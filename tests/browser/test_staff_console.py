"""The billing staff's console in a real browser, in English and in French: find an
account, see it as it was at the end of last March with what changed marked, read the
book report and its chart, run billing on the test clock, answer a support case. Every
page passes axe-core and is photographed at desktop and phone width."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from service.access.tokens import Role
from service.demo.history import NORTHWIND
from tests.browser.checks import Pages, attach_console, go
from tests.browser.conftest import DESKTOP, DemoServer
from tests.browser.test_keyboard_and_other_pages import follow, tab_to


@pytest.mark.parametrize("language", ["en", "fr"])
def test_the_staff_console(
    browser: Any, demo: DemoServer, screenshots: Path, language: str
) -> None:
    context = browser.new_context(viewport=DESKTOP, locale={"en": "en-US", "fr": "fr-FR"}[language])
    page = context.new_page()
    pages = Pages(screenshots, language)
    attach_console(page, pages.console)

    page.goto(demo.link(role=Role.BILLING_STAFF))
    go(page, "main form button[type=submit]")
    page.fill("#q", "northw")
    go(page, "form[role=search] button")
    assert page.locator("main table tbody tr").count() == 1
    pages.check(page, "staff-search")

    go(page, f"a[href$='/accounts/{NORTHWIND}']")
    go(page, "nav.sidenav a[href$='/time-travel']")
    go(page, ".shortcuts a:nth-of-type(2)")  # the end of last March
    go(page, ".shortcuts a:last-of-type")  # now, compared with it
    assert page.locator("tr.changed").count() > 0
    pages.check(page, "staff-time-travel")

    go(page, "nav.sidenav a[href$='/invoices']")
    go(page, "main table tbody tr:first-child a")
    pages.check(page, "staff-invoice")  # with its corrections
    go(page, "nav.sidenav a[href$='/upgrade']")
    assert page.locator("form[action$='/carry-out']").count() == 1
    pages.check(page, "staff-upgrade")
    go(page, "nav.sidenav a[href$='/users']")
    go(page, "a[href$='/users/ben/remove']")
    pages.check(page, "staff-remove-user")

    go(page, "nav.console a[href$='/book']")
    assert page.locator("svg.chart").count() >= 2
    pages.check(page, "staff-book")

    go(page, "nav.console a[href$='/test-clock']")
    pages.check(page, "staff-test-clock")
    before = demo.ledger.clock.now()
    page.select_option("#advance", "P1D")
    go(page, "main form button[type=submit]")
    assert page.locator(".alert-success").count() == 1
    assert demo.ledger.clock.now() > before

    page.goto(f"{demo.northwind}/support")
    page.fill("form[action$='/replies'] textarea", "Thank you, it is done.")  # the demo's case
    go(page, "form[action$='/replies'] button")
    assert page.locator(".alert-success").count() == 1
    pages.check(page, "staff-support")
    assert pages.console == []
    context.close()


@pytest.mark.parametrize("language", ["en", "fr"])
def test_the_auditors_view(
    browser: Any, demo: DemoServer, screenshots: Path, language: str
) -> None:
    context = browser.new_context(
        viewport=DESKTOP, locale={"en": "en-US", "fr": "fr-FR"}[language], accept_downloads=True
    )
    page = context.new_page()
    pages = Pages(screenshots, language)
    attach_console(page, pages.console)
    page.goto(demo.link(role=Role.AUDITOR))
    go(page, "main form button[type=submit]")
    go(page, f"a[href$='/accounts/{NORTHWIND}']")
    go(page, "nav.sidenav a[href$='/history']")
    assert page.locator("table.timeline tbody tr").count() > 0
    go(page, "a[href*='verify=1']")
    assert page.locator(".chain-ok").count() == 1
    pages.check(page, "auditor-history")
    page.fill("#event_type", "Invoice.InvoicePaid")
    go(page, "form[aria-labelledby=filter-title] button[type=submit]")
    rows = page.locator("table.timeline tbody tr")
    assert rows.count() > 0
    assert all(t == "Invoice.InvoicePaid" for t in rows.locator("th").all_inner_texts())
    with page.expect_download() as download:
        page.click("a[href$='/export.zip']")
    assert download.value.suggested_filename.endswith("-export.zip")
    assert pages.console == []
    context.close()


def test_staff_time_travel_with_the_keyboard_alone(browser: Any, demo: DemoServer) -> None:
    context = browser.new_context(viewport=DESKTOP)
    page = context.new_page()
    page.goto(demo.link(role=Role.BILLING_STAFF))
    tab_to(page, "main form button[type=submit]")
    follow(page)
    tab_to(page, "#q")
    page.keyboard.type("Northwind")
    follow(page)  # Enter sends the search
    tab_to(page, f"main a[href$='/accounts/{NORTHWIND}']")
    follow(page)
    tab_to(page, "nav.sidenav a[href$='/time-travel']")
    follow(page)
    tab_to(page, ".shortcuts a:nth-of-type(2)")  # the end of last March
    follow(page)
    assert "as_of=" in page.url
    tab_to(page, ".shortcuts a:last-of-type")  # now, compared with it
    follow(page)
    assert page.locator("tr.changed").count() > 0
    context.close()
