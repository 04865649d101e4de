"""The catalog: products, add-ons, editions and prices per currency."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from domain import catalog
from domain.catalog import Edition
from domain.period import BillingPeriod
from service.http.access import Access, access_extra, require
from service.http.deps import LedgerDep, PrincipalDep
from service.http.problems import PROBLEM_RESPONSES
from service.http.schemas.catalog import CatalogOut, PriceOut, ProductOut
from service.http.schemas.common import Day, MoneyOut, known_currency

router = APIRouter(prefix="/v1/catalog", tags=["catalog"], responses=PROBLEM_RESPONSES)


@router.get("/products", openapi_extra=access_extra(Access.CATALOG), summary="Products and prices")
def list_products(
    ledger: LedgerDep,
    principal: PrincipalDep,
    currency: Annotated[str, Query(pattern=r"^[A-Z]{3}$")] = "USD",
    on: Annotated[Day | None, Query(description="Prices in force on this day")] = None,
) -> CatalogOut:
    require(principal, Access.CATALOG)
    known_currency(currency)
    day = on or ledger.clock.now().date()
    version = catalog.price_version(day)
    products = []
    for product in catalog.PRODUCTS.values():
        prices = [
            PriceOut(
                edition=edition,
                billing_period=period,
                unit_price=MoneyOut.of(
                    catalog.unit_price(product.code, edition, currency, period, day)
                ),
            )
            for edition in Edition
            if edition in product.editions and (product.code, edition, currency) in version.monthly
            for period in BillingPeriod
        ]
        products.append(
            ProductOut(
                code=product.code,
                name=product.name,
                kind=product.kind,
                unit=product.unit,
                per_seat=product.per_seat,
                editions=sorted(product.editions, key=lambda e: e.rank),
                prices=prices,
            )
        )
    return CatalogOut(
        prices_on=day,
        editions=list(Edition),
        products=products,
        free_identity_licenses=catalog.FREE_IDENTITY_LICENSES,
    )
