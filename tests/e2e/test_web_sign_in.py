"""Signing in to the web app with a single-use link, the session it opens, signing out.

A session is checked on every request like a token: its end (sign-out, idleness, its
absolute lifetime) and a change of Manage Billing act on the very next request.
"""

from __future__ import annotations

from datetime import timedelta

import pytest

from adapters.clock import ControllableClock
from service.access.tokens import Role
from service.web.deps import SESSION_COOKIE
from service.web.portal_session import PortalSession
from tests.clocks import RealTimeAhead
from tests.e2e.conftest import STAFF, Api
from tests.e2e.web import Visitor, link_for, sign_in


def test_a_link_shows_who_it_signs_in_and_opening_it_does_not_use_it(api: Api) -> None:
    link = link_for(api, api.acme.account_id, "ada")
    first = api.client.get(link)
    again = api.client.get(link)  # a mail scanner fetching the link twice
    assert first.status_code == again.status_code == 200
    assert "Ada" in first.text and "Acme" in first.text
    assert SESSION_COOKIE not in api.client.cookies
    assert first.headers["referrer-policy"] == "no-referrer"


def test_signing_in_sets_a_session_cookie_and_opens_the_account(api: Api) -> None:
    link = link_for(api, api.acme.account_id, "ada")
    api.client.get(link)
    answer = api.client.post(link, follow_redirects=False)
    assert answer.status_code == 303
    cookie = answer.headers["set-cookie"]
    assert cookie.startswith(f"{SESSION_COOKIE}=")
    assert "HttpOnly" in cookie and "SameSite=lax" in cookie and "Path=/" in cookie
    home = api.client.get(answer.headers["location"])
    assert home.url.path == f"/app/accounts/{api.acme.account_id}"
    assert f"min_position={api.head}" in str(home.url)  # the first page waits for the log
    assert "You are signed in." in home.text


def test_a_link_works_once(api: Api) -> None:
    visitor = sign_in(api)
    link = link_for(api, api.acme.account_id, "ada")
    visitor.get(link)
    visitor.submit(link)
    stranger = Visitor(api, api.client)
    api.client.cookies.clear()
    again = stranger.client.post(link)
    assert again.status_code == 404
    assert "unknown, has expired or was already used" in again.text
    assert SESSION_COOKIE not in api.client.cookies


def test_an_expired_or_unknown_link_signs_nobody_in(api: Api, real_time: RealTimeAhead) -> None:
    link = link_for(api, api.acme.account_id, "ada")
    real_time.advance(timedelta(minutes=16))
    assert api.client.get(link).status_code == 404
    assert api.client.post(link).status_code == 404
    assert api.client.get("/app/sign-in/si_not-a-link").status_code == 404
    assert SESSION_COOKIE not in api.client.cookies


def test_without_a_session_every_page_asks_to_sign_in(api: Api) -> None:
    for path in ("/app/", f"/app/accounts/{api.acme.account_id}/invoices"):
        answer = api.client.get(path)
        assert answer.status_code == 401
        assert "Sign in to Your Account" in answer.text
    api.client.cookies.set(SESSION_COOKIE, "0" * 32 + ".forged")
    assert api.client.get("/app/").status_code == 401


def test_signing_out_ends_the_session_at_once(api: Api) -> None:
    visitor = sign_in(api)
    cookie = api.client.cookies[SESSION_COOKIE]
    visitor.submit("/app/sign-out")
    assert visitor.page is not None and "You are signed out" in visitor.page.text
    assert SESSION_COOKIE not in api.client.cookies
    api.client.cookies.set(SESSION_COOKIE, cookie)  # a copy of the old cookie
    assert api.client.get(f"/app/accounts/{api.acme.account_id}").status_code == 401
    session_id = cookie.split(".")[0]
    events = [type(e).__name__ for e in api.ledger.events.get(__import__("uuid").UUID(session_id))]
    assert events == ["LinkIssued", "SignedIn", "SignedOut"]


def test_a_session_ends_after_half_an_hour_idle_not_while_used(
    api: Api, real_time: RealTimeAhead
) -> None:
    sign_in(api)
    overview = f"/app/accounts/{api.acme.account_id}"
    head = api.head
    for _ in range(4):  # two hours of steady use
        real_time.advance(timedelta(minutes=29))
        assert api.client.get(overview).status_code == 200
    assert api.head == head, "activity must not write to the log"
    real_time.advance(timedelta(minutes=31))
    assert api.client.get(overview).status_code == 401


