"""A story done with the keyboard alone, and the pages the customer story does not
reach: a user without Manage Billing, staff and auditors, a used link, a missing page."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from service.access.tokens import Role
from service.demo.history import LUMEN, NORTHWIND
from tests.browser.checks import Pages, attach_console
from tests.browser.conftest import DESKTOP, DemoServer

FOCUSED = "document.activeElement"


def tab_to(page: Any, selector: str, limit: int = 80) -> None:
    """Press Tab until ``selector`` has the focus, as a keyboard user would; the focus
    must be visible on each element it reaches."""
    for _ in range(limit):
        page.keyboard.press("Tab")
        if page.evaluate(f"{FOCUSED}.matches({selector!r})"):
            outline = page.evaluate(f"getComputedStyle({FOCUSED}).outlineStyle")
            assert outline != "none", f"{selector} shows no focus"
            return
    raise AssertionError(f"{selector} cannot be reached with Tab")


def follow(page: Any) -> None:
    """Press Enter on what has the focus, and wait for the page it leads to."""
    with page.expect_navigation():
        page.keyboard.press("Enter")


def test_adding_seats_and_opening_a_case_with_the_keyboard_alone(
    browser: Any, demo: DemoServer
) -> None:
    context = browser.new_context(viewport=DESKTOP)
    page = context.new_page()
    page.goto(demo.link(NORTHWIND, "ada"))
    tab_to(page, "main form button[type=submit]")
    follow(page)
    page.keyboard.press("Tab")
    assert page.evaluate(f"{FOCUSED}.className") == "skip-link"
    assert page.locator(".skip-link").bounding_box()["y"] >= 0  # shown when focused
    page.keyboard.press("Enter")
    assert page.evaluate(f"{FOCUSED}.id") == "main"
    tab_to(page, "a[href$='/licenses']")
    follow(page)
    tab_to(page, "#quantity")
    page.keyboard.press("ControlOrMeta+a")
    page.keyboard.type("4")
    tab_to(page, "main form button[type=submit]")
    follow(page)
    tab_to(page, "main form button[type=submit]")
    follow(page)
    assert page.locator(".alert-success").count() == 1
    assert demo.ledger.subscriptions_of(NORTHWIND)[0].lines["sales-cloud"].quantity == 14
    tab_to(page, "nav.sidenav a[href$='/support']")
    follow(page)
    tab_to(page, "#subject")
    page.keyboard.type("Keyboard only")
    page.keyboard.press("Tab")
    page.keyboard.type("Everything here works without a mouse.")
    tab_to(page, "main form button[type=submit]")
    follow(page)
    assert page.locator(".alert-success").count() == 1
    context.close()


def test_the_pages_of_other_visitors(browser: Any, demo: DemoServer, screenshots: Path) -> None:
    for language, locale in (("en", "en-US"), ("fr", "fr-FR")):
        context = browser.new_context(viewport=DESKTOP, locale=locale)
        page = context.new_page()
        pages = Pages(screenshots, language)
        attach_console(page, pages.console)

        used = demo.link(NORTHWIND, "ben")  # a user without Manage Billing
        page.goto(used)
        page.click("main form button[type=submit]")
        pages.check(page, "ask-an-administrator")
        page.goto(used)
        pages.check(page, "link-already-used", mobile=False)
        page.goto(f"{demo.url}/app/accounts/{LUMEN}")
        pages.check(page, "not-found", mobile=False)
        page.context.clear_cookies()

        staff = demo.link(role=Role.BILLING_STAFF)
        page.goto(staff)
        pages.check(page, "sign-in-staff", mobile=False)
        page.click("main form button[type=submit]")
        pages.check(page, "staff-accounts")
        page.click(f"a[href$='/accounts/{LUMEN}']")
        pages.check(page, "staff-account-expired", mobile=False)
        page.context.clear_cookies()

        auditor = demo.link(role=Role.AUDITOR)
        page.goto(auditor)
        page.click("main form button[type=submit]")
        page.goto(f"{demo.northwind}/billing")
        pages.check(page, "auditor-billing", mobile=False)
        assert page.locator("form[action$='/billing/details']").count() == 0
        page.goto(f"{demo.url}/app/")
        page.context.clear_cookies()
        page.goto(f"{demo.url}/app/")
        pages.check(page, "signed-out-visitor", mobile=False)
        assert pages.console == [] or all(
            "401" in m or "403" in m or "404" in m for m in pages.console
        )
        context.close()
