"""The billing staff's console over HTTP, as a browser without JavaScript uses it: finding
an account, the account as it was (time travel, what changed marked), the book report
with its chart, corrections with a reason, carrying out an upgrade, answering and closing
support cases, and the test clock's billing run. Each action is the API's use case with
the API's access rule; a refusal is shown beside its form and writes nothing."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, timedelta

import pytest
from fastapi.testclient import TestClient

from adapters.clock import ControllableClock
from adapters.store import StoreSettings
from domain.catalog import Edition
from domain.invoice import InvoiceStatus
from service.access.tokens import Role
from service.clock.test_clock import use_test_clock
from service.http.app import create_app
from service.ledger.application import Ledger
from service.reads.read_side import ReadSide
from service.web.deps import SESSION_COOKIE
from tests.e2e.conftest import Api, seed_ledger
from tests.e2e.web import Visitor, forms_of, link_for, sign_in


def staff(api: Api, role: Role = Role.BILLING_STAFF, client: TestClient | None = None) -> Visitor:
    visitor = Visitor(api, client or api.client)
    link = link_for(api, None, None, role)
    visitor.get(link)
    visitor.submit(link)
    assert visitor.page is not None and visitor.page.status_code == 200, visitor.page.text
    return visitor


def _acct(api: Api) -> str:
    return f"/app/accounts/{api.acme.account_id}"


def test_staff_find_an_account_by_name_id_or_invoice_number(api: Api) -> None:
    visitor = staff(api)
    assert "Find an account" in visitor.page.text  # type: ignore[union-attr]
    number = api.ledger.invoice(api.other.invoice_id).number
    for wanted, found in (
        ("acm", "Acme"),
        (str(api.other.account_id), "Other"),
        (number, "Other"),
    ):
        page = visitor.get("/app/", params={"q": wanted})
        links = [a for a in (str(api.acme.account_id), str(api.other.account_id)) if a in page.text]
        assert len(links) == 1, wanted
        assert found in page.text
    assert "0 accounts found" in visitor.get("/app/", params={"q": "%_nobody"}).text


def test_staff_see_the_account_as_it_was_and_what_changed(
    api: Api, clock: ControllableClock
) -> None:
    then = api.ledger.clock.now().astimezone(UTC).replace(tzinfo=None).isoformat()
    clock.advance(timedelta(minutes=5))
    api.post(
        f"/v1/subscriptions/{api.acme.subscription_id}/licenses",
        "admin",
        json={"product_code": "sales-cloud", "quantity": 3},
    )
    visitor = staff(api)
    page = visitor.get(f"{_acct(api)}/time-travel", params={"compare": then})
    assert page.status_code == 200
    changed = [row for row in page.text.split("<tr") if 'class="changed"' in row]
    assert any("Sales Cloud" in row and ">8<" in row and ">5<" in row for row in changed), changed
    alone = visitor.get(f"{_acct(api)}/time-travel", params={"as_of": then})
    assert 'class="changed"' not in alone.text and ">5<" in alone.text
    refused = visitor.get(f"{_acct(api)}/time-travel", params={"as_of": "yesterday"})
    assert refused.status_code == 422 and 'role="alert"' in refused.text
    assert 'value="yesterday"' in refused.text  # as typed, to be corrected


def test_the_time_travel_form_shows_the_instant_asked_for_in_its_own_format(api: Api) -> None:
    """A bare date (the end of that day) or an offset is no value a ``datetime-local``
    field shows: the form gives it the instant asked for, in UTC, to the second."""
    visitor = staff(api)
    day = visitor.get(f"{_acct(api)}/time-travel", params={"as_of": "2026-03-31"})
    assert 'name="as_of" type="datetime-local" step="1" value="2026-03-31T23:59:59"' in day.text
    offset = visitor.get(
        f"{_acct(api)}/time-travel",
        params={"as_of": "2026-04-01T02:30:00+02:00", "compare": "2026-03-01"},
    )
    assert 'name="as_of" type="datetime-local" step="1" value="2026-04-01T00:30:00"' in offset.text
    assert 'value="2026-03-01T23:59:59"' in offset.text


def test_the_book_report_has_a_chart_drawn_on_the_server(api: Api) -> None:
    visitor = staff(api)
    page = visitor.get("/app/book")
    assert page.status_code == 200
    assert page.text.count('<svg class="chart') == 2  # MRR in USD, active seats
    assert 'role="img"' in page.text and "<script" not in page.text.split("</head>")[1]
    customer = sign_in(api)
    assert customer.get("/app/book").status_code == 403


def test_staff_correct_an_invoice_with_a_reason(api: Api) -> None:
    visitor = staff(api)
    page = f"{_acct(api)}/invoices/{api.acme.invoice_id}"
    shown = visitor.get(page).text
    title = shown.split("<title>")[1].split("</title>")[0]
    assert title.startswith("Invoice ") and "<" not in title, title
    assert 'action="' in shown and shown.count('id="corrections"') == 1
    head = api.head
    refused = visitor.submit("/void", reason="")
    assert refused.status_code == 422 and 'id="void-problem"' in refused.text
    assert api.head == head
    visitor.get(page)
    credited = visitor.submit("/credit-notes", amount="10.00", reason="goodwill")
    assert "Credit note issued" in credited.text
    assert api.ledger.invoice(api.acme.invoice_id).credited.amount == 10
    voided = visitor.submit("/void", reason="sold by mistake")
    assert "Invoice voided" in voided.text
    assert api.ledger.invoice(api.acme.invoice_id).status is InvoiceStatus.VOID
    customer = sign_in(api)
    customer.get(page)
    forged = api.client.post(f"{page}/void", data={"csrf": _csrf(customer), "reason": "x"})
    assert forged.status_code == 403


def _csrf(visitor: Visitor) -> str:
    assert visitor.page is not None
    return next(f.fields["csrf"] for f in forms_of(visitor.page.text) if "csrf" in f.fields)


def test_staff_carry_out_a_requested_upgrade(api: Api) -> None:
    customer = sign_in(api)
    customer.get(f"{_acct(api)}/upgrade")
    customer.submit("/upgrade", edition="Professional")
    assert "carry-out" not in customer.page.text  # type: ignore[union-attr]
    visitor = staff(api)
    visitor.get(f"{_acct(api)}/upgrade")
    head = api.head
    refused = visitor.submit("/carry-out", reason="")
    assert refused.status_code == 422 and api.head == head
    done = visitor.submit("/carry-out", reason="agreed with the customer")
    assert "Edition changed" in done.text
    account = api.ledger.account(api.acme.account_id)
    assert account.edition is Edition.PROFESSIONAL and account.upgrade_requested is None


def test_staff_answer_and_close_a_support_case_the_customer_reads(api: Api) -> None:
    customer = sign_in(api)
    customer.get(f"{_acct(api)}/support")
    customer.submit("/support", subject="Invoice address", description="Please change it.")
    visitor = staff(api)
    found = re.findall(
        r"/support/([0-9a-f-]{36})/replies", visitor.get(f"{_acct(api)}/support").text
    )
    case_id = found[0]
    visitor.submit(f"/{case_id}/replies", message="Done: see your next invoice.")
    visitor.submit(f"/{case_id}/close", resolution="address changed")
    head = api.head
    again = api.client.post(
        f"{_acct(api)}/support/{case_id}/replies",
        data={"csrf": _csrf(visitor), "message": "one more"},
    )
    assert again.status_code == 409 and api.head == head  # a closed case takes no reply
    page = customer.get(f"{_acct(api)}/support")
    assert "Done: see your next invoice." in page.text and "Closed" in page.text
    assert f"/support/{case_id}/replies" not in page.text


@pytest.fixture
def rehearsal(store: StoreSettings, ledger: Ledger) -> Iterator[Api]:
    seed = seed_ledger(ledger)
    use_test_clock(ledger)
    with TestClient(create_app(ReadSide(store, ledger))) as client:
        yield Api(client, ledger, seed)


def test_on_a_test_clock_staff_run_billing_from_the_console(rehearsal: Api) -> None:
    customer = _customer_cookie(rehearsal)
    _run_billing(rehearsal)
    rehearsal.client.cookies.set(SESSION_COOKIE, customer)
    overview = rehearsal.client.get(f"/app/accounts/{rehearsal.acme.account_id}")
    assert overview.status_code == 200, "sessions run on real time: a month is not idle"


def test_moving_a_test_clock_a_year_keeps_everyone_signed_in(rehearsal: Api) -> None:
    customer = _customer_cookie(rehearsal)
    moved = rehearsal.post("/v1/test-clock", "operator", json={"advance": "P1Y"})
    assert moved.status_code == 200, moved.text
    rehearsal.client.cookies.set(SESSION_COOKIE, customer)
    overview = rehearsal.client.get(f"/app/accounts/{rehearsal.acme.account_id}")
    assert overview.status_code == 200


def _customer_cookie(rehearsal: Api) -> str:
    """A customer's session cookie, taken out of the client's jar (another browser's)."""
    sign_in(rehearsal)
    cookie = rehearsal.client.cookies[SESSION_COOKIE]
    rehearsal.client.cookies.clear()
    return cookie


def _run_billing(rehearsal: Api) -> None:
    visitor = staff(rehearsal)
    page = visitor.get("/app/test-clock")
    assert "Run billing" in page.text
    before = rehearsal.ledger.clock.now()
    assert rehearsal.ledger.invoice(rehearsal.acme.invoice_id).overdue_since is None
    moved = visitor.submit("/test-clock", advance="P1M")
    assert moved.status_code == 200 and "billing ran" in moved.text
    assert "Run billing" in moved.text, "the visitor who moved the clock is still signed in"
    assert rehearsal.ledger.clock.now() >= before + timedelta(days=28)
    # the billing run went through each day: the unpaid invoice fell overdue on its day
    assert rehearsal.ledger.invoice(rehearsal.acme.invoice_id).overdue_since is not None
    auditor = staff(rehearsal, Role.AUDITOR)
    assert "Run billing" not in auditor.get("/app/test-clock").text


def test_without_a_test_clock_the_console_says_so(api: Api) -> None:
    page = staff(api).get("/app/test-clock")
    assert page.status_code == 200 and "Run billing" not in page.text
