"""Rendering a page: the template, the context every page has, the headers."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from fastapi.responses import HTMLResponse, RedirectResponse

from service.access.tokens import CUSTOMER_ROLES
from service.http.access import Access
from service.ledger.application import Receipt
from service.web import i18n
from service.web.deps import Visit
from service.web.i18n import N_
from service.web.templating import render

# The console's pages, for staff and auditors: (path, label, access level)
CONSOLE = (
    ("/", N_("Accounts"), Access.ACCOUNT_READ),
    ("/book", N_("Book report"), Access.REPORTS),
    ("/test-clock", N_("Test clock"), Access.CLOCK_CONTROL),
)

# Pages show account data: never cached, by the browser or anything between.
NO_STORE = {"Cache-Control": "no-store"}


def page(
    current: Visit,
    template: str,
    status: int = 200,
    headers: dict[str, str] | None = None,
    **context: Any,
) -> HTMLResponse:
    request = current.request
    base = {
        "language": current.language,
        "languages": i18n.LANGUAGE_NAMES,
        "translations": current.translations,
        "principal": current.principal,
        "csrf": current.csrf,
        "here": request.url.path + (f"?{request.url.query}" if request.url.query else ""),
        "root": request.scope.get("root_path", ""),
        "notice": i18n.notice(request.query_params.get("notice")),
        "refusal": None,
        "labels": i18n.LABELS,
        "console": _console(current),
    }
    html = render(template, {**base, **context})
    return HTMLResponse(html, status_code=status, headers={**NO_STORE, **(headers or {})})


def done(
    current: Visit, path: str, notice: str, receipt: Receipt | None = None
) -> RedirectResponse:
    """After a change: back to a page (Post/Redirect/Get), which waits until the read
    models show the change (``min_position``) and says what was done."""
    query: dict[str, str] = {"notice": notice}
    if receipt is not None:
        position = receipt.position or current.ledger.head_position()
        query["min_position"] = str(position)
    root = current.request.scope.get("root_path", "")
    return RedirectResponse(f"{root}{path}?{urlencode(query)}", status_code=303)


def _console(current: Visit) -> list[tuple[str, str]]:
    """The console's links this visitor may follow (none for customers)."""
    principal = current.principal
    if principal is None or principal.role in CUSTOMER_ROLES:
        return []
    root = current.request.scope.get("root_path", "")
    return [(root + path, label) for path, label, level in CONSOLE if current.may(level)]
