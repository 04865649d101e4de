"""Share links over HTTP: create (shown once), open without logging in, openings recorded
(at most one an hour per link, with the count of those in between) and visible to the
account's admins and auditors a page at a time, openings limited per link and per
address, expiry by the clock, revoke."""

from __future__ import annotations

import io
from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit

from pypdf import PdfReader

from adapters.clock import ControllableClock
from tests.e2e.conftest import Api, assert_problem

T_PLUS_7D = "2026-01-12T09:00:00Z"


def links_path(api: Api) -> str:
    return f"/v1/invoices/{api.acme.invoice_id}/share-links"


def share(api: Api, who: str = "admin", **body: Any) -> dict[str, Any]:
    return api.wrote(api.post(links_path(api), who, json=body), 201)


def test_a_link_is_shown_once_and_stored_only_as_a_hash(api: Api) -> None:
    link = share(api)
    path = urlsplit(link["url"]).path
    token = path.rsplit("/", 1)[1]
    assert path == f"/v1/shared/invoices/{token}" and token.startswith("sh_")
    assert (link["status"], link["opened"], link["revoked_at"]) == ("live", 0, None)
    assert link["expires_at"] == T_PLUS_7D
    stored = b"".join(n.state for n in api.ledger.recorder.select_notifications(1, 10_000))
    assert token.encode() not in stored
    (listed,) = api.get(links_path(api), "admin").json()
    assert "url" not in listed and listed["id"] == link["id"]


def test_a_link_lasts_seven_days_unless_asked_and_at_most_thirty(api: Api) -> None:
    assert share(api, expires_in_days=30)["expires_at"] == "2026-02-04T09:00:00Z"
    for days in (0, 31):
        api.refused(422, "POST", links_path(api), "admin", json={"expires_in_days": days})
    assert api.wrote(api.post(links_path(api), "admin"), 201)["expires_at"] == T_PLUS_7D


def test_anyone_with_the_link_sees_the_summary_and_the_pdf_and_each_opening_is_recorded(
    api: Api,
) -> None:
    link = share(api)
    page = api.client.get(link["url"])  # no token
    assert page.status_code == 200, page.text
    assert page.headers["content-type"].startswith("text/html")
    for header, value in {
        "cache-control": "no-store",
        "referrer-policy": "no-referrer",
        "x-robots-tag": "noindex",
    }.items():
        assert page.headers[header] == value
    assert "default-src 'none'" in page.headers["content-security-policy"]
    number = api.ledger.invoice(api.acme.invoice_id).number
    assert number in page.text and "Acme Inc" in page.text and "1,500.00" in page.text
    pdf_href = f"{urlsplit(link['url']).path}/pdf"
    assert f'href="{pdf_href}"' in page.text

    pdf = api.client.get(pdf_href)
    assert pdf.headers["content-type"] == "application/pdf"
    assert pdf.headers["referrer-policy"] == "no-referrer"
    assert f"Invoice {number}" in PdfReader(io.BytesIO(pdf.content)).pages[0].extract_text()
    assert pdf.content == api.get(f"/v1/invoices/{api.acme.invoice_id}/pdf", "admin").content

    (listed,) = api.get(links_path(api), "auditor").json()
    assert (listed["opened"], listed["last_opened_at"]) == (1, "2026-01-05T09:00:00Z")
    openings = api.get(f"{links_path(api)}/{link['id']}/openings", "auditor").json()
    assert openings == {
        "openings": [
            {
                "at": "2026-01-05T09:00:00Z",
                "client_address": "testclient",
                "document": "summary",
                "count": 1,
            }
        ],
        "next_after": None,
    }  # the PDF, opened in the same hour, waits for the link's next recorded opening


def test_openings_are_in_the_account_history_for_admins_and_auditors(api: Api) -> None:
    link = share(api)
    api.client.get(link["url"]).raise_for_status()
    history = f"/v1/accounts/{api.acme.account_id}/history"
    query = {"event_type": "ShareLink.ShareLinkAccessed"}
    for who in ("admin", "auditor"):
        (event,) = api.get(history, who, params=query).json()["events"]
        assert (event["actor"], event["role"]) == ("anonymous", "anonymous")
        assert event["payload"]["client_address"] == "testclient"
        assert event["aggregate_id"] == link["id"]
    audit = api.get("/v1/audit/events", "auditor", params={**query, "account": api.acme.account_id})
    assert len(audit.json()["events"]) == 1
    api.refused(404, "GET", history, "other_admin", params=query)


def test_an_expired_link_answers_404_and_records_nothing(
    api: Api, clock: ControllableClock
) -> None:
    link = share(api, expires_in_days=1)
    clock.advance(timedelta(days=1) - timedelta(seconds=1))
    api.client.get(link["url"]).raise_for_status()
    clock.advance(timedelta(seconds=1))
    before = api.head
    for url in (link["url"], f"{link['url']}/pdf"):
        assert_problem(api.client.get(url), 404)
    assert api.head == before
    (listed,) = api.get(links_path(api), "admin").json()
    assert (listed["status"], listed["opened"]) == ("expired", 1)


