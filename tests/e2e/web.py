"""Helpers for the web app's tests over HTTP: signing in with a link, reading and posting
the forms of a page as a browser with JavaScript off would."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from html.parser import HTMLParser
from typing import Any
from uuid import UUID

import httpx
from fastapi.testclient import TestClient

from service.access.tokens import Role
from service.ledger.context import CommandContext
from service.web.sign_in_links import SignInLinks
from tests.e2e.conftest import Api

OPERATOR = CommandContext("web-test-operator", "operator")


@dataclass
class Form:
    action: str
    fields: dict[str, str] = field(default_factory=dict)
    buttons: list[str] = field(default_factory=list)


class Forms(HTMLParser):
    """The page's forms with the values a browser would send (hidden fields, defaults,
    checked radios, selected options, textarea text)."""

    def __init__(self) -> None:
        super().__init__()
        self.forms: list[Form] = []
        self._select: str | None = None
        self._textarea: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "form" and a.get("method", "get").lower() == "post":
            self.forms.append(Form(a.get("action", "")))
        if not self.forms:
            return
        form = self.forms[-1]
        if tag == "input" and "name" in a:
            kind = a.get("type", "text")
            if kind in ("radio", "checkbox") and "checked" not in a:
                return
            form.fields[a["name"]] = a.get("value", "")
        elif tag == "select":
            self._select = a.get("name")
        elif tag == "option" and self._select:
            if "selected" in a or self._select not in form.fields:
                form.fields[self._select] = a.get("value", "")
        elif tag == "textarea":
            self._textarea = a.get("name")
            form.fields[self._textarea or ""] = ""
        elif tag == "button":
            form.buttons.append(a.get("type", "submit"))

    def handle_endtag(self, tag: str) -> None:
        if tag == "select":
            self._select = None
        if tag == "textarea":
            self._textarea = None

    def handle_data(self, data: str) -> None:
        if self._textarea and self.forms:
            self.forms[-1].fields[self._textarea] += data


def forms_of(html: str) -> list[Form]:
    parser = Forms()
    parser.feed(html)
    return parser.forms


class Visitor:
    """A browser without JavaScript: a cookie jar, pages, and forms sent from pages."""

    def __init__(self, api: Api, client: TestClient) -> None:
        self.api = api
        self.client = client
        self.page: httpx.Response | None = None
        self.url = ""

    def get(self, path: str, **kwargs: Any) -> httpx.Response:
        self.page = self.client.get(path, **kwargs)
        self.url = str(self.page.url.path)
        return self.page

    def form(self, action_ends: str) -> Form:
        assert self.page is not None
        found = [
            f for f in forms_of(self.page.text) if (f.action or self.url).endswith(action_ends)
        ]
        assert found, f"no form posting to ...{action_ends} on {self.url}"
        return found[0]

    def submit(self, action_ends: str, **values: str) -> httpx.Response:
        """Fill a form of the current page and send it; the answer becomes the page."""
        chosen = self.form(action_ends)
        target = chosen.action or self.url
        self.page = self.client.post(target, data={**chosen.fields, **values})
        self.url = str(self.page.url.path)
        return self.page


def link_for(
    api: Api, account_id: UUID | None = None, user: str | None = None, role: Role | None = None
) -> str:
    links = SignInLinks(api.ledger, api.client.app.state.real_time)
    issued = links.issue(OPERATOR, Role.OPERATOR, role, account_id, user)
    return f"/app/sign-in/{issued.token}"


def sign_in(
    api: Api,
    user: str = "ada",
    account: str = "acme",
    client: TestClient | None = None,
    lands: int = 200,
) -> Visitor:
    """A visitor signed in as a user of a seeded account (the API's client by default),
    on the page sign-in leads to (answered with ``lands``)."""
    visitor = Visitor(api, client or api.client)
    tenant = api.acme if account == "acme" else api.other
    link = link_for(api, tenant.account_id, user)
    visitor.get(link)
    visitor.submit(link)
    assert visitor.page is not None and visitor.page.status_code == lands, visitor.page.text
    return visitor


def new_client(api: Api) -> Iterator[TestClient]:
    with TestClient(api.client.app) as client:
        yield client
