"""The catalog: products and their prices per edition and billing period."""

from __future__ import annotations

from datetime import date

from pydantic import BaseModel

from domain.catalog import Edition, ProductKind
from domain.period import BillingPeriod
from service.http.schemas.common import MoneyOut


class PriceOut(BaseModel):
    edition: Edition
    billing_period: BillingPeriod
    unit_price: MoneyOut


class ProductOut(BaseModel):
    code: str
    name: str
    kind: ProductKind
    unit: str
    per_seat: bool
    editions: list[Edition]
    prices: list[PriceOut]


class CatalogOut(BaseModel):
    prices_on: date
    editions: list[Edition]
    products: list[ProductOut]
    free_identity_licenses: int