def test_a_revoked_link_answers_404_like_an_unknown_one(api: Api) -> None:
    link = share(api)
    revoke = f"{links_path(api)}/{link['id']}"
    api.refused(403, "DELETE", revoke, "user")
    api.refused(
        404,
        "DELETE",
        revoke.replace(str(api.acme.invoice_id), str(api.other.invoice_id)),
        "other_admin",
    )
    revoked = api.wrote(api.delete(revoke, "identity"))
    assert revoked["status"] == "revoked" and revoked["revoked_at"] == "2026-01-05T09:00:00Z"
    gone = api.client.get(link["url"])
    unknown = api.client.get(link["url"][:-4] + "AAAA")
    malformed = api.client.get(f"{link['url'].rsplit('/', 1)[0]}/not-a-token")
    for response in (gone, unknown, malformed):
        assert_problem(response, 404)
        assert response.json()["detail"] == "no such shared invoice"
    api.refused(404, "DELETE", revoke, "admin")


def test_sharing_keeps_to_the_access_rules(api: Api) -> None:
    api.refused(404, "POST", links_path(api), "other_admin", json={})
    assert api.refused(403, "POST", links_path(api), "user", json={})["permission"] == (
        "manage_billing"
    )
    api.refused(403, "POST", links_path(api), "auditor", json={})
    api.refused(401, "POST", links_path(api), json={})
    api.refused(404, "GET", links_path(api), "other_admin")


def test_a_retried_creation_creates_nothing_and_cannot_show_the_link_again(api: Api) -> None:
    key = {"Idempotency-Key": "share-1"}
    share_once = api.post(links_path(api), "admin", json={}, headers=key)
    api.wrote(share_once, 201)
    problem = api.refused(409, "POST", links_path(api), "admin", json={}, headers=key)
    assert problem["type"] == "/problems/share-link-already-created"
    assert share_once.json()["id"] in problem["detail"]
    assert len(api.get(links_path(api), "admin").json()) == 1


def test_the_page_escapes_what_the_customer_wrote(api: Api) -> None:
    name = '<script>alert("x")</script> & Co'
    api.patch(
        f"/v1/accounts/{api.acme.account_id}/billing-details", "admin", json={"legal_name": name}
    ).raise_for_status()
    api.post(
        f"/v1/accounts/{api.acme.account_id}/subscriptions",
        "admin",
        json={"lines": [{"product_code": "service-cloud", "quantity": 1}]},
    ).raise_for_status()
    (newest, *_) = reversed(api.get(f"/v1/accounts/{api.acme.account_id}/invoices", "admin").json())
    created = api.post(f"/v1/invoices/{newest['id']}/share-links", "admin", json={})
    page = api.client.get(api.wrote(created, 201)["url"]).text
    assert "<script>" not in page
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; Co" in page


def test_an_anonymous_visitor_cannot_grow_the_log(api: Api, clock: ControllableClock) -> None:
    """One recorded opening an hour per link, whatever the number of requests; the count
    of those in between is carried by the next."""
    link = share(api)
    path = urlsplit(link["url"]).path
    before = api.head
    for _ in range(25):
        api.client.get(path).raise_for_status()
    assert api.head == before + 1  # 25 openings, one event
    clock.advance(timedelta(hours=1))
    api.client.get(f"{path}/pdf").raise_for_status()
    assert api.head == before + 2
    page = api.get(f"{links_path(api)}/{link['id']}/openings", "admin").json()
    assert [(o["document"], o["count"]) for o in page["openings"]] == [
        ("summary", 1),
        ("pdf", 25),  # itself and the 24 openings not recorded one by one
    ]
    (listed,) = api.get(links_path(api), "admin").json()
    assert listed["opened"] == 26


def test_too_many_openings_of_a_link_or_from_an_address_are_refused_with_429(
    api: Api, clock: ControllableClock
) -> None:
    link, other = share(api), share(api)
    for _ in range(30):
        api.client.get(urlsplit(link["url"]).path).raise_for_status()
    before = api.head
    refused = api.client.get(link["url"])
    problem = assert_problem(refused, 429)
    assert problem["type"] == "/problems/too-many-openings"
    assert int(refused.headers["retry-after"]) > 0
    assert refused.headers["cache-control"] == "no-store"
    # the same address on another link: its limit too is reached
    assert_problem(api.client.get(other["url"]), 429)
    assert api.head == before
    clock.advance(timedelta(minutes=10))
    api.client.get(link["url"]).raise_for_status()


def test_a_links_openings_are_listed_a_page_at_a_time(api: Api, clock: ControllableClock) -> None:
    link = share(api, expires_in_days=2)
    for _ in range(5):
        api.client.get(link["url"]).raise_for_status()
        clock.advance(timedelta(hours=1))
    path = f"{links_path(api)}/{link['id']}/openings"
    seen, after = [], 0
    while after is not None:
        page = api.get(path, "admin", params={"after": after, "limit": 2}).json()
        assert len(page["openings"]) <= 2
        seen += page["openings"]
        after = page["next_after"]
    assert len(seen) == 5 and [o["at"] for o in seen] == sorted(o["at"] for o in seen)
    api.refused(422, "GET", path, "admin", params={"limit": 501})
    api.refused(404, "GET", path, "other_admin")
    api.refused(403, "GET", path, "user")