def test_a_session_ends_twelve_hours_after_sign_in_however_used(
    api: Api, real_time: RealTimeAhead
) -> None:
    sign_in(api)
    overview = f"/app/accounts/{api.acme.account_id}"
    for _ in range(24):
        real_time.advance(timedelta(minutes=29))
        assert api.client.get(overview).status_code == 200
    real_time.advance(timedelta(minutes=29))
    assert api.client.get(overview).status_code == 401


def test_the_ledgers_clock_moving_a_year_signs_nobody_out(
    api: Api, clock: ControllableClock, real_time: RealTimeAhead
) -> None:
    """Limits run on real time: a test clock's year is not a year of inactivity."""
    link = link_for(api, api.acme.account_id, "ben")  # a link made before the move
    sign_in(api)
    overview = f"/app/accounts/{api.acme.account_id}"
    clock.advance(timedelta(days=366))
    assert api.client.get(overview).status_code == 200
    assert api.client.get(link).status_code == 200, "the link still works"
    real_time.advance(timedelta(minutes=31))  # while real time still ends it
    assert api.client.get(overview).status_code == 401


def test_revoking_manage_billing_acts_on_the_next_page(api: Api) -> None:
    sign_in(api, "cara")  # an identity-license user granted Manage Billing
    overview = f"/app/accounts/{api.acme.account_id}"
    assert api.client.get(overview).status_code == 200
    api.ledger.revoke_manage_billing(STAFF, api.acme.account_id, "cara")
    refused = api.client.get(overview)
    assert refused.status_code == 403
    assert "Ask an administrator" in refused.text
    assert "Ada" in refused.text  # who to ask


def test_a_user_without_manage_billing_is_told_whom_to_ask(api: Api) -> None:
    sign_in(api, "ben", lands=403)
    for tail in ("", "/invoices", "/billing", "/users"):
        answer = api.client.get(f"/app/accounts/{api.acme.account_id}{tail}")
        assert answer.status_code == 403
        assert "Ask an administrator" in answer.text
        assert "Bill Payer" not in answer.text and "sales-cloud" not in answer.text


def test_another_account_answers_as_a_missing_one(api: Api) -> None:
    sign_in(api)
    other = api.client.get(f"/app/accounts/{api.other.account_id}")
    missing = api.client.get("/app/accounts/00000000-0000-0000-0000-000000000000")
    assert other.status_code == missing.status_code == 404
    assert "Other" not in other.text


def test_a_customers_role_is_the_one_the_account_gives(api: Api) -> None:
    for user, role in (("ada", Role.ADMIN), ("ben", Role.USER), ("cara", Role.IDENTITY)):
        link = link_for(api, api.acme.account_id, user)
        session = _session_of(api, link)
        assert session.role is role and session.user_id == user


def _session_of(api: Api, link: str) -> PortalSession:
    from service.web.sign_in_links import SignInLinks

    return SignInLinks(api.ledger).find(link.rsplit("/", 1)[1])


# -- making links over the API --------------------------------------------------------


def test_staff_and_operators_make_links_that_sign_in(api: Api) -> None:
    body = {"account_id": str(api.acme.account_id), "user_id": "cara"}
    made = api.wrote(api.post("/v1/portal-sessions", "billing_staff", json=body), 201)
    assert made["role"] == "identity"
    # Built from the configured public URL (its default here), never the request's Host.
    assert made["url"].startswith("http://127.0.0.1:8000/app/sign-in/si_")
    path = made["url"].removeprefix("http://127.0.0.1:8000")
    api.client.get(path)
    assert api.client.post(path).status_code == 200
    staff_link = api.wrote(
        api.post("/v1/portal-sessions", "operator", json={"role": "auditor"}), 201
    )
    assert staff_link["role"] == "auditor" and staff_link["account_id"] is None


@pytest.mark.parametrize(
    ("who", "body", "status"),
    [
        ("billing_staff", {"role": "billing_staff"}, 403),  # staff sign in customers only
        ("operator", {"role": "operator"}, 422),  # no pages for operators
        ("operator", {"role": "admin"}, 422),  # a customer's link names its user
        ("operator", {"account_id": "{acme}", "user_id": "nobody"}, 404),
        ("operator", {"account_id": "{acme}", "user_id": "ada", "role": "admin"}, 422),
        ("operator", {"role": "auditor", "expires_in_minutes": 1441}, 422),
        ("admin", {"account_id": "{acme}", "user_id": "ada"}, 403),
    ],
)
def test_links_are_refused_for_whom_they_may_not_sign_in(
    api: Api, who: str, body: dict[str, object], status: int
) -> None:
    sent = {k: str(api.acme.account_id) if v == "{acme}" else v for k, v in body.items()}
    api.refused(status, "POST", "/v1/portal-sessions", who, json=sent)
