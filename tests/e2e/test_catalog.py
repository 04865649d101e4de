"""The catalog over HTTP: products, add-ons, editions and prices per currency, by date."""

from __future__ import annotations

from tests.e2e.conftest import Api


def _price(catalog: dict, code: str, edition: str, period: str) -> str:
    (product,) = [p for p in catalog["products"] if p["code"] == code]
    (price,) = [
        p["unit_price"]
        for p in product["prices"]
        if (p["edition"], p["billing_period"]) == (edition, period)
    ]
    return str(price["amount"])


def test_every_role_reads_the_catalog(api: Api) -> None:
    for who in ("admin", "user", "identity", "billing_staff", "auditor", "operator"):
        response = api.get("/v1/catalog/products", who)
        assert response.status_code == 200, who
    catalog = response.json()
    assert catalog["editions"] == ["Essentials", "Professional", "Enterprise"]
    assert catalog["free_identity_licenses"] == 100
    kinds = {p["code"]: p["kind"] for p in catalog["products"]}
    assert kinds["sales-cloud"] == "product" and kinds["lightning-dialer"] == "add-on"


def test_prices_are_per_currency_and_versioned_by_date(api: Api) -> None:
    before = api.get("/v1/catalog/products?on=2026-07-31", "admin").json()
    after = api.get("/v1/catalog/products?on=2026-08-01", "admin").json()
    assert _price(before, "sales-cloud", "Professional", "monthly") == "80.00"
    assert _price(after, "sales-cloud", "Professional", "monthly") == "100.00"
    euros = api.get("/v1/catalog/products?currency=EUR&on=2026-07-31", "admin").json()
    assert _price(euros, "sales-cloud", "Professional", "annual") == "883.20"


def test_a_catalog_query_needs_a_token_and_valid_parameters(api: Api) -> None:
    api.refused(401, "GET", "/v1/catalog/products")
    api.refused(422, "GET", "/v1/catalog/products?currency=usd", "admin")
    api.refused(422, "GET", "/v1/catalog/products?on=someday", "admin")
