"""A refusal as a page shows it: the problem's title and detail, in the page's language.

The status is the API's (``service/http/problems.py``), so a form refused here is refused
there with the same status. Refusals whose exception carries its values get a sentence
of their own in each language; any other detail is shown as the ledger wrote it, marked
as English (``lang="en"``) so that a screen reader reads it as such.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from domain import catalog
from domain import errors as domain
from domain.payment_provider import PaymentProviderUnavailable
from service.http.problems import ApiError, status_of
from service.web.i18n import N_

TITLES = {
    400: N_("This cannot be read"),
    402: N_("Payment declined"),
    403: N_("Not allowed"),
    404: N_("Not found"),
    409: N_("Refused"),
    412: N_("Changed in the meantime"),
    422: N_("Please check what you entered"),
    503: N_("Temporarily unavailable"),
}


def _none(error: Exception) -> dict[str, object]:
    return {}


# code -> (message, the exception's values it names)
DETAILS: dict[str, tuple[str, Callable[[Exception], dict[str, object]]]] = {
    "quantity-not-positive": (N_("The quantity must be a whole number above zero."), _none),
    "identity-license-limit-reached": (
        N_(
            "All %(limit)s free identity licenses of this account are assigned: "
            "release one before assigning another."
        ),
        lambda e: {"limit": getattr(e, "limit", 100)},
    ),
    "seats-exhausted": (
        N_("All %(held)s seats of %(product)s are assigned: add licenses first."),
        lambda e: {"held": getattr(e, "held", ""), "product": _product(e)},
    ),
    "product-not-in-edition": (
        N_("%(product)s is not sold in the %(edition)s edition."),
        lambda e: {"product": _product(e), "edition": getattr(e, "edition", "")},
    ),
    "upgrade-not-higher": (N_("Choose an edition higher than the one you have."), _none),
    "payment-exceeds-balance": (N_("The amount is more than the balance due."), _none),
    "idempotency-key-reused": (
        N_("This form was already sent with other values. Reload the page and try again."),
        _none,
    ),
    "concurrency-conflict": (
        N_("Someone changed this at the same moment. Reload the page and try again."),
        _none,
    ),
    "precondition-failed": (N_("This changed since you opened the page. Reload it."), _none),
    "price-changed": (
        N_(
            "The invoice changed since you reviewed it, so nothing was bought. "
            "Here is the invoice as it now stands: confirm again if it suits you."
        ),
        _none,
    ),
    "sign-in-link-not-usable": (
        N_("This sign-in link is unknown, has expired or was already used. Ask for a new one."),
        _none,
    ),
    "read-models-behind": (
        N_("The pages are catching up with a change. Reload in a moment."),
        _none,
    ),
    "payment-provider-unavailable": (
        N_("The payment provider cannot be reached; nothing was charged. Try again shortly."),
        _none,
    ),
    "forbidden": (
        N_("This needs the Manage Billing permission. Ask an administrator of your account."),
        _none,
    ),
    "csrf": (N_("This form has expired. Reload the page and send it again."), _none),
    "card-number-refused": (
        N_(
            "This looks like a card number. Card numbers are never kept here: give the "
            "token your payment provider gave instead."
        ),
        _none,
    ),
    "not-a-payment-method-token": (
        N_("A payment method is the token your payment provider gave, such as pm_card_visa."),
        _none,
    ),
    "payment-method-not-on-account": (
        N_("This payment method is not saved on the account: save it first."),
        _none,
    ),
    "unsafe-text": (
        N_("The text holds characters that cannot be kept, or is too long."),
        _none,
    ),
}


def _product(error: Exception) -> str:
    code = str(getattr(error, "product_code", ""))
    return catalog.PRODUCTS[code].name if code in catalog.PRODUCTS else code


@dataclass(frozen=True)
class Refusal:
    status: int
    code: str
    title: str  # a msgid: translated where it is shown
    detail: str  # a msgid when ``values`` is not None, else the ledger's own words
    values: dict[str, object] | None

    @property
    def translated(self) -> bool:
        return self.values is not None


def refusal(status: int, code: str, detail: str) -> Refusal:
    """A refusal from its parts (a detail without a sentence of its own is shown as is)."""
    sentence = DETAILS.get(code)
    if sentence is None:
        return Refusal(status, code, TITLES.get(status, TITLES[409]), detail, None)
    return Refusal(status, code, TITLES.get(status, TITLES[409]), sentence[0], {})


def refusal_of(error: Exception) -> Refusal:
    if isinstance(error, PaymentProviderUnavailable):
        code = "payment-provider-unavailable"
        return Refusal(503, code, TITLES[503], DETAILS[code][0], {})
    if isinstance(error, ApiError):
        return refusal(error.status, error.code, error.detail)
    assert isinstance(error, domain.DomainError)
    status, _ = status_of(type(error))
    sentence = DETAILS.get(error.code)
    if sentence is None:
        return Refusal(status, error.code, TITLES.get(status, TITLES[409]), str(error), None)
    message, values = sentence
    return Refusal(status, error.code, TITLES.get(status, TITLES[409]), message, values(error))
