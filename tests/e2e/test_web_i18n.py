"""French and English: every message of every page is translated, no text escapes
gettext, money, numbers and dates follow the page's locale, and the language comes
from the visitor's choice, else the browser's.

Rendering every page is done on SQLite only: which words a page uses does not depend on
the store (the pages' behaviour is tested on both, in test_web_actions.py)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from adapters.clock import ControllableClock
from adapters.payments import FakePaymentProvider
from adapters.store import StoreSettings
from service.access.tokens import Role
from service.http.app import create_app
from service.ledger.application import Ledger
from service.reads.read_side import ReadSide
from service.web import i18n
from service.web.templating import ENVIRONMENT, TEMPLATES
from tests.conftest import T0
from tests.e2e.conftest import Api, seed_ledger
from tests.e2e.web import Visitor, link_for, sign_in

# -- the catalog ------------------------------------------------------------------------


def _translated(message: Any) -> bool:
    strings = message.string if isinstance(message.string, tuple) else (message.string,)
    return all(s.strip() for s in strings)


def test_every_marked_message_has_a_french_translation() -> None:
    extracted = {m.id for m in i18n.extract() if m.id}
    french = {m.id: m for m in i18n.read_catalog("fr") if m.id}
    assert extracted - set(french) == set(), "run `make messages` and translate"
    assert set(french) - extracted == set(), "the catalog has messages no page uses"
    untranslated = [m.id for m in french.values() if not _translated(m) or m.fuzzy]
    assert untranslated == []


def test_translations_keep_every_placeholder() -> None:
    for message in i18n.read_catalog("fr"):
        if not message.id:
            continue
        ids = message.id if isinstance(message.id, tuple) else (message.id,)
        strings = message.string if isinstance(message.string, tuple) else (message.string,)
        wanted = set(re.findall(r"%\(\w+\)s", ids[-1]))
        for string in strings:
            found = set(re.findall(r"%\(\w+\)s", string))
            # a French singular may leave the count out ("1 jour" needs it, "fois" too)
            assert found <= wanted and (wanted - {"%(count)s"}) <= found, (ids, string)


def _template_text(source: str) -> str:
    """The template's literal text: everything Jinja would print verbatim, with any
    expression, tag and ``{% trans %}`` block blanked out."""
    out: list[str] = []
    in_trans = False
    tokens = [t for t in ENVIRONMENT.lex(source) if t[1] != "whitespace"]
    for n, (_, kind, value) in enumerate(tokens):
        if kind == "name" and value in ("trans", "endtrans") and tokens[n - 1][1] == "block_begin":
            in_trans = value == "trans"
        if kind == "data" and not in_trans:
            out.append(value)
        else:
            out.append("\x00")
    return "".join(out)


TEXT_ATTRIBUTES = r"(?:aria-label|title|alt|placeholder|data-label|data-copied|content)"


@pytest.mark.parametrize("template", sorted(p.name for p in TEMPLATES.rglob("*.html")))
def test_no_template_text_escapes_gettext(template: str) -> None:
    path = next(TEMPLATES.rglob(template))
    text = _template_text(path.read_text())
    attributes = re.findall(TEXT_ATTRIBUTES + r'="([^"\x00]*[A-Za-z][^"\x00]*)"', text)
    attributes = [a for a in attributes if not a.startswith(("width=", "same-origin"))]
    assert attributes == [], f"{template}: attribute text outside gettext"
    visible = re.sub(r"<!--.*?-->|<[^>]*>|&\w+;", " ", text, flags=re.S)
    assert re.findall(r"[A-Za-z]{2,}", visible) == [], f"{template}: text outside gettext"


# -- every page, rendered in French ------------------------------------------------------


class Recorder:
    """The translations of a language, noting every message a page looked up."""

    def __init__(self, language: str) -> None:
        self.real = i18n.translations.__wrapped__(language)  # type: ignore[attr-defined]
        self.used: set[str] = set()

    def gettext(self, message: str) -> str:
        self.used.add(message)
        return str(self.real.gettext(message))

    def ngettext(self, singular: str, plural: str, n: int) -> str:
        self.used.add(singular)
        return str(self.real.ngettext(singular, plural, n))


@pytest.fixture
def sqlite_api(tmp_path: Path) -> Iterator[Api]:
    store = StoreSettings(sqlite_path=str(tmp_path / "ledger.db"))
    store.prepare()
    ledger = Ledger(
        env=store.eventsourcing_env(),
        clock=ControllableClock(T0),
        payment_provider=FakePaymentProvider(),
    )
    seed = seed_ledger(ledger)
    with TestClient(create_app(ReadSide(store, ledger))) as client:
        yield Api(client, ledger, seed)
    ledger.close()


def every_page(api: Api) -> Iterator[str]:
    """Sign in, and visit every page (and its states: a review, a refusal, a notice)."""
    acct = f"/app/accounts/{api.acme.account_id}"
    contract = f"{acct}/contracts/{api.acme.subscription_id}"
    invoice = f"{acct}/invoices/{api.acme.invoice_id}"
    link = link_for(api, api.acme.account_id, "ada")
    visitor = Visitor(api, api.client)
    yield visitor.get(link).text
    yield visitor.submit(link).text
    for path in (contract, f"{contract}/products", f"{contract}/renewal", f"{acct}/invoices"):
        yield visitor.get(path).text
    for path in (f"{acct}/billing", f"{acct}/users", f"{acct}/upgrade", f"{acct}/support"):
        yield visitor.get(path).text
    visitor.get(f"{contract}/licenses")
    yield visitor.page.text  # type: ignore[union-attr]
    yield visitor.submit("/licenses", quantity="2").text  # the review
    yield visitor.submit("/licenses").text  # the notice
    visitor.get(f"{contract}/licenses")
    yield visitor.submit("/licenses", quantity="0").text  # a refusal
    visitor.get(invoice)
    yield visitor.submit("/share-links").text
    yield visitor.submit("/payments", how="part", amount="999999").text
    yield visitor.submit("/payments", payment_method="pm_card_declined").text
    yield visitor.get(f"{acct}/invoices?status=overdue").text
    yield visitor.get(f"/app/accounts/{api.other.account_id}").text  # not found
    yield visitor.submit("/app/sign-out").text
    yield visitor.get("/app/").text  # signed out
    sign_in(api, "ben", lands=403)
    yield api.client.get(acct).text  # ask an administrator
    staff = link_for(api, role=Role.BILLING_STAFF)
    visitor.get(staff)
    yield visitor.submit(staff).text


def test_every_page_in_french_shows_only_translated_messages(
    sqlite_api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    recorder = Recorder("fr")
    monkeypatch.setattr(i18n, "translations", lambda language: recorder)
    sqlite_api.client.cookies.set(i18n.LANGUAGE_COOKIE, "fr")
    pages = list(every_page(sqlite_api))
    assert all('<html lang="fr">' in page for page in pages)
    french = {m.id if isinstance(m.id, str) else m.id[0]: m for m in i18n.read_catalog("fr")}
    missing = sorted(m for m in recorder.used if m not in french or not _translated(french[m]))
    assert missing == []
    assert len(recorder.used) > 150, "the pages should use most of the catalog"


# -- locale formatting and the choice of language ---------------------------------------


def test_money_numbers_and_dates_follow_the_locale() -> None:
    euros = {"amount": "1234.56", "currency": "EUR"}
    assert i18n.money(euros, "fr") == "1\u202f234,56\u00a0€"
    assert i18n.money(euros, "en") == "€1,234.56"
    assert i18n.number(12345, "fr") == "12\u202f345"
    assert i18n.day("2026-03-31", "fr", "long") == "31 mars 2026"
    assert i18n.day("2026-03-31", "en", "long") == "March 31, 2026"


def test_pages_format_amounts_for_their_language(sqlite_api: Api) -> None:
    sign_in(sqlite_api)
    invoice = f"/app/accounts/{sqlite_api.acme.account_id}/invoices/{sqlite_api.acme.invoice_id}"
    total = sqlite_api.ledger.invoice(sqlite_api.acme.invoice_id).total
    english = sqlite_api.client.get(invoice, headers={"Accept-Language": "en-GB"}).text
    french = sqlite_api.client.get(invoice, headers={"Accept-Language": "fr-FR,fr;q=0.9"}).text
    assert i18n.money(total, "en") in english and "Balance due" in english
    assert i18n.money(total, "fr") in french and "Solde dû" in french


@pytest.mark.parametrize(
    ("cookie", "header", "language"),
    [
        (None, "fr-CA,fr;q=0.9,en;q=0.5", "fr"),
        (None, "de-DE, en;q=0.1", "en"),
        (None, "en;q=0.2, fr;q=0.8", "fr"),
        (None, None, "en"),
        ("en", "fr", "en"),
        ("xx", "fr", "fr"),
    ],
)
def test_the_language_is_the_visitors_choice_else_the_browsers(
    cookie: str | None, header: str | None, language: str
) -> None:
    assert i18n.negotiate(cookie, header) == language


def test_the_switcher_sets_a_cookie_and_returns_only_to_this_app(sqlite_api: Api) -> None:
    client = sqlite_api.client
    back = client.get("/app/language?to=fr&next=/app/signed-out", follow_redirects=False)
    assert back.status_code == 303 and back.headers["location"] == "/app/signed-out"
    assert "subledger_lang=fr" in back.headers["set-cookie"]
    assert '<html lang="fr">' in client.get("/app/signed-out").text
    for elsewhere in ("https://evil.example/", "//evil.example/app/", "/v1/tokens"):
        away = client.get(f"/app/language?to=en&next={elsewhere}", follow_redirects=False)
        assert away.headers["location"] == "/app/"


def test_pages_carry_a_strict_policy_and_no_inline_code(sqlite_api: Api) -> None:
    pages = []
    visitor = sign_in(sqlite_api)
    for tail in ("", "/invoices", "/billing", "/users", "/support"):
        answer = visitor.get(f"/app/accounts/{sqlite_api.acme.account_id}{tail}")
        policy = answer.headers["content-security-policy"]
        assert "script-src 'self'" in policy and "unsafe-inline" not in policy
        assert "frame-ancestors 'none'" in policy and "form-action 'self'" in policy
        assert answer.headers["x-frame-options"] == "DENY"
        assert answer.headers["cache-control"] == "no-store"
        pages.append(answer.text)
    for page in pages:
        assert re.findall(r"<script(?![^>]*\bsrc=)[^>]*>", page) == []
        assert re.findall(r"\sstyle=|\son[a-z]+=", page) == []
        assert '<main id="main"' in page and 'class="skip-link" href="#main"' in page
